// perfprobe run on long jobs (issue 10): the summary from running figures, equal to one computed from every
// sample; the samples streamed to the files, so memory does not grow with the run's length; a report that
// cannot be written never replaces the command's exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStats, StreamedFile } from '../../src/cli/run-stream.js';
import { JSON_HEAD, csvSampleRow, csvSamplesHeader, jsonSample, jsonTail, summarize, type RunFacts } from '../../src/cli/run-report.js';
import type { GpuTick, Tick } from '../../src/cli/sampling.js';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runCli } from '../helpers/cli-helpers.js';

/** A deterministic pseudo-random sequence in [0, 1). */
function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
}

function gpuTick(id: number, r: () => number, nulls: boolean): GpuTick {
  const maybe = (v: number) => (nulls && r() < 0.2 ? null : v);
  return {
    gpuId: id, loadPercent: maybe(Math.floor(r() * 100)), memoryUsedMb: maybe(r() * 8000), memoryTotalMb: 81920,
    temperatureCelsius: maybe(30 + Math.floor(r() * 50)), powerWatts: maybe(50 + r() * 300), treeGpuMemoryMb: maybe(r() * 2000),
  } as GpuTick;
}

function makeTick(i: number, t0: number, gpus: number, r: () => number, nulls = true): Tick {
  return {
    timestamp: t0 + i * 10 + Math.floor(r() * 3),
    systemTotalMb: 24000, systemUsedMb: 1000 + r() * 5000, systemAvailableMb: 20000,
    treeRssMb: nulls && r() < 0.1 ? null : r() * 900,
    gpus: Array.from({ length: gpus }, (_, g) => gpuTick(g, r, nulls)),
  };
}

const facts = (t0: number, durationMs: number): RunFacts => ({
  command: ['x'], startTime: t0, exitCode: 0, signal: null, durationMs, userCpuMs: 1, systemCpuMs: 1, intervalMs: 10,
  samplerBackend: 'native', gpuNames: new Map(), energyCounterJoules: new Map(),
});

// The figures as the report computed them from an array of every sample (before issue 10).
const maxOf = (v: Array<number | null>) => v.reduce<number | null>((m, x) => (x !== null && (m === null || x > m) ? x : m), null);
const avgOf = (v: Array<number | null>) => {
  const k = v.filter((x): x is number => x !== null);
  return k.length ? k.reduce((a, b) => a + b, 0) / k.length : null;
};
const round = (v: number | null, d = 2) => (v === null ? null : Number(v.toFixed(d)));
function energy(points: Array<{ t: number; w: number | null }>, start: number, end: number): number | null {
  const known = points.filter((p) => p.w !== null);
  if (!known.length) return null;
  const all = [{ t: Math.min(start, known[0]!.t), w: known[0]!.w }, ...points, { t: Math.max(end, known[known.length - 1]!.t), w: known[known.length - 1]!.w }];
  let j = 0;
  let any = false;
  for (let i = 1; i < all.length; i++) {
    const a = all[i - 1]!;
    const b = all[i]!;
    if (a.w === null || b.w === null || b.t <= a.t) continue;
    j += ((a.w + b.w) / 2) * ((b.t - a.t) / 1000);
    any = true;
  }
  return any ? j : null;
}

test('the summary from running figures equals the one computed from every sample', () => {
  for (const [seed, n, gpus] of [[1, 1, 1], [2, 2, 2], [3, 500, 3], [4, 3000, 2]] as const) {
    const r = rng(seed);
    const t0 = 1_700_000_000_000;
    const ticks = Array.from({ length: n }, (_, i) => makeTick(i, t0 + 5, gpus, r));
    const stats = new RunStats();
    for (const t of ticks) stats.add(t);
    const durationMs = n * 10 + 20;
    const s = summarize(facts(t0, durationMs), stats);
    assert.equal(s.samples, n);
    assert.equal(s.avgRssMb, round(avgOf(ticks.map((t) => t.treeRssMb))));
    assert.equal(s.peakRssMb, round(maxOf(ticks.map((t) => t.treeRssMb))));
    assert.equal(s.peakSystemUsedMb, round(maxOf(ticks.map((t) => t.systemUsedMb))));
    assert.equal(s.gpus.length, gpus);
    for (const g of s.gpus) {
      const rows = ticks.map((t) => ({ t: t.timestamp, g: t.gpus[g.gpuId]! }));
      const label = `seed ${seed} gpu ${g.gpuId}`;
      assert.equal(g.samples, n, label);
      assert.equal(g.avgUtilizationPercent, round(avgOf(rows.map((x) => x.g.loadPercent)), 1), label);
      assert.equal(g.peakUtilizationPercent, maxOf(rows.map((x) => x.g.loadPercent)), label);
      assert.equal(g.peakMemoryUsedMb, round(maxOf(rows.map((x) => x.g.memoryUsedMb))), label);
      assert.equal(g.peakTreeGpuMemoryMb, round(maxOf(rows.map((x) => x.g.treeGpuMemoryMb))), label);
      assert.equal(g.avgPowerWatts, round(avgOf(rows.map((x) => x.g.powerWatts))), label);
      assert.equal(g.peakPowerWatts, round(maxOf(rows.map((x) => x.g.powerWatts))), label);
      assert.equal(g.peakTemperatureCelsius, maxOf(rows.map((x) => x.g.temperatureCelsius)), label);
      const e = energy(rows.map((x) => ({ t: x.t, w: x.g.powerWatts })), t0, t0 + durationMs);
      assert.equal(g.energyJoules, round(e, 1), label);
      assert.equal(g.energySource, e === null ? null : 'integrated', label);
    }
  }
});

test('a GPU whose power is never known has no energy; a known reading is held back to the start, an unknown one ends the line', () => {
  const t0 = 1_700_000_000_000;
  const stats = new RunStats();
  const g = (w: number | null, id = 0) => ({ gpuId: id, loadPercent: 1, memoryUsedMb: 1, memoryTotalMb: 2, temperatureCelsius: 40, powerWatts: w, treeGpuMemoryMb: null }) as GpuTick;
  stats.add({ timestamp: t0 + 100, systemTotalMb: 1, systemUsedMb: 1, systemAvailableMb: 0, treeRssMb: 1, gpus: [g(null), g(100, 1)] });
  stats.add({ timestamp: t0 + 200, systemTotalMb: 1, systemUsedMb: 1, systemAvailableMb: 0, treeRssMb: 1, gpus: [g(null), g(null, 1)] });
  const s = summarize(facts(t0, 1000), stats);
  assert.equal(s.gpus[0]!.energyJoules, null);
  assert.equal(s.gpus[0]!.energySource, null);
  // 100 W held from the start to the first reading (0.1 s); the unknown reading after it ends the line
  // (nothing is integrated across or after an unknown reading): 10 J.
  assert.equal(s.gpus[1]!.energyJoules, 10);
  assert.equal(s.gpus[1]!.energySource, 'integrated');
});

test('streamed --json and samples.csv: every sample in order, the summary last, valid as one document', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-stream-'));
  try {
    const r = rng(7);
    const t0 = 1_700_000_000_000;
    const json = new StreamedFile('perfprobe run --json', join(dir, 'run.json'));
    const csv = new StreamedFile('perfprobe run --csv', join(dir, 'samples.csv'));
    json.push(JSON_HEAD);
    const stats = new RunStats();
    const expected: number[] = [];
    for (let batch = 0; batch < 40; batch++) {
      for (let i = 0; i < 50; i++) {
        const t = makeTick(batch * 50 + i, t0, 2, r);
        json.push(jsonSample(t, t0, stats.samples === 0));
        if (stats.samples === 0) csv.push(csvSamplesHeader([0, 1]));
        csv.push(csvSampleRow(t, t0, [0, 1]));
        stats.add(t);
        expected.push(t.timestamp);
      }
      await new Promise((res) => setImmediate(res)); // the writer runs between batches, as during a run
    }
    const summary = summarize(facts(t0, 20_100), stats);
    await json.end(jsonTail(summary, true));
    await csv.end('');
    const doc = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    assert.deepEqual(Object.keys(doc), ['perfprobe_run', 'samples', 'summary']);
    assert.equal(doc.perfprobe_run, 1);
    assert.deepEqual(doc.samples.map((x: Tick) => x.timestamp), expected);
    assert.equal(doc.samples[3].elapsedMs, Number((expected[3]! - t0).toFixed(1)));
    assert.deepEqual(doc.summary, JSON.parse(JSON.stringify(summary)));
    const lines = readFileSync(join(dir, 'samples.csv'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 2001);
    assert.match(lines[0]!, /^timestamp,elapsed_ms,.*,gpu1_tree_memory_mb$/);
    // No sample: still a valid document.
    const empty = new StreamedFile('perfprobe run --json', join(dir, 'empty.json'));
    empty.push(JSON_HEAD);
    await empty.end(jsonTail(summarize(facts(t0, 1), new RunStats()), false));
    const e = JSON.parse(readFileSync(join(dir, 'empty.json'), 'utf8'));
    assert.deepEqual(e.samples, []);
    assert.equal(e.summary.samples, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('memory does not grow with the run: 100,000 samples of 8 GPUs streamed add under 24 MB of heap', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // /dev/null is written in place: the bytes go nowhere, the code path is the one a file takes.
  const json = new StreamedFile('perfprobe run --json', '/dev/null');
  const csv = new StreamedFile('perfprobe run --csv', '/dev/null');
  json.push(JSON_HEAD);
  const stats = new RunStats();
  const r = rng(11);
  const t0 = Date.now();
  const ids = [0, 1, 2, 3, 4, 5, 6, 7];
  csv.push(csvSamplesHeader(ids));
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = 0;
  // 100 drains of 1,000 samples (a 1 ms run's 100 s): what every sample held would be ~150 MB.
  for (let d = 0; d < 100; d++) {
    for (let i = 0; i < 1000; i++) {
      const tick = makeTick(d * 1000 + i, t0, 8, r, false);
      json.push(jsonSample(tick, t0, stats.samples === 0));
      csv.push(csvSampleRow(tick, t0, ids));
      stats.add(tick);
    }
    await new Promise((res) => setImmediate(res));
    if (d % 10 === 9) {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    }
  }
  await json.end(jsonTail(summarize(facts(t0, 1e6), stats), true));
  await csv.end('');
  assert.equal(stats.samples, 100_000);
  assert.ok(peak < 24 * 1048576, `heap grew ${(peak / 1048576).toFixed(1)} MB over 100,000 samples`);
});

test('a report that cannot be written (a full disk) is said, and the exit code stays the command\'s', async () => {
  // /dev/full accepts the open, then every write fails with ENOSPC.
  for (const code of [0, 3]) {
    const r = await runCli(['run', '--interval', '20ms', '--json', '/dev/full', '--', 'sh', '-c', `sleep 0.2; exit ${code}`]);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, /cannot write \/dev\/full: .*ENOSPC/);
    assert.match(r.stderr, new RegExp(`the exit code \\(${code}\\) is the command's`));
    assert.match(r.stderr, /tree RSS\s+peak/, 'the summary is still printed');
  }
});
