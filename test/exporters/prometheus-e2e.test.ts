// End to end with Debian's real Prometheus: two perfprobe servers on free
// loopback ports, scraped every 1 s; Prometheus's HTTP API must return
// exactly the values each perfprobe recorded, and `sum by (operation)`
// aggregates them across the two instances (the seed's "multi-instance
// aggregation", done by Prometheus).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { serve, type RunningServer } from '../../src/http/index.js';
import { http, newCollector, tempDir, tool } from '../helpers/export-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, promql: string): Promise<PromResult[]> {
  const r = await http(base, 'GET', `/api/v1/query?query=${encodeURIComponent(promql)}`);
  if (r.status !== 200) throw new Error(`prometheus ${r.status}: ${r.text}`);
  const body = r.json();
  assert.equal(body.status, 'success');
  return body.data.result as PromResult[];
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

test('a real Prometheus scrapes two perfprobe instances and aggregates them with sum by (operation)', { timeout: 3 * HANG_GUARD_MS }, async (t) => {
  const prometheus = tool('prometheus');
  if (!prometheus) {
    t.skip('prometheus not installed (Debian package prometheus)');
    return;
  }
  const tmp = tempDir('perfprobe-prom-');
  const servers: RunningServer[] = [];
  let child: ChildProcess | undefined;
  let log = '';
  try {
    const a = newCollector();
    const b = newCollector();
    for (const d of [10, 20, 30]) a.recordProcessingTime('decode', d);
    a.recordProcessingTime('upload', 250, { success: false, errorMessage: 'timeout' });
    for (const d of [5, 15]) b.recordProcessingTime('decode', d);
    b.recordProcessingTime('resize', 2);
    servers.push(await serve({ port: 0, collector: a as never }), await serve({ port: 0, collector: b as never }));
    const [pa, pb] = servers.map((s) => s.port);
    const accepts: string[] = [];
    for (const s of servers) s.server.on('request', (req) => accepts.push(String(req.headers.accept)));

    const promPort = await freePort();
    const config = join(tmp.dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: perfprobe',
        '    scrape_interval: 1s',
        '    scrape_timeout: 900ms',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${pa}', '127.0.0.1:${pb}']`,
        '',
      ].join('\n'),
    );
    child = spawn(
      prometheus,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(tmp.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const base = `http://127.0.0.1:${promPort}`;

    // Both targets scraped at least once (up == 1 and our series present); the bound is a hang guard.
    const deadline = Date.now() + HANG_GUARD_MS;
    let seen: PromResult[] = [];
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
      try {
        seen = await query(base, 'perfprobe_operation_duration_seconds_count{operation="decode"}');
        if (seen.length === 2) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(seen.length, 2, `both instances scraped; prometheus log:\n${log}`);

    const up = await query(base, 'up{job="perfprobe"}');
    assert.deepEqual(up.map((r) => r.value[1]), ['1', '1']);

    const byInstance = (rs: PromResult[]) => Object.fromEntries(rs.map((r) => [r.metric.instance, Number(r.value[1])]));
    const ia = `127.0.0.1:${pa}`;
    const ib = `127.0.0.1:${pb}`;
    assert.deepEqual(byInstance(seen), { [ia]: 3, [ib]: 2 });
    const sums = byInstance(await query(base, 'perfprobe_operation_duration_seconds_sum{operation="decode"}'));
    assert.ok(Math.abs(sums[ia]! - 0.06) < 1e-12 && Math.abs(sums[ib]! - 0.02) < 1e-12, JSON.stringify(sums));
    assert.deepEqual(byInstance(await query(base, 'perfprobe_operation_failures_total{operation="upload"}')), { [ia]: 1 });
    const le = byInstance(await query(base, 'perfprobe_operation_duration_seconds_bucket{operation="decode",le="0.01"}'));
    assert.deepEqual(le, { [ia]: 1, [ib]: 1 });
    const rss = await query(base, 'perfprobe_process_resident_memory_bytes');
    assert.equal(rss.length, 2);
    assert.ok(rss.every((r) => Number(r.value[1]) > 1e6));

    // Prometheus asks for OpenMetrics first, so the values above came through our OpenMetrics output.
    assert.ok(accepts.length >= 2 && accepts.every((a) => a.startsWith('application/openmetrics-text')), accepts.join(' | '));

    // Aggregation across instances.
    const agg = await query(base, 'sum by (operation) (perfprobe_operation_duration_seconds_count)');
    const perOp = Object.fromEntries(agg.map((r) => [r.metric.operation, Number(r.value[1])]));
    assert.deepEqual(perOp, { decode: 5, upload: 1, resize: 1 });
    assert.deepEqual(Object.keys(agg[0]!.metric), ['operation']);

    // New records reach Prometheus on the next scrapes.
    for (let i = 0; i < 4; i++) b.recordProcessingTime('decode', 1);
    const until = Date.now() + HANG_GUARD_MS;
    let total = 0;
    while (Date.now() < until) {
      const r = await query(base, 'sum(perfprobe_operation_duration_seconds_count{operation="decode"})');
      total = Number(r[0]?.value[1]);
      if (total === 9) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    assert.equal(total, 9);
  } finally {
    if (child) await stop(child);
    for (const s of servers) await s.close();
    tmp.cleanup();
  }
});
