// /metrics at 10,000 operations is ~18 MB of text: it is written as bytes
// and streamed a slice at a time, with the event loop free between slices
// and the socket's backpressure obeyed. The bytes must be exactly what the
// plain text format says (a string-concatenation reference below), the same
// through render(), stream() and HTTP, and a client that goes away must stop
// the stream.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { PrometheusExporter, escapeLabelValue, serve } from '../../src/index.js';
import { SCRAPE_QUEUE_BYTES, SCRAPE_SLICE_BYTES, SCRAPE_TURN_SLICES } from '../../src/exporters/prometheus.js';
import type { CumulativeOperationStats } from '../../src/types.js';
import { newCollector } from '../helpers/export-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const OPS = 10_000;
const c = newCollector({ maxOperations: OPS, maxHistorySize: 3 * OPS, enableMemoryTracking: false });
// Awkward names among plain ones: quotes, backslashes, newlines, non-ASCII.
const names = Array.from({ length: OPS }, (_, i) => (i % 997 === 0 ? `op "${i}"\\\n größe ✓` : `operation_${String(i).padStart(5, '0')}`));
for (let i = 0; i < 3 * OPS; i++) {
  const d = Math.exp(((i * 7919) % 1000) / 100) / 20; // 0.05 ms .. 1 s
  c.recordProcessingTime(names[i % OPS]!, d, i % 13 === 0 ? { success: false, errorMessage: 'x' } : undefined);
}
after(() => c.close());
const exporter = new PrometheusExporter(c as never, { liveMemory: false, liveGpu: false });

/** The operation families as the string-concatenation formatter wrote them (the reference). */
function reference(stats: CumulativeOperationStats, openMetrics: boolean): string {
  const h = 'perfprobe_operation_duration_seconds';
  const f = 'perfprobe_operation_failures';
  const fmt = (n: number) => (n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : Number.isNaN(n) ? 'NaN' : String(n));
  let s = `# HELP ${h} Duration of recorded operations in seconds.\n# TYPE ${h} histogram\n`;
  if (openMetrics) s += `# UNIT ${h} seconds\n`;
  for (const op of stats.operations) {
    const lab = `operation="${escapeLabelValue(op.operation)}"`;
    stats.boundsMs.forEach((b, i) => (s += `${h}_bucket{${lab},le="${fmt(b / 1000)}"} ${op.bucketCounts[i] ?? op.count}\n`));
    s += `${h}_bucket{${lab},le="+Inf"} ${op.count}\n${h}_sum{${lab}} ${fmt(op.sumMs / 1000)}\n${h}_count{${lab}} ${op.count}\n`;
  }
  s += openMetrics ? `# HELP ${f} Operations recorded as failed.\n# TYPE ${f} counter\n` : `# HELP ${f}_total Operations recorded as failed.\n# TYPE ${f}_total counter\n`;
  for (const op of stats.operations) s += `${f}_total{operation="${escapeLabelValue(op.operation)}"} ${op.failureCount}\n`;
  return s;
}

/**
 * A Writable that records each chunk and the event-loop turn (a setImmediate counter) it came in.
 * `tickWrites`: each write completes on process.nextTick, as a socket's does when the kernel takes
 * the bytes at once (so write() returns false and 'drain' comes before the loop turns).
 */
function recorder(options: { highWaterMark?: number; delayMs?: number; tickWrites?: boolean } = {}) {
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const chunks: Buffer[] = [];
  const turns: number[] = [];
  let maxBuffered = 0;
  const w = new Writable({
    highWaterMark: options.highWaterMark ?? 16384,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      turns.push(turn);
      maxBuffered = Math.max(maxBuffered, w.writableLength);
      if (options.delayMs) setTimeout(cb, options.delayMs);
      else if (options.tickWrites) process.nextTick(cb);
      else cb();
    },
  });
  return { w, chunks, turns, maxBuffered: () => maxBuffered, stop: () => (ticking = false) };
}

/** The event loop turned at least once in every SCRAPE_TURN_SLICES slices (no more than that many in one turn). */
function assertLoopTurnedBetweenSlices(turns: number[]): void {
  assert.ok(turns.length > 2 * SCRAPE_TURN_SLICES, `${turns.length} slices`);
  for (let i = SCRAPE_TURN_SLICES; i < turns.length; i++) {
    assert.ok(turns[i]! > turns[i - SCRAPE_TURN_SLICES]!, `the event loop ran between slices ${i - SCRAPE_TURN_SLICES} and ${i}`);
  }
}

/** Resolves once `w` has processed every write (stream() resolves once all is handed to it). */
function finished(w: Writable): Promise<void> {
  return new Promise((resolve) => (w.writableFinished ? resolve() : w.once('finish', () => resolve())));
}

test('the operation families are the text format byte for byte (Prometheus and OpenMetrics), awkward labels escaped', () => {
  for (const om of [false, true]) {
    const snap = exporter.snapshot();
    assert.equal(snap.operations.operations.length, OPS);
    const text = exporter.format(snap, om);
    assert.ok(text.startsWith(reference(snap.operations, om)), `openMetrics=${om}: the operation families`);
    assert.equal(text.endsWith('# EOF\n'), om);
    assert.match(text, /operation="op \\"0\\"\\\\\\n größe ✓"/);
  }
});

test('stream() writes what render() does, in slices, the event loop turning every SCRAPE_TURN_SLICES slices', async () => {
  const r = recorder();
  await exporter.stream(r.w, false);
  r.stop();
  const text = Buffer.concat(r.chunks).toString('utf8');
  assert.equal(text, exporter.render(false));
  assert.ok(text.length > 10 * SCRAPE_SLICE_BYTES, `${text.length} bytes`);
  assert.ok(r.chunks.length >= 10, `${r.chunks.length} slices`);
  // One operation's 22 lines at most past the slice size.
  for (const ch of r.chunks.slice(0, -1)) assert.ok(ch.length <= SCRAPE_SLICE_BYTES + 4096, `slice of ${ch.length} bytes`);
  assertLoopTurnedBetweenSlices(r.turns);
  assert.equal(r.w.writableEnded, true, 'the stream is ended');
});

test('stream() yields to the event loop every SCRAPE_TURN_SLICES slices even when writes finish within the same turn (a socket the kernel empties at once)', async () => {
  const r = recorder({ tickWrites: true });
  await exporter.stream(r.w, false);
  await finished(r.w);
  r.stop();
  assert.equal(Buffer.concat(r.chunks).toString('utf8'), exporter.render(false));
  assert.ok(r.chunks.length >= 10, `${r.chunks.length} slices`);
  assertLoopTurnedBetweenSlices(r.turns);
});

test('stream() obeys backpressure: a slow writable never holds more than SCRAPE_QUEUE_BYTES and a slice', async () => {
  const r = recorder({ highWaterMark: 1024, delayMs: 1 });
  await exporter.stream(r.w, true);
  r.stop();
  await finished(r.w);
  assert.equal(Buffer.concat(r.chunks).toString('utf8'), exporter.render(true));
  assert.ok(r.maxBuffered() <= SCRAPE_QUEUE_BYTES + SCRAPE_SLICE_BYTES + 4096, `buffered ${r.maxBuffered()} bytes`);
  // It did queue ahead of the writable (the text is made while earlier slices are sent), not one slice at a time.
  assert.ok(r.maxBuffered() > 2 * SCRAPE_SLICE_BYTES, `buffered ${r.maxBuffered()} bytes`);
});

test('stream() stops when the writable is destroyed part-way, and resolves', async () => {
  let writes = 0;
  const w: Writable = new Writable({
    write(_chunk, _enc, cb) {
      if (++writes === 3) w.destroy();
      cb();
    },
  });
  await exporter.stream(w, false);
  assert.equal(writes, 3, 'nothing written after the destroy');
});

test('GET /metrics over HTTP at 10,000 operations: chunked, the same bytes as render(); HEAD has no body', async () => {
  const s = await serve({ port: 0, host: '127.0.0.1', collector: c as never });
  try {
    const get = (method: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer; chunks: number }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: s.port, path: '/metrics', method, timeout: HANG_GUARD_MS }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(parts), chunks: parts.length }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end();
      });
    const r = await get('GET');
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const served = r.body.toString('utf8');
    // The memory gauges are read live by the server's exporter: compare the operation families.
    const ops = reference(c.cumulativeOperationStats(), false);
    assert.ok(served.startsWith(ops), 'the served operation families');
    assert.ok(!served.slice(ops.length).includes('perfprobe_operation_'), 'each operation series once');
    const head = await get('HEAD');
    assert.equal(head.body.length, 0);
  } finally {
    await s.close();
  }
});
