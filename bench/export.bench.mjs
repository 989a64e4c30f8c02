// Exports and imports, each beside its peer or floor measured in the same run:
// - /metrics render for 10 operations with 10k and 1M stored records;
// - /metrics at 10,000 operations: a whole scrape over loopback HTTP, and the
//   longest the event loop was blocked during it (a 1 ms timer probe), beside
//   prom-client's registry.metrics() for a histogram with the same buckets and
//   10,000 label values;
// - JSON and CSV export of 1,000,000 processing records with metadata
//   (photoId, jobId, stage), beside JSON.stringify of the same records as
//   plain objects; peak RSS growth;
// - importFromJson of a 1,000,000-record export beside JSON.parse(readFileSync())
//   of the same file, with the peak RSS (the kernel's VmHWM) of both;
// - importFromJson of one-line files (as `jq -c` writes them) of ~23, 46 and
//   92 MB: the time should double with the size (linear).
// The heavy rows run in child processes, peer and perfprobe interleaved
// (ABAB...), and report the median and range of their runs.
//
// Run through `npm run bench` (after `npx tsc -p tsconfig.json`), or
// `node bench/export.bench.mjs` to print the rows. EXPORT_BENCH=metrics,json,
// csv,import,oneline picks groups; PERFPROBE_BENCH_DIST=<dir> measures another
// build's dist/ (for before/after figures of the same run).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { PerformanceObserver } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));
const DIST = process.env.PERFPROBE_BENCH_DIST || join(here, '..', 'dist');
const OPS = Array.from({ length: 10 }, (_, i) => `operation_${i}`);
const STAGES = ['exif', 'ai_evaluation', 'preset_selection', 'export'];
const MILLION = 1_000_000;
const groups = new Set((process.env.EXPORT_BENCH || 'metrics,json,csv,import,oneline').split(','));
process.env.PERFPROBE_NO_WARNINGS ??= '1';

function load(dist = DIST) {
  return require(join(dist, 'index.js'));
}

/** Fills `c` with n processing records over `ops` (log-normal-ish durations); `meta` adds photoId, jobId and stage. */
function fill(c, n, { ops = OPS, meta = false } = {}) {
  let x = 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const d = Math.exp((x / 0x7fffffff) * 8 - 3); // 0.05 ms .. 150 ms
    const failed = i % 50 === 0;
    const m = meta ? { photoId: i, jobId: `job_${i >> 10}`, stage: STAGES[i & 3] } : undefined;
    c.recordProcessingTime(ops[i % ops.length], d, failed ? { ...m, success: false, errorMessage: 'e' } : m);
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const range = (a) => `${Math.min(...a).toFixed(0)}-${Math.max(...a).toFixed(0)}`;

/** Peak resident set size of this process so far (the kernel's high-water mark), bytes. */
function peakRss() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage.rss();
}

async function perCallUs(fn, { batches = 7, iterations = 2000 } = {}) {
  for (let i = 0; i < 300; i++) await fn();
  const means = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    means.push(Number(process.hrtime.bigint() - t0) / 1000 / iterations);
  }
  return median(means);
}

// ---------------------------------------------------------------- children

const children = {
  /** Writes a 1M-record export (no metadata) to argv path; with `oneline`, rewritten as `jq -c` would (one line). */
  async make(path, n, layout) {
    const lib = load();
    const dir = mkdtempSync(join(tmpdir(), 'perfprobe-bench-make-'));
    try {
      const c = new lib.PerformanceMetricsCollector({ maxHistorySize: Number(n), exportDirectory: dir, enableGpuTracking: false });
      fill(c, Number(n));
      const file = await c.exportToJson();
      const text = readFileSync(file, 'utf8');
      writeFileSync(path, layout === 'oneline' ? `${JSON.stringify(JSON.parse(text))}\n` : text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return {};
  },
  /** importFromJson of argv path into a fresh collector: time, and peak RSS growth over the loaded library. */
  async import(path, n) {
    const lib = load();
    const d = new lib.PerformanceMetricsCollector({ maxHistorySize: Number(n), enableGpuTracking: false });
    globalThis.gc?.();
    const base = process.memoryUsage.rss();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await d.importFromJson(path);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    if (d.getProcessingTimeStats().count !== Number(n)) throw new Error('import lost records');
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, peakGrowthMb: (peakRss() - base) / 1048576 };
  },
  /** JSON.parse(readFileSync()) of argv path: the peer. */
  async parse(path) {
    load(); // the same baseline as the import child
    globalThis.gc?.();
    const base = process.memoryUsage.rss();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    if (!Array.isArray(doc.processing_metrics)) throw new Error('not an export');
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, peakGrowthMb: (peakRss() - base) / 1048576 };
  },
  /**
   * The floor under both JSON writers: the text of the same 1M durations (the export's only doubles that are not
   * integers), as String(x) builds it (what JSON.stringify pays per number) and as the export's writeNumber writes it.
   */
  async numbers() {
    const { writeNumber } = require(join(DIST, 'exporters', 'files', 'number-text.js'));
    const { ByteSink } = require(join(DIST, 'exporters', 'files', 'byte-sink.js'));
    const d = new Float64Array(MILLION);
    let x = 1;
    for (let i = 0; i < MILLION; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      d[i] = Math.exp((x / 0x7fffffff) * 8 - 3);
    }
    const o = new ByteSink(async () => undefined);
    const stringMs = [];
    const ownMs = [];
    let chars = 0;
    for (let r = 0; r < 5; r++) {
      let t0 = process.hrtime.bigint();
      for (let i = 0; i < MILLION; i++) chars += String(d[i]).length;
      stringMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      for (let i = 0; i < MILLION; i++) {
        writeNumber(d[i], o);
        if (o.pos > 1 << 18) o.pos = 0;
      }
      ownMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { stringMs: median(stringMs), ownMs: median(ownMs), chars };
  },
  /** One export of 1M records with metadata: kind json | csv | stringify (the peer: JSON.stringify of plain objects). */
  async export(kind, dist) {
    const lib = load(dist || DIST);
    const dir = mkdtempSync(join(tmpdir(), 'perfprobe-bench-export-'));
    try {
      const c = new lib.PerformanceMetricsCollector({ maxHistorySize: MILLION, exportDirectory: dir, enableGpuTracking: false });
      fill(c, MILLION, { meta: true });
      let plain;
      if (kind === 'stringify') {
        // The same records as plain objects in the export's shape (snake_case keys, ISO timestamps), built before the clock starts.
        plain = [];
        for (const r of c.processingRecords()) {
          plain.push({
            timestamp: new Date(r.timestamp).toISOString(), operation: r.operation, duration_ms: r.durationMs, photo_id: r.photoId,
            job_id: r.jobId, stage: r.stage, success: r.success, error_message: r.errorMessage,
          });
        }
      }
      globalThis.gc?.();
      globalThis.gc?.();
      const base = process.memoryUsage.rss();
      let peak = base;
      const timer = setInterval(() => {
        const r = process.memoryUsage.rss();
        if (r > peak) peak = r;
      }, 2);
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      let bytes;
      if (kind === 'stringify') bytes = JSON.stringify({ processing_metrics: plain }).length;
      else bytes = statSync(kind === 'json' ? await c.exportToJson() : await c.exportToCsv('processing')).size;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000, rssGrowthMb: (peak - base) / 1048576, fileMb: bytes / 1048576 };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function runChild(kind, ...args) {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', kind, ...args.map(String)], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`bench child (${kind} ${args.join(' ')}) failed: ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Runs each of `kinds` (child argument lists) `rounds` times, interleaved; returns the runs per kind. */
function interleaved(kinds, rounds = 3) {
  const out = kinds.map(() => []);
  for (let r = 0; r < rounds; r++) {
    // ABAB...: rotate the order each round so no kind always runs first.
    for (let k = 0; k < kinds.length; k++) {
      const i = (k + r) % kinds.length;
      out[i].push(runChild(...kinds[i]));
    }
  }
  return out;
}

// ---------------------------------------------------------------- /metrics

/** The exposition text of `collector` through a loopback HTTP server; resolves { ms, maxBlockMs, bytes }. */
// The scraper: a separate process, as Prometheus is (a client in the server's own process would spend the
// server's thread parsing what it sends). Each line on its stdin is a URL; it GETs it and answers one JSON line.
const SCRAPER = `
const { request } = require('node:http');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (url) => {
  const t0 = performance.now();
  const req = request(url, (res) => {
    let n = 0;
    res.on('data', (d) => (n += d.length));
    res.on('end', () => process.stdout.write(JSON.stringify({ ms: performance.now() - t0, bytes: n, status: res.statusCode }) + '\\n'));
  });
  req.on('error', (e) => process.stdout.write(JSON.stringify({ error: String(e) }) + '\\n'));
  req.end();
});`;

/** A scraper child process; scrape(url) resolves with { ms, bytes } as it measured them. */
function startScraper() {
  const child = spawn(process.execPath, ['-e', SCRAPER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      waiting.shift()?.(JSON.parse(line));
    }
  });
  return {
    scrape: (url) =>
      new Promise((resolve, reject) => {
        waiting.push((r) => (r.error || r.status !== 200 ? reject(new Error(`scrape failed: ${r.error ?? r.status}`)) : resolve(r)));
        child.stdin.write(`${url}\n`);
      }),
    close: () => child.kill(),
  };
}

/**
 * One GET /metrics through perfprobe's own handler (createMetricsHandler: the route `serve` uses, streamed in
 * slices), fetched by `client`: { ms } from the client's request to its last byte, and the longest event-loop
 * block in the server during it (a 1 ms timer probe).
 */
async function scrapeOverHttp(lib, collector, client) {
  const server = createServer(lib.createMetricsHandler(collector, { gpuMetricNames: 'perfprobe' }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  // The event-loop probe: a 1 ms timer; the longest gap between two of its runs, less 1 ms, is the longest block.
  // The garbage collector's pauses meanwhile (perf_hooks 'gc' entries): the longest one, and whether the longest block held it.
  let last = performance.now();
  let maxGap = 0;
  let gapAt = [last, last];
  const probe = setInterval(() => {
    const now = performance.now();
    if (now - last > maxGap) {
      maxGap = now - last;
      gapAt = [last, now];
    }
    last = now;
  }, 1);
  const gcs = [];
  const gcObserver = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  try {
    const r = await client.scrape(`http://127.0.0.1:${port}/metrics`);
    await new Promise((resolve) => setImmediate(resolve)); // the observer's last entries
    const gcMaxMs = Math.max(0, ...gcs.map((e) => e.duration));
    const gcInBlockMs = gcs.filter((e) => e.startTime >= gapAt[0] && e.startTime < gapAt[1]).reduce((a, e) => a + e.duration, 0);
    return { ms: r.ms, maxBlockMs: Math.max(0, maxGap - 1), gcMaxMs, gcInBlockMs, bytes: r.bytes };
  } finally {
    gcObserver.disconnect();
    clearInterval(probe);
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
}

/** The same scrape fetched by a client in this process (the server's thread also reads and counts the bytes). */
function inProcessClient() {
  return {
    scrape: (url) =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        const req = request(url, (res) => {
          let n = 0;
          res.on('data', (d) => (n += d.length));
          res.on('end', () => resolve({ ms: performance.now() - t0, bytes: n }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      }),
  };
}

async function metricsRows(rows) {
  const lib = load();
  const { Registry, Histogram } = require('prom-client');

  // 10 operations: one collector with 10k records, one with 1M, measured alternately (median of 5 rounds).
  const small = new lib.PerformanceMetricsCollector({ maxHistorySize: MILLION, enableGpuTracking: false });
  const big = new lib.PerformanceMetricsCollector({ maxHistorySize: MILLION, enableGpuTracking: false });
  const bounds = small.cumulativeOperationStats().boundsMs;
  const registry = new Registry();
  const hist = new Histogram({
    name: 'peer_operation_duration_seconds', help: 'peer', labelNames: ['operation'], buckets: bounds.map((b) => b / 1000), registers: [registry],
  });
  fill(small, 10_000);
  fill(big, MILLION);
  for (const r of small.processingRecords()) hist.observe({ operation: r.operation }, r.durationMs / 1000);
  const eSmall = new lib.PrometheusExporter(small);
  const eBig = new lib.PrometheusExporter(big);
  const t10k = [];
  const t1m = [];
  const tPeer = [];
  for (let round = 0; round < 5; round++) {
    t10k.push(await perCallUs(() => eSmall.render(), { batches: 3 }));
    t1m.push(await perCallUs(() => eBig.render(), { batches: 3 }));
    tPeer.push(await perCallUs(() => registry.metrics(), { batches: 3, iterations: 300 }));
  }
  const ours10k = median(t10k);
  const ours1m = median(t1m);
  rows.push({
    section: 'exports', name: '/metrics render, 10 operations, 10k records stored', value: ours10k, unit: 'us',
    peer: { name: 'prom-client registry.metrics()', value: median(tPeer) }, target: '<= 50 us', pass: ours10k <= 50,
  });
  rows.push({
    section: 'exports', name: '/metrics render, 10 operations, 1M records stored', value: ours1m, unit: 'us',
    target: '<= 50 us, within 1.5x of the 10k figure', pass: ours1m <= 50 && ours1m <= ours10k * 1.5,
  });
  small.close();
  big.close();

  // 10,000 operations, 10 records each; prom-client holds the same observations under 10,000 label values.
  const OPS10K = Array.from({ length: 10_000 }, (_, i) => `operation_${String(i).padStart(5, '0')}`);
  const many = new lib.PerformanceMetricsCollector({ maxHistorySize: 100_000, maxOperations: 10_000, enableGpuTracking: false });
  fill(many, 100_000, { ops: OPS10K });
  const peerReg = new Registry();
  const peerHist = new Histogram({
    name: 'peer_operation_duration_seconds', help: 'peer', labelNames: ['operation'], buckets: bounds.map((b) => b / 1000), registers: [peerReg],
  });
  for (const r of many.processingRecords()) peerHist.observe({ operation: r.operation }, r.durationMs / 1000);
  const eMany = new lib.PrometheusExporter(many, { liveGpu: false });
  const scraper = startScraper();
  const local = inProcessClient();
  // The transport's floor: the same scraper fetching a prebuilt buffer of the same size, sent with one res.end().
  const floorBody = Buffer.from(eMany.render());
  const floorServer = createServer((_req, res) => res.end(floorBody));
  await new Promise((r) => floorServer.listen(0, '127.0.0.1', r));
  const floorUrl = `http://127.0.0.1:${floorServer.address().port}/`;
  const floors = [];
  await scrapeOverHttp(lib, many, scraper); // warm up
  await scrapeOverHttp(lib, many, local);
  const scrapes = [];
  const localScrapes = [];
  const blocks = [];
  const renders = [];
  const peers = [];
  const snaps = [];
  const streams = [];
  const nullSink = () => new Writable({ write: (_c, _e, cb) => cb() });
  let bytes = 0;
  try {
    for (let round = 0; round < 7; round++) {
      // New records for every operation between scrapes: no part of the exposition is unchanged.
      for (let i = 0; i < OPS10K.length; i++) many.recordProcessingTime(OPS10K[i], 1 + (round % 7));
      // The scrape's two parts, server side: the snapshot (the store folds the new records in, then
      // cumulativeOperationStats()), and the text streamed into a writable that drops it.
      let t0 = performance.now();
      const snap = eMany.snapshot();
      snaps.push(performance.now() - t0);
      t0 = performance.now();
      await eMany.stream(nullSink(), false, snap);
      streams.push(performance.now() - t0);
      for (let i = 0; i < OPS10K.length; i++) many.recordProcessingTime(OPS10K[i], 2 + (round % 7));
      // The heap collected first: what the bench's own steps before it left behind (the previous round's render(), an 18 MB string, among them) is not the scrape's to pay.
      globalThis.gc?.();
      const s = await scrapeOverHttp(lib, many, scraper);
      scrapes.push(s.ms);
      blocks.push(s);
      bytes = s.bytes;
      floors.push((await scraper.scrape(floorUrl)).ms);
      for (let i = 0; i < OPS10K.length; i++) many.recordProcessingTime(OPS10K[i], 3 + (round % 7));
      localScrapes.push((await scrapeOverHttp(lib, many, local)).ms);
      t0 = performance.now();
      eMany.render();
      renders.push(performance.now() - t0);
    }
    // The peer in a phase of its own, after ours: each registry.metrics() leaves ~100 MB of garbage whose
    // collection (V8's background sweeping, on one of the 2 cores) slowed the scrape after it 2x when the two
    // alternated, a gc() between them notwithstanding.
    for (let round = 0; round < 7; round++) {
      const t0 = performance.now();
      await peerReg.metrics();
      peers.push(performance.now() - t0);
    }
  } finally {
    scraper.close();
    floorServer.closeAllConnections?.();
    await new Promise((r) => floorServer.close(r));
  }
  const scrape = median(scrapes);
  const worst = blocks.reduce((a, b) => (b.maxBlockMs > a.maxBlockMs ? b : a));
  const block = worst.maxBlockMs;
  rows.push({
    section: 'exports', name: `/metrics scrape over HTTP, 10,000 operations, scraper in another process as Prometheus is (${(bytes / 1048576).toFixed(1)} MB; median of 7, range ${range(scrapes)} ms)`,
    value: scrape, unit: 'ms', peer: { name: 'prom-client registry.metrics(), same buckets and label values (text only, no HTTP)', value: median(peers) },
    target: '<= 50 ms', pass: scrape <= 50,
  });
  rows.push({
    section: 'exports',
    name: `floor: the same scraper fetching ${(floorBody.length / 1048576).toFixed(1)} MB prebuilt, sent with one res.end() (HTTP transport alone; median of 7, range ${range(floors)} ms)`,
    value: median(floors), unit: 'ms',
  });
  rows.push({
    section: 'exports', name: `/metrics scrape over HTTP, 10,000 operations, client in the server's process (it reads the 18 MB on the server's thread; median of 7, range ${range(localScrapes)} ms)`,
    value: median(localScrapes), unit: 'ms', peer: { name: 'prom-client registry.metrics()', value: median(peers) },
  });
  rows.push({
    section: 'exports',
    name: `/metrics at 10,000 operations: longest event-loop block in the server during a scrape (worst of 7, 1 ms timer probe; heap collected before each; GC pauses in that block ${worst.gcInBlockMs.toFixed(1)} ms)`,
    value: block, unit: 'ms', target: '<= 20 ms', pass: block <= 20,
  });
  rows.push({
    section: 'exports', name: '/metrics at 10,000 operations: longest GC pause in the server during those scrapes (perf_hooks gc entries, worst of 7)',
    value: Math.max(...blocks.map((b) => b.gcMaxMs)), unit: 'ms',
  });
  {
    rows.push({
      section: 'exports', name: `/metrics at 10,000 operations, server side: snapshot after 10,000 new records (fold + cumulativeOperationStats; median of 7, range ${range(snaps)} ms)`,
      value: median(snaps), unit: 'ms',
    });
    rows.push({
      section: 'exports', name: `/metrics at 10,000 operations, server side: stream() of the text into a null writable (median of 7, range ${range(streams)} ms)`,
      value: median(streams), unit: 'ms', peer: { name: 'prom-client registry.metrics()', value: median(peers) },
    });
  }
  rows.push({
    section: 'exports', name: `/metrics render() to one string, 10,000 operations (median of 7, range ${range(renders)} ms)`, value: median(renders), unit: 'ms',
    peer: { name: 'prom-client registry.metrics()', value: median(peers) },
  });
  many.close();
}

// ---------------------------------------------------------------- files

function exportRows(rows, which) {
  const kinds = [['export', 'stringify']];
  if (which.has('json')) kinds.push(['export', 'json']);
  if (which.has('csv')) kinds.push(['export', 'csv']);
  // EXPORT_BENCH_BASELINE=<dist dir>: the same JSON/CSV rows of another build, interleaved in the same run (before/after figures).
  const baseline = process.env.EXPORT_BENCH_BASELINE;
  if (baseline) {
    if (which.has('json')) kinds.push(['export', 'json', baseline]);
    if (which.has('csv')) kinds.push(['export', 'csv', baseline]);
  }
  const runs = interleaved(kinds, Number(process.env.EXPORT_BENCH_ROUNDS || 3));
  const peer = median(runs[0].map((r) => r.ms));
  const byKind = Object.fromEntries(kinds.map((k, i) => [k[2] ? `${k[1]}-baseline` : k[1], runs[i]]));
  if (byKind.json) {
    const f = runChild('numbers');
    rows.push({
      section: 'exports', name: 'floor: String(x) of the 1M durations of the JSON export (JSON.stringify pays it per number; median of 5)', value: f.stringMs, unit: 'ms',
      peer: { name: 'JSON.stringify of the records (same run)', value: peer },
    });
    rows.push({
      section: 'exports', name: 'the same 1M durations through the export\'s writeNumber (same text, into bytes; median of 5)', value: f.ownMs, unit: 'ms',
      peer: { name: 'String(x) of the same numbers', value: f.stringMs },
    });
  }
  for (const kind of ['json', 'csv']) {
    const b = byKind[`${kind}-baseline`];
    if (!b) continue;
    rows.push({
      section: 'exports', name: `${kind.toUpperCase()} export, 1M records, baseline build ${baseline} (median of ${b.length}, range ${range(b.map((r) => r.ms))} ms; CPU ${median(b.map((r) => r.cpuMs)).toFixed(0)} ms)`,
      value: median(b.map((r) => r.ms)), unit: 'ms', peer: { name: 'JSON.stringify of the same records as plain objects (no file)', value: peer },
    });
  }
  const json = byKind.json;
  const csv = byKind.csv;
  if (json) {
    const ms = median(json.map((r) => r.ms));
    const ranges = `range ${range(json.map((r) => r.ms))} ms; JSON.stringify ${range(runs[0].map((r) => r.ms))} ms`;
    rows.push({
      section: 'exports', name: `JSON export, 1,000,000 processing records with photoId/jobId/stage (median of ${json.length}, ${ranges})`, value: ms, unit: 'ms',
      peer: { name: 'JSON.stringify of the same records as plain objects (no file)', value: peer }, target: '>= 2x faster than JSON.stringify', pass: peer / ms >= 2,
    });
    rows.push({ section: 'exports', name: 'JSON export CPU time, 1M records (main + I/O threads)', value: median(json.map((r) => r.cpuMs)), unit: 'ms' });
    const rss = Math.max(...json.map((r) => r.rssGrowthMb));
    rows.push({ section: 'exports', name: `JSON export peak RSS growth (1M records, worst of ${json.length})`, value: rss, unit: 'MB', target: '<= 64 MB', pass: rss <= 64 });
    rows.push({ section: 'exports', name: 'JSON file size per 10,000 records (with metadata)', value: json[0].fileMb / 100, unit: 'MB', peer: { name: 'seed (~1 MB)', value: 1 } });
  }
  if (csv) {
    const ms = median(csv.map((r) => r.ms));
    const jsonMs = json ? median(json.map((r) => r.ms)) : NaN;
    rows.push({
      section: 'exports', name: `CSV export, 1,000,000 rows with photoId/jobId/stage (median of ${csv.length}, range ${range(csv.map((r) => r.ms))} ms)`, value: ms, unit: 'ms',
      peer: json ? { name: 'perfprobe JSON export of the same records', value: jsonMs } : undefined,
      target: 'no slower than the JSON export', pass: json ? ms <= jsonMs : undefined,
    });
    rows.push({ section: 'exports', name: 'CSV export CPU time, 1M rows (main + I/O threads)', value: median(csv.map((r) => r.cpuMs)), unit: 'ms' });
    const rss = Math.max(...csv.map((r) => r.rssGrowthMb));
    rows.push({ section: 'exports', name: `CSV export peak RSS growth (1M rows, worst of ${csv.length})`, value: rss, unit: 'MB', target: '<= 64 MB', pass: rss <= 64 });
    rows.push({ section: 'exports', name: 'CSV file size per 10,000 rows (with metadata)', value: csv[0].fileMb / 100, unit: 'MB', peer: { name: 'seed (~0.5 MB)', value: 0.5 } });
  }
}

function importRows(rows, dir) {
  const file = join(dir, 'export-1m.json');
  runChild('make', file, MILLION, 'own');
  const mb = statSync(file).size / 1048576;
  const [ours, peer] = interleaved([['import', file, MILLION], ['parse', file]]);
  const ms = median(ours.map((r) => r.ms));
  const peerMs = median(peer.map((r) => r.ms));
  rows.push({
    section: 'exports',
    name: `importFromJson, 1,000,000 processing records (${mb.toFixed(0)} MB; median of 3, range ${range(ours.map((r) => r.ms))} ms; JSON.parse ${range(peer.map((r) => r.ms))} ms)`,
    value: ms, unit: 'ms', peer: { name: 'JSON.parse(readFileSync()) of the same file', value: peerMs },
    target: 'at least as fast as JSON.parse', pass: ms <= peerMs,
  });
  rows.push({
    section: 'exports', name: 'importFromJson CPU time, 1M records (main + I/O threads; median of 3)', value: median(ours.map((r) => r.cpuMs)), unit: 'ms',
    peer: { name: 'JSON.parse(readFileSync()) CPU time', value: median(peer.map((r) => r.cpuMs)) },
  });
  const rss = Math.max(...ours.map((r) => r.peakGrowthMb));
  const peerRss = Math.max(...peer.map((r) => r.peakGrowthMb));
  rows.push({
    section: 'exports', name: 'importFromJson peak RSS growth, 1M records (VmHWM, worst of 3; the imported history included)', value: rss, unit: 'MB',
    peer: { name: 'JSON.parse(readFileSync()) of the same file', value: peerRss }, target: 'below JSON.parse', pass: rss < peerRss,
  });
}

function onelineRows(rows, dir) {
  // ~23, 46 and 92 MB one-line files (about 174 bytes per record).
  const sizes = [138_000, 276_000, 552_000];
  const files = sizes.map((n) => {
    const f = join(dir, `oneline-${n}.json`);
    runChild('make', f, n, 'oneline');
    return f;
  });
  const runs = interleaved(files.map((f, i) => ['import', f, sizes[i]]));
  const ms = runs.map((r) => median(r.map((x) => x.ms)));
  files.forEach((f, i) => {
    const mb = statSync(f).size / 1048576;
    rows.push({
      section: 'exports', name: `importFromJson, one-line file (jq -c layout), ${mb.toFixed(0)} MB (median of 3, range ${range(runs[i].map((x) => x.ms))} ms; CPU ${median(runs[i].map((x) => x.cpuMs)).toFixed(0)} ms)`,
      value: ms[i], unit: 'ms',
      ...(i > 0 ? { target: 'time ratio to the half-size file ~2x (linear)', pass: ms[i] / ms[i - 1] <= 2.5 } : {}),
    });
  });
  const mbs = files.map((f) => (statSync(f).size / 1048576).toFixed(0));
  rows.push({ section: 'exports', name: `importFromJson one-line: time ratio ${mbs[1]} MB / ${mbs[0]} MB`, value: ms[1] / ms[0], unit: 'x', target: '~2 (linear)', pass: ms[1] / ms[0] <= 2.5 });
  rows.push({ section: 'exports', name: `importFromJson one-line: time ratio ${mbs[2]} MB / ${mbs[1]} MB`, value: ms[2] / ms[1], unit: 'x', target: '~2 (linear)', pass: ms[2] / ms[1] <= 2.5 });
}

// ---------------------------------------------------------------- main

export default async function bench() {
  const rows = [];
  if (groups.has('metrics')) await metricsRows(rows);
  if (groups.has('json') || groups.has('csv')) exportRows(rows, groups);
  if (groups.has('import') || groups.has('oneline')) {
    const dir = mkdtempSync(join(tmpdir(), 'perfprobe-bench-import-'));
    try {
      if (groups.has('import')) importRows(rows, dir);
      if (groups.has('oneline')) onelineRows(rows, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

if (process.argv[2] === '--child') {
  const out = await children[process.argv[3]](...process.argv.slice(4));
  process.stdout.write(`${JSON.stringify(out)}\n`);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await bench()) console.log(JSON.stringify(r));
}
