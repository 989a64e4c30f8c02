// HTTP: latency of the stats endpoints and /metrics under autocannon on
// loopback, with 1,000,000 processing records stored. The server runs in a
// child process (so the load generator does not share its event loop);
// each endpoint is loaded for 3 s with 10 connections.
//
// Run through `npm run bench` (after `npx tsc -p tsconfig.json`), or
// `node bench/http.bench.mjs` to print the rows.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));
const RECORDS = 1_000_000;
const SECONDS = 3;

async function server() {
  const lib = require(join(here, '..', 'dist', 'index.js'));
  const c = new lib.PerformanceMetricsCollector({ maxHistorySize: RECORDS, enableGpuTracking: false });
  let x = 1;
  for (let i = 0; i < RECORDS; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    c.recordProcessingTime(`operation_${i % 10}`, Math.exp((x / 0x7fffffff) * 8 - 3));
  }
  for (let i = 0; i < 100; i++) c.recordMemoryUsage();
  const srv = await lib.serve({ port: 0, collector: c });
  process.send({ url: srv.url });
  process.on('message', async (m) => {
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

export default async function bench() {
  const autocannon = require('autocannon');
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const rows = [];
  try {
    const { url } = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
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
