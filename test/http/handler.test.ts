// The REST API and /metrics over real loopback HTTP: every seed endpoint with
// its exact JSON shape, every bad request (400/401/404/405/413) changing
// nothing, Express/Connect-style next(), a pre-parsed Express body, serve().
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { createMetricsHandler, serve, type RunningServer } from '../../src/http/index.js';
import { http, newCollector, tempDir } from '../helpers/export-helpers.js';

const PROCESSING_KEYS = [
  'count', 'avg_duration_ms', 'min_duration_ms', 'max_duration_ms', 'p50_duration_ms', 'p90_duration_ms',
  'p95_duration_ms', 'p99_duration_ms', 'success_rate', 'failure_count',
];
const MEMORY_KEYS = [
  'count', 'current_used_mb', 'avg_used_mb', 'max_used_mb', 'current_percent', 'current_process_mb', 'avg_process_mb',
  'max_process_mb',
];
const GPU_KEYS = [
  'count', 'current_load_percent', 'avg_load_percent', 'max_load_percent', 'current_temperature', 'avg_temperature',
  'current_memory_used_mb', 'max_memory_used_mb', 'avg_power_watts',
];
const SUMMARY_KEYS = ['operation', 'count', 'avg_duration_ms', 'total_duration_ms', 'success_rate', 'p95_duration_ms'];

function snake(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}

function seed(c: ReturnType<typeof newCollector>): void {
  for (let i = 1; i <= 20; i++) c.recordProcessingTime('decode', i, { photoId: i, jobId: 'job_001', stage: 'exif' });
  for (let i = 1; i <= 5; i++) c.recordProcessingTime('ai_evaluation', 100 * i, { success: i !== 3, errorMessage: i === 3 ? 'boom' : undefined });
  c.recordMemoryUsage('batch');
  c.recordMemoryUsage();
  const now = Date.now();
  c.importRecords({
    gpu: [0, 1].flatMap((gpuId) =>
      [0, 1, 2].map((k) => ({
        timestamp: now - 3000 + k * 1000,
        gpuId,
        loadPercent: 10 * (k + 1) + gpuId,
        memoryUsedMb: 1000 + k,
        memoryTotalMb: 80000,
        memoryPercent: (1000 + k) / 800,
        temperatureCelsius: 40 + k,
        powerWatts: 100 + k,
        operation: null,
      })),
    ),
  });
}

describe('REST API over serve()', () => {
  let srv: RunningServer;
  let c: ReturnType<typeof newCollector>;
  const tmp = tempDir();
  const exportDir = resolve(tmp.dir, 'nested', 'exports');
  let started = 0;
  let stopped = 0;

  before(async () => {
    c = newCollector({ exportDirectory: exportDir });
    seed(c);
    const start = c.startMonitoring.bind(c);
    const stop = c.stopMonitoring.bind(c);
    c.startMonitoring = () => {
      started++;
      return start();
    };
    c.stopMonitoring = () => {
      stopped++;
      return stop();
    };
    srv = await serve({ port: 0, collector: c as never });
  });
  after(async () => {
    c.stopMonitoring();
    await srv.close();
    tmp.cleanup();
  });

  test('serve() listens on 127.0.0.1 by default and reports url and port', () => {
    assert.equal(srv.host, '127.0.0.1');
    assert.ok(srv.port > 0);
    assert.equal(srv.url, `http://127.0.0.1:${srv.port}`);
  });

  test('GET /api/metrics/processing/stats: {success, stats} with the seed keys, equal to the collector', async () => {
    const r = await http(srv.url, 'GET', '/api/metrics/processing/stats');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const body = r.json();
    assert.deepEqual(Object.keys(body), ['success', 'stats']);
    assert.equal(body.success, true);
    assert.deepEqual(Object.keys(body.stats).sort(), [...PROCESSING_KEYS].sort());
    assert.deepEqual(body.stats, snake(c.getProcessingTimeStats() as never));
    assert.equal(body.stats.count, 25);
    assert.equal(body.stats.failure_count, 1);
    assert.equal(body.stats.min_duration_ms, 1);
    assert.equal(body.stats.max_duration_ms, 500);
  });

  test('processing stats filtered by operation and duration_minutes', async () => {
    const r = await http(srv.url, 'GET', '/api/metrics/processing/stats?operation=ai_evaluation&duration_minutes=60');
    assert.equal(r.status, 200);
    const { stats } = r.json();
    assert.equal(stats.count, 5);
    assert.equal(stats.success_rate, 80);
    assert.equal(stats.avg_duration_ms, 300);
    assert.deepEqual(stats, snake(c.getProcessingTimeStats({ operation: 'ai_evaluation', durationMinutes: 60 }) as never));
    const none = (await http(srv.url, 'GET', '/api/metrics/processing/stats?operation=nothing')).json();
    assert.equal(none.stats.count, 0);
    assert.equal(none.stats.avg_duration_ms, null);
  });

  test('GET /api/metrics/memory/stats', async () => {
    const r = await http(srv.url, 'GET', '/api/metrics/memory/stats?duration_minutes=30');
    assert.equal(r.status, 200);
    const body = r.json();
    assert.deepEqual(Object.keys(body), ['success', 'stats']);
    assert.deepEqual(Object.keys(body.stats).sort(), [...MEMORY_KEYS].sort());
    assert.equal(body.stats.count, 2);
    assert.ok(body.stats.current_used_mb > 0);
    assert.deepEqual(body.stats, snake(c.getMemoryUsageStats({ durationMinutes: 30 }) as never));
  });

  test('GET /api/metrics/gpu/stats with gpu_id', async () => {
    const r = await http(srv.url, 'GET', '/api/metrics/gpu/stats?gpu_id=1&duration_minutes=5');
    assert.equal(r.status, 200);
    const body = r.json();
    assert.deepEqual(Object.keys(body), ['success', 'stats']);
    assert.deepEqual(Object.keys(body.stats).sort(), [...GPU_KEYS].sort());
    assert.equal(body.stats.count, 3);
    assert.equal(body.stats.current_load_percent, 31);
    assert.equal(body.stats.max_load_percent, 31);
    assert.equal(body.stats.avg_power_watts, 101);
    const all = (await http(srv.url, 'GET', '/api/metrics/gpu/stats')).json();
    assert.equal(all.stats.count, 6);
  });

  test('GET /api/metrics/operations/summary', async () => {
    const r = await http(srv.url, 'GET', '/api/metrics/operations/summary');
    assert.equal(r.status, 200);
    const body = r.json();
    assert.deepEqual(Object.keys(body), ['success', 'operations']);
    assert.equal(body.operations.length, 2);
    for (const op of body.operations) assert.deepEqual(Object.keys(op).sort(), [...SUMMARY_KEYS].sort());
    const ai = body.operations.find((o: { operation: string }) => o.operation === 'ai_evaluation');
    assert.equal(ai.count, 5);
    assert.equal(ai.total_duration_ms, 1500);
    assert.equal(ai.success_rate, 80);
    assert.deepEqual(body.operations, c.getOperationSummary().map((o) => snake(o as never)));
  });

  test('POST /api/metrics/export/json writes metrics_YYYYMMDD_HHMMSS.json into exportDirectory', async () => {
    // The client cannot choose where files go: a path-like body field is an unknown key (400), nothing is written.
    const { readdirSync } = await import('node:fs');
    for (const key of ['filepath', 'directory', 'export_directory']) {
      const refused = await http(srv.url, 'POST', '/api/metrics/export/json', {
        body: JSON.stringify({ [key]: '/tmp/evil.json' }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.json().error, new RegExp(`unknown key "${key}"`));
    }
    assert.equal(existsSync(exportDir) ? readdirSync(exportDir).length : 0, 0);
    assert.equal(existsSync('/tmp/evil.json'), false);
    const r = await http(srv.url, 'POST', '/api/metrics/export/json');
    assert.equal(r.status, 200);
    const body = r.json();
    assert.deepEqual(Object.keys(body), ['success', 'filepath', 'message']);
    assert.equal(body.success, true);
    assert.equal(body.message, 'Metrics exported successfully');
    assert.match(basename(body.filepath), /^metrics_\d{8}_\d{6}(_\d+)?\.json$/);
    assert.equal(resolve(dirname(body.filepath)), exportDir);
    const doc = JSON.parse(readFileSync(body.filepath, 'utf8'));
    assert.equal(doc.processing_metrics.length, 25);
    assert.equal(doc.gpu_metrics.length, 6);
  });

  test('POST /api/metrics/export/csv with metric_type', async () => {
    for (const type of ['processing', 'memory', 'gpu']) {
      const r = await http(srv.url, 'POST', '/api/metrics/export/csv', {
        body: JSON.stringify({ metric_type: type }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(r.status, 200, r.text);
      const body = r.json();
      assert.deepEqual(Object.keys(body), ['success', 'filepath', 'metric_type', 'message']);
      assert.equal(body.metric_type, type);
      assert.match(basename(body.filepath), new RegExp(`^${type}_metrics_\\d{8}_\\d{6}(_\\d+)?\\.csv$`));
      const lines = readFileSync(body.filepath, 'utf8').trimEnd().split('\r\n');
      assert.equal(lines.length - 1, type === 'processing' ? 25 : type === 'memory' ? 2 : 6);
    }
  });

  test('POST /api/metrics/export/csv without metric_type exports processing (as exportToCsv())', async () => {
    const r = await http(srv.url, 'POST', '/api/metrics/export/csv');
    assert.equal(r.status, 200);
    assert.equal(r.json().metric_type, 'processing');
    assert.match(basename(r.json().filepath), /^processing_metrics_/);
  });

  test('POST monitoring start and stop', async () => {
    const a = await http(srv.url, 'POST', '/api/metrics/monitoring/start');
    assert.equal(a.status, 200);
    assert.deepEqual(a.json(), { success: true, message: 'Monitoring started' });
    assert.equal(started, 1);
    const b = await http(srv.url, 'POST', '/api/metrics/monitoring/stop', { body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(b.status, 200);
    assert.deepEqual(b.json(), { success: true, message: 'Monitoring stopped' });
    assert.equal(stopped, 1);
  });

  test('bad query parameters: 400 naming the parameter, nothing changed', async () => {
    const before = JSON.stringify(c.getProcessingTimeStats());
    const cases: Array<[string, string]> = [
      ['/api/metrics/processing/stats?duration_minutes=0', 'duration_minutes'],
      ['/api/metrics/processing/stats?duration_minutes=-5', 'duration_minutes'],
      ['/api/metrics/processing/stats?duration_minutes=abc', 'duration_minutes'],
      ['/api/metrics/processing/stats?duration_minutes=Infinity', 'duration_minutes'],
      ['/api/metrics/processing/stats?duration_minutes=NaN', 'duration_minutes'],
      ['/api/metrics/processing/stats?duration_minutes=', 'duration_minutes'],
      ['/api/metrics/processing/stats?duration_minutes=1e999', 'duration_minutes'],
      ['/api/metrics/memory/stats?duration_minutes=0x10', 'duration_minutes'],
      ['/api/metrics/operations/summary?duration_minutes=-1', 'duration_minutes'],
      ['/api/metrics/gpu/stats?duration_minutes=%20', 'duration_minutes'],
      ['/api/metrics/gpu/stats?gpu_id=-1', 'gpu_id'],
      ['/api/metrics/gpu/stats?gpu_id=1.5', 'gpu_id'],
      ['/api/metrics/gpu/stats?gpu_id=x', 'gpu_id'],
      ['/api/metrics/gpu/stats?gpu_id=', 'gpu_id'],
      ['/api/metrics/gpu/stats?gpu_id=99999999999999999999', 'gpu_id'],
      [`/api/metrics/processing/stats?operation=${'x'.repeat(257)}`, 'operation'],
      ['/api/metrics/processing/stats?operation=', 'operation'],
    ];
    for (const [path, field] of cases) {
      const r = await http(srv.url, 'GET', path);
      assert.equal(r.status, 400, path);
      const body = r.json();
      assert.deepEqual(Object.keys(body), ['success', 'error']);
      assert.equal(body.success, false);
      assert.ok(body.error.startsWith(`${field} must be`), `${path}: ${body.error}`);
    }
    // 256 characters is the limit, not over it.
    assert.equal((await http(srv.url, 'GET', `/api/metrics/processing/stats?operation=${'x'.repeat(256)}`)).status, 200);
    assert.equal(JSON.stringify(c.getProcessingTimeStats()), before);
  });

  test('bad bodies: unknown metric_type, malformed JSON, non-object, too large; nothing cleared or exported', async () => {
    const countBefore = c.getProcessingTimeStats().count;
    const { readdirSync } = await import('node:fs');
    const filesBefore = readdirSync(exportDir).length;
    const cases: Array<[string, string | Buffer, number, RegExp]> = [
      ['/api/metrics/clear', '{"metric_type":"disk"}', 400, /^metric_type must be/],
      ['/api/metrics/clear', '{"metric_type":7}', 400, /^metric_type must be/],
      ['/api/metrics/export/csv', '{"metric_type":"disk"}', 400, /^metric_type must be/],
      ['/api/metrics/export/csv', '{"metric_type":null}', 400, /^metric_type must be/],
      ['/api/metrics/clear', '{"metric_type":', 400, /not valid JSON/],
      ['/api/metrics/export/json', 'nope', 400, /not valid JSON/],
      ['/api/metrics/clear', '[1,2]', 400, /must be a JSON object/],
      ['/api/metrics/clear', '"processing"', 400, /must be a JSON object/],
      ['/api/metrics/clear', `{"metric_type":null,"pad":"${'x'.repeat(70 * 1024)}"}`, 413, /at most 65536 bytes/],
      ['/api/metrics/export/json', Buffer.alloc(65537, 32), 413, /at most 65536 bytes/],
    ];
    for (const [path, body, status, re] of cases) {
      const r = await http(srv.url, 'POST', path, { body, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, status, `${path} ${String(body).slice(0, 30)}: ${r.text}`);
      const j = r.json();
      assert.equal(j.success, false);
      assert.match(j.error, re);
    }
    assert.equal(c.getProcessingTimeStats().count, countBefore);
    assert.equal(readdirSync(exportDir).length, filesBefore);
  });

  test('chunked body over 64 KiB without content-length is refused with 413', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolvePromise, reject) => {
      const u = new URL(srv.url);
      const req = request({ host: u.hostname, port: u.port, path: '/api/metrics/clear', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolvePromise(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(4096, 32));
      req.end();
    });
    assert.equal(status, 413);
    assert.equal(c.getProcessingTimeStats().count, 25);
  });

  test('unknown path 404, wrong method 405 with Allow, HEAD on GET routes', async () => {
    const r404 = await http(srv.url, 'GET', '/api/metrics/nothing');
    assert.equal(r404.status, 404);
    assert.equal(r404.json().success, false);
    assert.equal((await http(srv.url, 'GET', '/')).status, 404);
    assert.equal((await http(srv.url, 'GET', '//evil.example/metrics')).status, 404);
    const r405 = await http(srv.url, 'POST', '/api/metrics/processing/stats');
    assert.equal(r405.status, 405);
    assert.equal(r405.headers.allow, 'GET, HEAD');
    const r405b = await http(srv.url, 'GET', '/api/metrics/clear');
    assert.equal(r405b.status, 405);
    assert.equal(r405b.headers.allow, 'POST');
    assert.equal((await http(srv.url, 'DELETE', '/metrics')).headers.allow, 'GET, HEAD');
    const head = await http(srv.url, 'HEAD', '/api/metrics/memory/stats');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(c.getProcessingTimeStats().count, 25);
  });

  test('GET /metrics: Prometheus text, OpenMetrics when asked', async () => {
    const r = await http(srv.url, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(r.text, /^perfprobe_operation_duration_seconds_count\{operation="decode"\} 20$/m);
    assert.match(r.text, /^perfprobe_operation_failures_total\{operation="ai_evaluation"\} 1$/m);
    const om = await http(srv.url, 'GET', '/metrics', {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    });
    assert.match(String(om.headers['content-type']), /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok(om.text.endsWith('# EOF\n'));
  });

  test('POST /api/metrics/clear: one type, then null for all', async () => {
    const memoryBefore = c.getMemoryUsageStats().count;
    assert.ok(memoryBefore >= 2);
    const json = { 'content-type': 'application/json' };
    const one = await http(srv.url, 'POST', '/api/metrics/clear', { body: '{"metric_type":"processing"}', headers: json });
    assert.equal(one.status, 200);
    const j = one.json();
    assert.equal(j.success, true);
    assert.equal(typeof j.message, 'string');
    assert.equal(c.getProcessingTimeStats().count, 0);
    assert.equal(c.getMemoryUsageStats().count, memoryBefore);
    const all = await http(srv.url, 'POST', '/api/metrics/clear', { body: '{"metric_type":null}', headers: json });
    assert.equal(all.status, 200);
    assert.equal(c.getMemoryUsageStats().count, 0);
    assert.equal(c.getGpuUsageStats().count, 0);
  });
});

test('a token that could never match (empty, whitespace, not a string) is refused up front, naming token', () => {
  for (const bad of ['', 'two words', ' lead', 'tab\there', 42]) {
    assert.throws(() => createMetricsHandler(newCollector() as never, { token: bad as never }), (e: Error & { code?: string }) =>
      e instanceof TypeError && /^token must be a non-empty string without whitespace/.test(e.message) && e.code === 'ERR_PERFPROBE_INVALID_ARGUMENT');
  }
  assert.equal(typeof createMetricsHandler(newCollector() as never, { token: 's3cret-token' }), 'function');
});

describe('token', () => {
  let srv: RunningServer;
  const c = newCollector();
  before(async () => {
    c.recordProcessingTime('op', 1);
    srv = await serve({ port: 0, collector: c as never, token: 's3cret-token' });
  });
  after(() => srv.close());

  test('every route answers 401 without the bearer token, wrong token or wrong scheme', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/api/metrics/processing/stats'], ['GET', '/api/metrics/memory/stats'], ['GET', '/api/metrics/gpu/stats'],
      ['GET', '/api/metrics/operations/summary'], ['POST', '/api/metrics/export/json'], ['POST', '/api/metrics/export/csv'],
      ['POST', '/api/metrics/monitoring/start'], ['POST', '/api/metrics/monitoring/stop'], ['POST', '/api/metrics/clear'],
      ['GET', '/metrics'], ['GET', '/unknown'], ['DELETE', '/api/metrics/clear'],
    ];
    for (const [method, path] of routes) {
      for (const auth of [undefined, 'Bearer wrong', 'Basic czNjcmV0LXRva2Vu', 'Bearer s3cret-token-longer', 'Bearer']) {
        const r = await http(srv.url, method, path, { headers: auth ? { authorization: auth } : {} });
        assert.equal(r.status, 401, `${method} ${path} ${auth}`);
        assert.equal(r.headers['www-authenticate'], 'Bearer');
        assert.equal(r.json().success, false);
      }
    }
    assert.equal(c.getProcessingTimeStats().count, 1);
  });

  test('the right token is accepted', async () => {
    const h = { authorization: 'Bearer s3cret-token' };
    assert.equal((await http(srv.url, 'GET', '/api/metrics/processing/stats', { headers: h })).status, 200);
    assert.equal((await http(srv.url, 'GET', '/metrics', { headers: h })).status, 200);
    assert.equal((await http(srv.url, 'GET', '/unknown', { headers: h })).status, 404);
  });
});

describe('Express/Connect composition', () => {
  let server: Server;
  let base: string;
  const c = newCollector();
  let nextCalls = 0;

  before(async () => {
    c.recordProcessingTime('mounted', 5);
    const handler = createMetricsHandler(c as never, {
      extraRoutes: (req, res, url) => {
        if (url.pathname !== '/extra') return false;
        res.end('extra');
        return true;
      },
    });
    // Mimics express.json(): parses the body first, sets req.body, then calls the handler.
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        if (req.headers['content-type'] === 'application/json' && chunks.length) {
          (req as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString());
        } else (req as { body?: unknown }).body = {};
        handler(req, res, (err?: unknown) => {
          nextCalls++;
          res.writeHead(err ? 500 : 299);
          res.end('from next');
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('paths the API does not own go to next(); extraRoutes runs before it', async () => {
    const r = await http(base, 'GET', '/app/route');
    assert.equal(r.status, 299);
    assert.equal(r.text, 'from next');
    assert.equal(nextCalls, 1);
    const e = await http(base, 'GET', '/extra');
    assert.equal(e.text, 'extra');
    assert.equal(nextCalls, 1);
  });

  test('owned paths are answered, with a body Express already parsed', async () => {
    const r = await http(base, 'GET', '/api/metrics/processing/stats?operation=mounted');
    assert.equal(r.json().stats.count, 1);
    const bad = await http(base, 'POST', '/api/metrics/clear', {
      body: '{"metric_type":"disk"}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(bad.status, 400);
    assert.equal(c.getProcessingTimeStats().count, 1);
    const ok = await http(base, 'POST', '/api/metrics/clear', {
      body: '{"metric_type":"processing"}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(ok.status, 200);
    assert.equal(c.getProcessingTimeStats().count, 0);
    assert.equal(nextCalls, 1);
  });
});

test('serve() refuses a bad port and reports a port in use', async () => {
  await assert.rejects(serve({ port: -1, collector: newCollector() as never }), /port must be an integer from 0 to 65535, got -1/);
  const a = await serve({ port: 0, collector: newCollector() as never });
  try {
    await assert.rejects(serve({ port: a.port, collector: newCollector() as never }), /EADDRINUSE/);
  } finally {
    await a.close();
  }
  assert.equal(existsSync('/nonexistent-perfprobe'), false);
});

test('serve({ dashboard: true }) adds the dashboard routes behind the same token; close() ends cleanly', async () => {
  const srv = await serve({ port: 0, collector: newCollector() as never, dashboard: true, token: 'tok' });
  try {
    const h = { authorization: 'Bearer tok' };
    assert.equal((await http(srv.url, 'GET', '/')).status, 401);
    const page = await http(srv.url, 'GET', '/', { headers: h });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal((await http(srv.url, 'GET', '/api/metrics/processing/stats', { headers: h })).status, 200);
    assert.equal((await http(srv.url, 'GET', '/no/such/page', { headers: h })).status, 404);
  } finally {
    await srv.close();
  }
});

test('a browser reaches the dashboard with ?token= (then a cookie); the API still needs the header', async () => {
  const c = newCollector();
  c.recordProcessingTime('op', 1);
  const srv = await serve({ port: 0, collector: c as never, dashboard: true, token: 'tok' });
  try {
    assert.equal((await http(srv.url, 'GET', '/?token=wrong')).status, 401);
    const page = await http(srv.url, 'GET', '/?token=tok');
    assert.equal(page.status, 200);
    // The cookie is named for this port and holds an HMAC of the token, never the token
    // (cookies are not scoped by port: every app on 127.0.0.1 receives them).
    const setCookie = String(page.headers['set-cookie']);
    const m = new RegExp(`^perfprobe_token_${srv.port}=([0-9a-f]{64}); Path=/; HttpOnly; SameSite=Strict`).exec(setCookie);
    assert.ok(m, setCookie);
    const value = m[1]!;
    assert.doesNotMatch(setCookie, /=tok(;|$)/);
    assert.equal(value, createHmac('sha256', 'tok').update(`perfprobe dashboard cookie v1 port ${srv.port}`).digest('hex'));
    const cookie = { cookie: `other=1; perfprobe_token_${srv.port}=${value}` };
    assert.equal((await http(srv.url, 'GET', '/', { headers: cookie })).status, 200);
    assert.equal((await http(srv.url, 'GET', '/', { headers: { cookie: `perfprobe_token_${srv.port}=nope` } })).status, 401);
    // The raw token as a cookie, the old name, or the value meant for another port do not open it.
    assert.equal((await http(srv.url, 'GET', '/', { headers: { cookie: `perfprobe_token_${srv.port}=tok` } })).status, 401);
    assert.equal((await http(srv.url, 'GET', '/', { headers: { cookie: 'perfprobe_token=tok' } })).status, 401);
    const other = createHmac('sha256', 'tok').update(`perfprobe dashboard cookie v1 port ${srv.port + 1}`).digest('hex');
    assert.equal((await http(srv.url, 'GET', '/', { headers: { cookie: `perfprobe_token_${srv.port}=${other}` } })).status, 401);
    // Query and cookie open only the dashboard's GET routes, never the API or /metrics.
    assert.equal((await http(srv.url, 'GET', '/api/metrics/processing/stats?token=tok')).status, 401);
    assert.equal((await http(srv.url, 'GET', '/metrics', { headers: cookie })).status, 401);
    assert.equal((await http(srv.url, 'POST', '/api/metrics/clear', { headers: cookie, body: '{}' })).status, 401);
    assert.equal(c.getProcessingTimeStats().count, 1);
  } finally {
    await srv.close();
  }
});
