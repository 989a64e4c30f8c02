// The dashboard's SSE stream and routes without a browser: event framing,
// batches carrying only new records, heartbeat, close(), and the asset table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStreamHandler } from '../../src/http/stream.js';
import { createDashboardRoutes } from '../../src/http/dashboard.js';
import type { GpuUsageMetric, MemoryUsageMetric, ProcessingTimeStats } from '../../src/types.js';
import { XID_MEANINGS, type GpuEvent } from '../../src/probes/gpu-events.js';
import { gpuReading } from '../helpers/collector-helpers.js';

/** A scripted source: records pushed by the test, stats computed from a list. */
function fakeSource() {
  const memory: MemoryUsageMetric[] = [];
  const gpu: GpuUsageMetric[] = [];
  const durations: number[] = [];
  const stats = (): ProcessingTimeStats => {
    const s = [...durations].sort((a, b) => a - b);
    const p = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : null);
    return {
      count: s.length, avgDurationMs: s.length ? s.reduce((a, b) => a + b, 0) / s.length : null, minDurationMs: s[0] ?? null,
      maxDurationMs: s.at(-1) ?? null, p50DurationMs: p(0.5), p90DurationMs: p(0.9), p95DurationMs: p(0.95), p99DurationMs: p(0.99),
      successRate: s.length ? 100 : null, failureCount: 0,
    };
  };
  return {
    memory, gpu, durations,
    memoryRecords: (q?: { since?: number }) => memory.filter((m) => q?.since === undefined || m.timestamp > q.since)[Symbol.iterator](),
    gpuRecords: (q?: { since?: number }) => gpu.filter((g) => q?.since === undefined || g.timestamp > q.since)[Symbol.iterator](),
    getOperationSummary: () =>
      durations.length ? [{ operation: 'op', count: durations.length, avgDurationMs: 0, totalDurationMs: 0, successRate: 100, p95DurationMs: 0 }] : [],
    getProcessingTimeStats: () => stats(),
  };
}
const mem = (t: number, used: number): MemoryUsageMetric => ({ timestamp: t, totalMb: 1000, usedMb: used, availableMb: 1000 - used, percent: used / 10, processMemoryMb: 50, operation: null });

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Reads SSE text until `done(text)` or the deadline. */
async function readUntil(body: ReadableStream<Uint8Array>, done: (t: string) => boolean, ms = 5000): Promise<string> {
  const reader = body.getReader();
  let text = '';
  const end = Date.now() + ms;
  while (!done(text) && Date.now() < end) {
    const r = await Promise.race([reader.read(), new Promise<null>((res) => setTimeout(() => res(null), end - Date.now()))]);
    if (!r || r.done) break;
    text += Buffer.from(r.value).toString();
  }
  reader.releaseLock();
  return text;
}
const events = (text: string, name: string) =>
  [...text.matchAll(new RegExp(`event: ${name}\\ndata: (.*)\\n\\n`, 'g'))].map((m) => JSON.parse(m[1]!));

test('snapshot, then one batch per tick with only the new records, then heartbeats; close() ends the stream', async () => {
  const src = fakeSource();
  const t0 = Date.now();
  src.memory.push(mem(t0 - 2000, 100), mem(t0 - 1000, 110));
  src.gpu.push({ timestamp: t0 - 1000, gpuId: 0, loadPercent: 50, memoryUsedMb: 10, memoryTotalMb: 100, memoryPercent: 10, temperatureCelsius: 40, powerWatts: 100.123, performanceState: 2, memoryTemperatureCelsius: 71, encoderUtilPercent: null, decoderUtilPercent: null, operation: null });
  const stream = createStreamHandler(src, { intervalMs: 30, heartbeatMs: 60, retryMs: 500 });
  const server = createServer((req, res) => stream(req, res));
  const url = await listen(server);
  try {
    const res = await fetch(url);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    let text = await readUntil(res.body!, (t) => events(t, 'snapshot').length === 1);
    assert.match(text, /^retry: 500\n\n/);
    const snap = events(text, 'snapshot')[0];
    assert.deepEqual(snap.memory.map((r: number[]) => r[1]), [100, 110]);
    assert.deepEqual(snap.gpus[0], [t0 - 1000, 0, 50, 10, 100, 40, 100.12, 2, 71]);
    assert.deepEqual(snap.operations, []);
    assert.equal(stream.clients, 1);

    src.memory.push(mem(t0 + 1, 120));
    src.durations.push(5, 6, 7);
    text = await readUntil(res.body!, (t) => events(t, 'samples').length >= 1);
    const batch = events(text, 'samples')[0];
    assert.deepEqual(batch.memory.map((r: number[]) => r[1]), [120], 'only the record newer than the last one sent');
    assert.equal(batch.operations[0].operation, 'op');
    assert.equal(batch.operations[0].count, 3);
    assert.equal(batch.operations[0].p50Ms, 6);

    text = await readUntil(res.body!, (t) => /^: heartbeat \d+$/m.test(t));
    assert.match(text, /^: heartbeat \d+$/m, 'a heartbeat when nothing is new');
    assert.equal(events(text, 'samples').length, 0, 'no empty batches');

    stream.close();
    assert.equal(stream.clients, 0);
    const rest = await readUntil(res.body!, () => false, 1000);
    assert.equal(rest, '', 'the stream ended');
  } finally {
    stream.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a client that goes away is forgotten', async () => {
  const src = fakeSource();
  const stream = createStreamHandler(src, { intervalMs: 20 });
  const server = createServer((req, res) => stream(req, res));
  const url = await listen(server);
  try {
    const ac = new AbortController();
    const res = await fetch(url, { signal: ac.signal });
    await readUntil(res.body!, (t) => t.includes('event: snapshot'));
    assert.equal(stream.clients, 1);
    ac.abort();
    const end = Date.now() + 3000;
    while (stream.clients > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(stream.clients, 0);
  } finally {
    stream.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('dashboard routes: the page, its assets and uPlot, nothing else', async () => {
  const routes = createDashboardRoutes(fakeSource());
  const server = createServer((req, res) => {
    if (!routes(req, res, new URL(req.url!, 'http://x'))) {
      res.writeHead(404);
      res.end();
    }
  });
  const url = await listen(server);
  try {
    for (const [path, type] of [
      ['/', /text\/html/],
      ['/assets/app.js', /javascript/],
      ['/assets/style.css', /text\/css/],
      ['/assets/uplot/uPlot.iife.min.js', /javascript/],
      ['/assets/uplot/uPlot.min.css', /text\/css/],
    ] as const) {
      const r = await fetch(url + path);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type')!, type, path);
      assert.ok((await r.text()).length > 100, path);
    }
    const page = await (await fetch(url + '/')).text();
    assert.doesNotMatch(page, /https?:\/\//, 'no external references in the page');
    for (const path of ['/assets/', '/assets/index.html', '/assets/%2e%2e/package.json', '/assets/uplot/package.json', '/favicon.ico']) {
      assert.equal((await fetch(url + path)).status, 404, path);
    }
    const post = await fetch(url + '/', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    routes.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('GPU payload: each GPU now (live, from the probes) and the GPU events, the snapshot\'s then each new one once', async () => {
  const src = fakeSource();
  const recorded: GpuEvent[] = [{ timestamp: 1000, gpuId: 0, uuid: 'GPU-a', type: 'xid', xid: 79, gpuInstanceId: null, computeInstanceId: null }];
  let reads = 0;
  const procs = Array.from({ length: 10 }, (_, i) => ({
    pid: 100 + i, usedMemoryMb: i * 10, name: `p${i}`, type: 'compute' as const, smUtilPercent: i, memoryUtilPercent: null,
    encoderUtilPercent: null, decoderUtilPercent: null, gpuInstanceId: null, computeInstanceId: null,
  }));
  const source = {
    ...src,
    probes: { readGpusSync: () => (reads++, [gpuReading(0, { performanceState: 2, clocksEventReasons: ['sw_power_cap'], processes: procs, eccErrors: { correctedVolatile: 1, uncorrectedVolatile: 0, correctedAggregate: 2, uncorrectedAggregate: 0 } })]) },
    getGpuEvents: (q?: { since?: number }) => recorded.filter((e) => q?.since === undefined || e.timestamp > q.since),
  };
  const stream = createStreamHandler(source, { intervalMs: 30, heartbeatMs: 60_000 });
  const server = createServer((req, res) => stream(req, res));
  const url = await listen(server);
  try {
    const res = await fetch(url);
    let text = await readUntil(res.body!, (t) => events(t, 'snapshot').length === 1);
    const snap = events(text, 'snapshot')[0];
    assert.deepEqual(snap.gpuEvents, [{ timestamp: 1000, gpuId: 0, uuid: 'GPU-a', type: 'xid', xid: 79, reasons: null, text: `Xid 79 (${XID_MEANINGS[79]})` }]);
    const d = snap.gpuDevices[0];
    assert.deepEqual([d.gpuId, d.performanceState, d.clocksEventReasons, d.eccErrors.correctedVolatile], [0, 2, ['sw_power_cap'], 1]);
    assert.deepEqual(d.processes.map((p: { pid: number }) => p.pid), [109, 108, 107, 106, 105, 104, 103, 102], 'the 8 using the most GPU memory');
    assert.equal(d.more, 2);
    recorded.push({ timestamp: 2000, gpuId: 0, uuid: 'GPU-a', type: 'ecc_double_bit', gpuInstanceId: null, computeInstanceId: null });
    text = await readUntil(res.body!, (t) => events(t, 'samples').length >= 1);
    const batch = events(text, 'samples')[0];
    assert.deepEqual(batch.gpuEvents.map((e: { type: string }) => e.type), ['ecc_double_bit'], 'only the new event');
    assert.equal(batch.gpuEvents[0].text, 'double-bit ECC error (uncorrected)');
    assert.ok(reads >= 2, 'GPUs read live for each event');
  } finally {
    stream.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('GPU payload without NVML: readGpusSync throwing gives [] and is not retried every tick', async () => {
  const src = fakeSource();
  let reads = 0;
  const source = { ...src, probes: { readGpusSync: (): never => { reads++; throw new Error('NVML is not available'); } } };
  const stream = createStreamHandler(source, { intervalMs: 20, heartbeatMs: 60_000 });
  const server = createServer((req, res) => stream(req, res));
  const url = await listen(server);
  try {
    const res = await fetch(url);
    const text = await readUntil(res.body!, (t) => events(t, 'snapshot').length === 1);
    assert.deepEqual([events(text, 'snapshot')[0].gpuDevices, events(text, 'snapshot')[0].gpuEvents], [[], []]);
    src.memory.push(mem(Date.now(), 5));
    await readUntil(res.body!, (t) => events(t, 'samples').length >= 1);
    assert.equal(reads, 1, 'tried once, then left alone for 30 s');
  } finally {
    stream.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
