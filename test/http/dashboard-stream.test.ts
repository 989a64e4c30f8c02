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
import { HANG_GUARD_MS, pollUntil } from '../helpers/hang-guard.js';

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

/**
 * Reads SSE text until `done(text)` or the stream's end, however long a
 * loaded machine takes; HANG_GUARD_MS only ends a wait that hangs.
 */
async function readSse(body: ReadableStream<Uint8Array>, done: (t: string) => boolean): Promise<{ text: string; ended: boolean }> {
  const reader = body.getReader();
  let text = '';
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<null>((res) => (timer = setTimeout(() => res(null), HANG_GUARD_MS)));
  try {
    while (!done(text)) {
      const r = await Promise.race([reader.read(), hang]);
      if (!r) break;
      if (r.done) {
        ended = true;
        break;
      }
      text += Buffer.from(r.value).toString();
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return { text, ended };
}
const readUntil = async (body: ReadableStream<Uint8Array>, done: (t: string) => boolean): Promise<string> => (await readSse(body, done)).text;
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
    const rest = await readSse(res.body!, () => false);
    assert.ok(rest.ended, 'the stream ended');
    assert.equal(rest.text, '', 'nothing after close()');
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
    await pollUntil('the client forgotten', () => stream.clients === 0);
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
test('one payload per tick for every client: 25 clients cost the statistics of one', async () => {
  const src = fakeSource();
  src.durations.push(5, 6, 7);
  const calls = { summary: 0, stats: 0, batchReads: 0 };
  const counted = {
    ...src,
    memoryRecords: (q?: { since?: number }) => {
      if (q?.since !== undefined) calls.batchReads++;
      return src.memoryRecords(q);
    },
    getOperationSummary: () => (calls.summary++, src.getOperationSummary()),
    getProcessingTimeStats: () => (calls.stats++, src.getProcessingTimeStats()),
  };
  // A new memory record every few ms: every tick has something to send.
  const feeder = setInterval(() => src.memory.push(mem(Date.now(), 100)), 5);
  const stream = createStreamHandler(counted, { intervalMs: 25 });
  const server = createServer((req, res) => stream(req, res));
  const url = await listen(server);
  const N = 25;
  const aborts: AbortController[] = [];
  try {
    const bodies: Array<ReadableStream<Uint8Array>> = [];
    for (let i = 0; i < N; i++) {
      const ac = new AbortController();
      aborts.push(ac);
      const res = await fetch(url, { signal: ac.signal });
      await readUntil(res.body!, (t) => t.includes('event: snapshot'));
      bodies.push(res.body!);
    }
    assert.equal(stream.clients, N);
    // Count from now on: batches made before (still buffered in client 0's socket) do not count.
    calls.summary = calls.stats = calls.batchReads = 0;
    const since = Date.now();
    const fresh = (t: string) => events(t, 'samples').filter((e) => e.now >= since).length;
    const text = await readUntil(bodies[0]!, (t) => fresh(t) >= 8);
    const seen = fresh(text);
    assert.ok(seen >= 8, `client 0 saw ${seen} batches`);
    // Per tick: one batch read and one operation summary (plus 2 stats calls per operation), not one per client.
    // A tick or two may run between the reset and the first read.
    assert.ok(calls.batchReads <= seen + 2, `${calls.batchReads} batch reads for ${seen} ticks with ${N} clients`);
    assert.ok(calls.summary <= seen + 2, `${calls.summary} summaries for ${seen} ticks with ${N} clients`);
    assert.ok(calls.stats <= 2 * (seen + 2), `${calls.stats} statistics for ${seen} ticks with ${N} clients`);
    // The last client got the same batches (the same text).
    const last = await readUntil(bodies[N - 1]!, (t) => fresh(t) >= seen);
    assert.ok(fresh(last) >= seen, `the last client saw ${fresh(last)} of ${seen} batches`);
  } finally {
    clearInterval(feeder);
    for (const ac of aborts) ac.abort();
    stream.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('clients that join later get a snapshot that ends where the shared batches begin: no record twice, none missed', async () => {
  const src = fakeSource();
  const t0 = Date.now() - 10_000;
  for (let i = 0; i < 5; i++) src.memory.push(mem(t0 + i, 100 + i));
  const stream = createStreamHandler(src, { intervalMs: 20 });
  const server = createServer((req, res) => stream(req, res));
  const url = await listen(server);
  const acs: AbortController[] = [];
  try {
    const open = async () => {
      const ac = new AbortController();
      acs.push(ac);
      return (await fetch(url, { signal: ac.signal })).body!;
    };
    const a = await open();
    await readUntil(a, (t) => t.includes('event: snapshot'));
    src.memory.push(mem(t0 + 5, 105));
    await readUntil(a, (t) => events(t, 'samples').length >= 1);
    // Pushed while a is open; b joins before the next tick may have sent it.
    src.memory.push(mem(t0 + 6, 106));
    const b = await open();
    src.memory.push(mem(t0 + 7, 107));
    const used = (text: string) => [...events(text, 'snapshot'), ...events(text, 'samples')].flatMap((e) => e.memory.map((r: number[]) => r[1]));
    const textB = await readUntil(b, (t) => used(t).includes(107));
    assert.deepEqual(used(textB), [100, 101, 102, 103, 104, 105, 106, 107], 'each record once, in order');
    const textA = await readUntil(a, (t) => used(t).includes(107));
    assert.deepEqual(used(textA), [106, 107]);
  } finally {
    for (const ac of acs) ac.abort();
    stream.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a client that stops reading is dropped once it has maxBufferedBytes unread; the others keep streaming', async () => {
  const src = fakeSource();
  // Big batches: 2,000 new rows per tick.
  const feeder = setInterval(() => {
    const t = Date.now();
    for (let i = 0; i < 2000; i++) src.memory.push(mem(t + i / 10_000, 100 + (i % 50)));
  }, 10);
  const stream = createStreamHandler(src, { intervalMs: 10, maxBufferedBytes: 64 * 1024 });
  const server = createServer((req, res) => stream(req, res));
  const url = await listen(server);
  const { connect } = await import('node:net');
  const port = Number(new URL(url).port);
  const stuck = connect(port, '127.0.0.1');
  stuck.on('error', () => {});
  stuck.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  stuck.pause(); // never reads: the kernel's buffers fill, then the server's
  const ac = new AbortController();
  try {
    const reader = await fetch(url, { signal: ac.signal });
    const body = reader.body!.getReader();
    let bytes = 0;
    const end = Date.now() + HANG_GUARD_MS;
    // Read the live one until the stuck one is gone (the kernel buffers a few MB first; the bound is a hang guard).
    while (stream.clients > 1 && Date.now() < end) {
      const r = await body.read();
      if (r.done) break;
      bytes += r.value.length;
    }
    assert.equal(stream.clients, 1, `the stuck client is still open after ${bytes} bytes to the live one`);
    const r = await body.read();
    assert.equal(r.done, false, 'the reading client keeps its stream');
    body.releaseLock();
  } finally {
    clearInterval(feeder);
    ac.abort();
    stuck.destroy();
    stream.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
