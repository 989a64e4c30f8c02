// HTTP: latency of the stats endpoints and /metrics under autocannon on
// loopback, with 1,000,000 processing records stored (imported, timestamped
// over the next 10 minutes: see server()). The server runs in a
// child process (so the load generator does not share its event loop);
// each endpoint is loaded for 3 s with 10 connections.
//
// The dashboard stream: a trivial request (/api/metrics/memory/stats) loaded
// the same way while 0, 1 and 100 SSE clients are connected, the 1M records
// recent (the stream's per-operation statistics over the last minute are
// the costly part of each tick). The stream computes each tick once for all
// clients, so 100 clients should cost what one does (the 0-client figure is
// the floor).
//
// Run through `npm run bench` (after `npx tsc -p tsconfig.json`), or
// `node bench/http.bench.mjs` to print the rows.
import { fork } from 'node:child_process';
import { get } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));
const RECORDS = 1_000_000;
const SECONDS = 3;

async function server() {
  const lib = require(join(here, '..', 'dist', 'index.js'));
  const c = new lib.PerformanceMetricsCollector({ maxHistorySize: RECORDS + 10, enableGpuTracking: false });
  // Imported with timestamps from now to 10 minutes ahead, so that the 1M
  // records stay "recent" (within the stream's one-minute window, its costly
  // part) for the whole run, as when they were just recorded.
  // And one record per operation two hours old, so a 60-minute window leaves them out and is scanned (a window
  // holding every record is answered from the whole-history aggregates).
  c.importRecords({
    processing: Array.from({ length: 10 }, (_, i) => ({
      timestamp: Date.now() - 7_200_000 + i, operation: `operation_${i}`, durationMs: 1, photoId: null, jobId: null, stage: null, success: true, errorMessage: null,
    })),
  });
  let x = 1;
  const t0 = Date.now();
  const CHUNK = 100_000;
  for (let start = 0; start < RECORDS; start += CHUNK) {
    const processing = [];
    for (let i = start; i < start + CHUNK; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      processing.push({
        timestamp: t0 + (i / RECORDS) * 600_000, operation: `operation_${i % 10}`, durationMs: Math.exp((x / 0x7fffffff) * 8 - 3),
        photoId: null, jobId: null, stage: null, success: true, errorMessage: null,
      });
    }
    c.importRecords({ processing });
  }
  for (let i = 0; i < 100; i++) c.recordMemoryUsage();
  const srv = await lib.serve({ port: 0, collector: c, dashboard: true });
  process.send({ url: srv.url });
  const { performance } = await import('node:perf_hooks');
  let elu = null;
  process.on('message', async (m) => {
    if (m === 'elu-start') elu = performance.eventLoopUtilization();
    if (m === 'elu-stop') process.send({ elu: performance.eventLoopUtilization(elu).utilization });
    if (m === 'close') {
      await srv.close();
      process.exit(0);
    }
  });
}

const ENDPOINTS = [
  ['/api/metrics/processing/stats', 'processing stats, all 1M records'],
  ['/api/metrics/processing/stats?operation=operation_3&duration_minutes=60', 'processing stats, one operation, 60 min window'],
  ['/api/metrics/operations/summary', 'operations summary (10 operations)'],
  ['/api/metrics/memory/stats?duration_minutes=5', 'memory stats, 5 min window'],
  ['/metrics', '/metrics (10 operations)'],
];

/** Opens n SSE streams and resolves once each has its snapshot; close() ends them. */
async function openStreams(url, n) {
  const reqs = [];
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise((resolve, reject) => {
        const req = get(url + '/api/metrics/stream', (res) => {
          let seen = '';
          res.on('data', (d) => {
            if (seen !== null) {
              seen += d;
              if (seen.includes('event: snapshot')) {
                seen = null;
                resolve();
              }
            }
          });
          res.on('error', () => {});
        });
        req.on('error', reject);
        reqs.push(req);
      }),
    ),
  );
  return { close: () => reqs.forEach((r) => r.destroy()) };
}

const STREAM_SECTION = 'http stream (1M recent records, SSE clients)';

export default async function bench() {
  const autocannon = require('autocannon');
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const rows = [];
  try {
    const { url } = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    // First, while the records are within the stream's one-minute window.
    const memoryStats = '/api/metrics/memory/stats?duration_minutes=5';
    const latency = {};
    const busy = {};
    // Warm-up, not recorded: the first requests after the import pay JIT and GC
    // (they made the no-client floor look 7x slower than one client).
    await autocannon({ url: url + memoryStats, connections: 10, amount: 1000, timeout: 60 });
    for (const clients of [0, 1, 100]) {
      const streams = await openStreams(url, clients);
      // The server's event-loop utilisation over 3 s of ticks with these clients and no requests.
      child.send('elu-start');
      await new Promise((r) => setTimeout(r, 3000));
      child.send('elu-stop');
      busy[clients] = (await new Promise((r) => child.once('message', r))).elu * 100;
      // A fixed number of requests (a saturated server may answer none within a duration).
      const r = await autocannon({ url: url + memoryStats, connections: 10, amount: 500, timeout: 60 });
      streams.close();
      if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r.requests.total < 500) {
        throw new Error(`${memoryStats} with ${clients} streams: ${r.requests.total} answered, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
      }
      latency[clients] = r.latency;
      await new Promise((r) => setTimeout(r, 200));
    }
    rows.push({ section: STREAM_SECTION, name: 'server event-loop busy, 1 stream client', value: busy[1], unit: '%', peer: { name: 'no stream client (floor)', value: busy[0] } });
    rows.push({ section: STREAM_SECTION, name: 'server event-loop busy, 100 stream clients', value: busy[100], unit: '%', peer: { name: '1 stream client', value: busy[1] }, target: 'about what 1 client costs' });
    for (const [stat, label] of [['average', 'mean'], ['p99', 'p99']]) {
      rows.push({ section: STREAM_SECTION, name: `memory stats ${label} latency, 1 stream client`, value: latency[1][stat], unit: 'ms', peer: { name: 'no stream client (floor)', value: latency[0][stat] } });
      rows.push({ section: STREAM_SECTION, name: `memory stats ${label} latency, 100 stream clients`, value: latency[100][stat], unit: 'ms', peer: { name: '1 stream client', value: latency[1][stat] }, target: 'about what 1 client costs' });
    }
    for (const [path, name] of ENDPOINTS) {
      const r = await autocannon({ url: url + path, connections: 10, duration: SECONDS });
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      rows.push({ section: 'http (1M records, 10 connections)', name: `${name}: mean latency`, value: r.latency.average, unit: 'ms' });
      rows.push({ section: 'http (1M records, 10 connections)', name: `${name}: p99 latency`, value: r.latency.p99, unit: 'ms' });
      rows.push({ section: 'http (1M records, 10 connections)', name: `${name}: throughput`, value: r.requests.average, unit: 'req/s' });
    }
  } finally {
    child.send('close');
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        r();
      }, 5000);
      child.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
  }
  return rows;
}

if (process.argv[2] === '--server') {
  await server();
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await bench()) console.log(JSON.stringify(r));
}
