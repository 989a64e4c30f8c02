// perfprobe compare: synthetic exports with a known truth (seeded noise).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync, writeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli-helpers.js';
import { compareOperation, exactPValue, exactUCounts, mannWhitneyU, percentile } from '../../src/cli/compare.js';
import { nearestRank, percentileOfSorted } from '../../src/stats/percentile.js';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { JSON_HEAD, jsonSample, jsonTail, type RunSummary } from '../../src/cli/run-report.js';
import type { Tick } from '../../src/cli/sampling.js';

/** mulberry32: a small seeded PRNG so the "noise" is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** n log-normal-ish durations around `medianMs` with relative spread `cv`. */
function durations(seed: number, n: number, medianMs: number, cv: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
    return medianMs * Math.exp(cv * z);
  });
}
function exportDoc(ops: Record<string, number[]>): string {
  const t0 = Date.parse('2026-11-27T16:00:00Z');
  const processing_metrics = Object.entries(ops).flatMap(([operation, ds]) =>
    ds.map((d, i) => ({
      timestamp: new Date(t0 + i).toISOString(), operation, duration_ms: d, photo_id: null, job_id: null,
      stage: null, success: true, error_message: null,
    })),
  );
  return JSON.stringify({
    export_time: new Date(t0).toISOString(), perfprobe_version: '0.1.0', processing_metrics,
    memory_metrics: [], gpu_metrics: [], summary: { operations: [], processing_stats: {}, memory_stats: {}, gpu_stats: {} },
  });
}

let dir: string;
const file = (name: string, body: string) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'perfprobe-compare-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('statistics', () => {
  test('Mann-Whitney U matches the textbook values: exact without ties, normal approximation with them', () => {
    // Fully separated samples of 5: U = 0; exact two-sided p = 2 / C(10, 5) = 2 / 252.
    const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    assert.equal(r.u, 0);
    assert.equal(r.method, 'exact');
    assert.equal(r.pValue, 2 / 252);
    // With ties: normal approximation with tie and continuity corrections.
    const same = mannWhitneyU([1, 2, 3, 4], [1, 2, 3, 4]);
    assert.equal(same.method, 'normal');
    assert.equal(same.pValue, 1);
    const tied = mannWhitneyU([1, 2, 3, 4, 5], [5, 7, 8, 9, 10]);
    assert.equal(tied.method, 'normal');
    assert.equal(tied.u, 0.5);
    // 50 or more per sample: the normal approximation (z with continuity correction 0.5).
    const big = mannWhitneyU(Array.from({ length: 50 }, (_, i) => i), Array.from({ length: 50 }, (_, i) => i + 0.5));
    assert.equal(big.method, 'normal');
  });

  test('the exact distribution of U equals brute-force enumeration of every ordering', () => {
    for (const [n1, n2] of [[1, 1], [2, 3], [3, 3], [4, 2], [3, 6], [5, 5]] as const) {
      const counts = new Array(n1 * n2 + 1).fill(0);
      // Every subset of n1 positions of n1 + n2 ranks for the first sample.
      for (let mask = 0; mask < 1 << (n1 + n2); mask++) {
        let bits = 0;
        for (let x = mask; x; x &= x - 1) bits++;
        if (bits !== n1) continue;
        let u = 0;
        for (let i = 0; i < n1 + n2; i++) for (let j = 0; j < i; j++) if (mask & (1 << i) && !(mask & (1 << j))) u++;
        counts[u]++;
      }
      assert.deepEqual(exactUCounts(n1, n2).map(Number), counts, `${n1} v ${n2}`);
    }
  });

  test("exact p-values at the published critical values of U (two-sided, alpha 0.05)", () => {
    // Critical values of the Mann-Whitney U tables (two-tailed 0.05): U <= crit is significant, crit + 1 is not.
    const table: Array<[number, number, number]> = [
      [3, 6, 1], [3, 8, 2], [4, 4, 0], [4, 8, 4], [5, 5, 2], [5, 7, 5], [6, 6, 5], [7, 7, 8], [8, 8, 13], [10, 10, 23], [12, 15, 49], [20, 20, 127],
    ];
    for (const [n1, n2, crit] of table) {
      assert.ok(exactPValue(crit, n1, n2) <= 0.05, `${n1} v ${n2}: U = ${crit} has p ${exactPValue(crit, n1, n2)}`);
      assert.ok(exactPValue(crit + 1, n1, n2) > 0.05, `${n1} v ${n2}: U = ${crit + 1} has p ${exactPValue(crit + 1, n1, n2)}`);
    }
    // Known exact values: 3 v 6 at U = 1 is 4 / 84; 8 v 8 at U = 13 is 0.0499 (the sizes).
    assert.equal(exactPValue(1, 3, 6), 4 / 84);
    assert.equal(Number(exactPValue(13, 8, 8).toFixed(4)), 0.0499);
    assert.equal(exactPValue(32, 8, 8), 1, 'U at the mean (n1 n2 / 2): p capped at 1');
  });

  test('small tie-free samples with the median up 13-16 % are a regression (the normal approximation said no change)', () => {
    // 3 v 6: one base value above one current value (U = 1), exact p = 0.0476.
    const base = [10, 10.4, 11.9];
    const cur = [11.5, 12.0, 12.2, 12.4, 12.6, 13.0];
    const r = compareOperation('op', base, cur, 5, 0.05);
    assert.equal(r.pValue, 4 / 84);
    assert.ok(r.p50ChangePercent! > 13 && r.p50ChangePercent! < 25, String(r.p50ChangePercent));
    assert.equal(r.verdict, 'regression');
  });

  test('percentiles are the nearest rank, the definition the statistics use', () => {
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
    assert.equal(percentile([1, 2, 3, 4, 5], 0.95), 5);
    assert.equal(percentile([1, 2, 3, 4, 5], 0.5), 3);
    assert.equal(percentile([10], 0.95), 10);
    assert.equal(percentile([], 0.5), null);
    assert.equal(percentile, percentileOfSorted);
    assert.equal(nearestRank(0.07, 100), 7, '0.07 * 100 = 7.000000000000001 is rank 7');
    assert.equal(nearestRank(0, 10), 1);
    assert.equal(nearestRank(1, 10), 10);
    // The collector's p50/p95 at n = 5 are the same values, within the per-operation histogram's resolution
    // (a page counts bucket pairs, 1.56 % wide: a rank reports the pair's midpoint, within 0.78 %; pairMid in
    // src/stats/histogram.ts). The interpolated definition compare used before differs by 5.6 % here.
    const c = new PerformanceMetricsCollector({ enableGpuTracking: false });
    const values = [3, 7, 20, 41, 90];
    for (const v of values) c.recordProcessingTime('op', v);
    const s = c.getProcessingTimeStats({ operation: 'op' });
    const r = compareOperation('op', values, values, 5, 0.05);
    assert.ok(Math.abs(s.p50DurationMs! - r.baseP50Ms!) <= r.baseP50Ms! * 0.0078, `${s.p50DurationMs} vs ${r.baseP50Ms}`);
    assert.ok(Math.abs(s.p95DurationMs! - r.baseP95Ms!) <= r.baseP95Ms! * 0.0078, `${s.p95DurationMs} vs ${r.baseP95Ms}`);
  });

  test('a big change on few noisy samples is not significant, so not a regression', () => {
    const base = [5, 20, 8, 30, 12];
    const cur = base.map((x) => x * 1.15);
    const r = compareOperation('op', base, cur, 5, 0.05);
    assert.ok(r.p50ChangePercent! > 5);
    assert.ok(r.pValue! > 0.05);
    assert.equal(r.verdict, 'no change');
  });

  test('a significant change smaller than the threshold is no change', () => {
    const base = durations(11, 400, 10, 0.01);
    const cur = durations(12, 400, 10.2, 0.01); // +2 %, very tight noise
    const r = compareOperation('op', base, cur, 5, 0.05);
    assert.ok(r.pValue! < 0.001, String(r.pValue));
    assert.equal(r.verdict, 'no change');
    assert.equal(compareOperation('op', base, cur, 1, 0.05).verdict, 'regression', 'with a 1 % threshold it counts');
  });
});

describe('perfprobe compare', () => {
  test('a clear regression exits 1 and says so per operation', async () => {
    const base = file('base.json', exportDoc({ decode: durations(1, 200, 10, 0.05), resize: durations(2, 200, 4, 0.05) }));
    const cur = file('cur.json', exportDoc({ decode: durations(3, 200, 12, 0.05), resize: durations(4, 200, 4, 0.05) }));
    const r = await runCli(['compare', base, cur]);
    assert.equal(r.code, 1, r.stderr);
    const decode = r.stdout.split('\n').find((l) => l.startsWith('decode'))!;
    const resize = r.stdout.split('\n').find((l) => l.startsWith('resize'))!;
    assert.match(decode, /regression$/);
    assert.match(decode, /\+(1[5-9]|2[0-5])\.\d%/, 'p50 change about +20 %');
    assert.match(resize, /no change$/);
    assert.match(r.stdout, /^operation\s+n base\s+n cur\s+p50 base ms/m);
    assert.match(r.stdout, /1 regression\(s\)/);

    const j = await runCli(['compare', base, cur, '--json']);
    assert.equal(j.code, 1);
    const doc = JSON.parse(j.stdout);
    const d = doc.operations.find((o: { operation: string }) => o.operation === 'decode');
    assert.equal(d.verdict, 'regression');
    assert.equal(d.baseCount, 200);
    assert.ok(d.p95ChangePercent > 10);
    assert.ok(d.pValue < 1e-6);
  });

  test('noise only is no change and exits 0', async () => {
    const base = file('noise-a.json', exportDoc({ decode: durations(21, 300, 10, 0.2), io: durations(22, 50, 3, 0.5) }));
    const cur = file('noise-b.json', exportDoc({ decode: durations(23, 300, 10, 0.2), io: durations(24, 50, 3, 0.5) }));
    const r = await runCli(['compare', base, cur]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^decode .*no change$/m);
    assert.match(r.stdout, /^io .*no change$/m);
    assert.match(r.stdout, /0 regression\(s\)/);
  });

  test('an improvement exits 0; added and removed operations are shown', async () => {
    const base = file('imp-a.json', exportDoc({ decode: durations(31, 200, 10, 0.05), old: durations(32, 20, 1, 0.1) }));
    const cur = file('imp-b.json', exportDoc({ decode: durations(33, 200, 7, 0.05), fresh: durations(34, 20, 1, 0.1) }));
    const r = await runCli(['compare', base, cur, '--threshold', '10%']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^decode .*-(2[5-9]|3[0-5])\.\d%.*improvement$/m);
    assert.match(r.stdout, /^old .*removed$/m);
    assert.match(r.stdout, /^fresh .*added$/m);
  });

  test('perfprobe run --json files are compared by wall time against the threshold', async () => {
    const run = (ms: number) => JSON.stringify({ perfprobe_run: 1, summary: { command: ['x'], durationMs: ms }, samples: [] });
    const a = file('run-a.json', run(1000));
    const b = file('run-b.json', run(1200));
    const c = file('run-c.json', run(1030));
    const slow = await runCli(['compare', a, b]);
    assert.equal(slow.code, 1);
    assert.match(slow.stdout, /wall time \(ms\).*\+20\.0%.*regression/);
    const close = await runCli(['compare', a, c]);
    assert.equal(close.code, 0);
    assert.match(close.stdout, /no change/);
    const mixed = await runCli(['compare', a, file('exp.json', exportDoc({ x: [1, 2, 3] }))]);
    assert.equal(mixed.code, 2, 'bad input, not a regression');
    assert.match(mixed.stderr, /same kind/);
  });

  test('real exports written by exportToJson() are compared', async () => {
    const write = async (sub: string, medianMs: number, seed: number) => {
      const c = new PerformanceMetricsCollector({ exportDirectory: join(dir, sub) });
      for (const d of durations(seed, 100, medianMs, 0.05)) c.recordProcessingTime('decode', d);
      return c.exportToJson();
    };
    const base = await write('real-a', 10, 41);
    const same = await write('real-b', 10, 42);
    const slow = await write('real-c', 13, 43);
    const ok = await runCli(['compare', base, same]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^decode\s+100\s+100 .*no change$/m);
    const bad = await runCli(['compare', base, slow]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /^decode .*regression$/m);
  });

  test('bad input: one line, exit 2 (1 means a regression), naming the file and the record', async () => {
    const ok = file('ok.json', exportDoc({ a: [1, 2, 3] }));
    const withRecord = (patch: Record<string, unknown>) => {
      const doc = JSON.parse(exportDoc({ a: [1, 2, 3] }));
      Object.assign(doc.processing_metrics[1], patch);
      return JSON.stringify(doc);
    };
    const cases: Array<[string[], number, RegExp]> = [
      [['compare', ok], 2, /expected two files/],
      [['compare', ok, join(dir, 'missing.json')], 2, /missing\.json: no such file/],
      [['compare', ok, file('bad.json', '{not json')], 2, /not valid JSON/],
      [['compare', ok, file('text.txt', 'not json\nat all\n')], 2, /text\.txt: not valid JSON/],
      [['compare', ok, file('other.json', '{"hello": 1}')], 2, /not a perfprobe JSON export/],
      [['compare', ok, file('negative.json', withRecord({ duration_ms: -4 }))], 2, /negative\.json: .*processing_metrics\[1\]\.duration_ms/],
      [['compare', ok, file('junk.json', withRecord({ duration_ms: 'fast' }))], 2, /junk\.json: .*processing_metrics\[1\]\.duration_ms/],
      [['compare', ok, file('noop.json', withRecord({ operation: 7 }))], 2, /noop\.json: .*processing_metrics\[1\]\.operation/],
      [['compare', ok, ok, '--threshold', 'five'], 2, /--threshold must be a percentage/],
      [['compare', ok, ok, '--threshold', '-5%'], 2, /--threshold/],
      [['compare', ok, ok, '--treshold', '5'], 2, /did you mean '--threshold'/],
    ];
    for (const [args, code, re] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});

/** A run summary as `perfprobe run` writes it (the fields compare reads: command, durationMs). */
function runSummary(durationMs: number, samples: number): RunSummary {
  return {
    command: ['node', 'train.js', '--epochs', '3'], startTime: '2026-12-02T07:00:00.000Z', exitCode: 0, signal: null, durationMs,
    userCpuMs: 51_000, systemCpuMs: 2_300, intervalMs: 100, samples, samplerBackend: 'native', peakRssMb: 812.5, peakRssSource: 'cgroup',
    avgRssMb: 640.1, peakSystemUsedMb: 9000, systemTotalMb: 24_000, avgGpuUtilizationPercent: 71.5, peakGpuUtilizationPercent: 99,
    peakGpuMemoryMb: 30_000, peakTreeGpuMemoryMb: 29_000, energyJoules: 12_345.6,
    gpus: [{ gpuId: 0, name: 'NVIDIA "H100" [summary]', avgLoadPercent: 71.5 } as never],
    gpuEvents: [{ elapsedMs: 1200, gpuId: 0, type: 'clock', text: '"samples": [] in a string, ] } {' } as never],
    gpuEventsDropped: 0,
  };
}
/** A sample of a one-GPU machine, as the sampler gives it. */
function runTick(i: number): Tick {
  return {
    timestamp: 1_796_000_000_000 + i * 100, systemTotalMb: 24_000, systemUsedMb: 8000 + (i % 97), systemAvailableMb: 16_000 - (i % 97), treeRssMb: 600 + (i % 13),
    gpus: [{ gpuId: 0, status: 'ok', loadPercent: i % 100, memoryUtilPercent: 40, memoryUsedMb: 28_000, memoryTotalMb: 81_559, temperatureCelsius: 61,
      powerWatts: 412.5, performanceState: 0, clocksEventReasons: 0, treeGpuMemoryMb: 27_000 } as never],
  };
}
/** Writes a run report the way `perfprobe run --json` does (head, one sample a line, tail); its size in bytes. */
function writeRunReport(path: string, durationMs: number, samples: number): number {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, JSON_HEAD);
    const t0 = runTick(0).timestamp;
    for (let i = 0; i < samples; ) {
      let chunk = '';
      for (const end = Math.min(samples, i + 4096); i < end; i++) chunk += jsonSample(runTick(i), t0, i === 0);
      writeSync(fd, chunk);
    }
    writeSync(fd, jsonTail(runSummary(durationMs, samples), samples > 0));
  } finally {
    closeSync(fd);
  }
  return statSync(path).size;
}

test('run reports are compared in bounded memory: a 200 MB report (its samples are skipped, not kept) compares under a 64 MB heap, as a small one', async () => {
  // The samples are scanned (the file must be valid JSON) but never kept. Before, all of them became
  // objects (600,000 here): the child ran out of its 64 MB heap.
  const bigBase = join(dir, 'big-run-a.json');
  const bigCur = join(dir, 'big-run-b.json');
  const size = writeRunReport(bigBase, 61_234.5, 600_000);
  writeRunReport(bigCur, 70_000.25, 600_000);
  assert.ok(size > 200 * 1048576, `the report is ${(size / 1048576).toFixed(0)} MB`);
  const HEAP_MB = 64;
  const big = await runCli(['compare', bigBase, bigCur, '--json'], { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` }, 600_000); // a hang guard, not a timing assertion
  assert.equal(big.code, 1, big.stderr.slice(0, 2000));
  const changePercent = ((70_000.25 - 61_234.5) / 61_234.5) * 100;
  assert.deepEqual(JSON.parse(big.stdout), { thresholdPercent: 5, durationMs: { base: 61_234.5, current: 70_000.25, changePercent, verdict: 'regression' } });
  // The same summaries in small reports, in every layout a writer could give (the writer's own, one line,
  // tabs, CRLF, no samples): the same answer, byte for byte.
  const small = (name: string, durationMs: number, layout: (doc: unknown) => string) => {
    const own = join(dir, `${name}-own.json`);
    writeRunReport(own, durationMs, 3);
    const doc = JSON.parse(readFileSync(own, 'utf8'));
    return file(`${name}.json`, layout(doc));
  };
  const layouts: Array<[string, (doc: unknown) => string]> = [
    ['own', (d) => JSON_HEAD + (d as { samples: Tick[] }).samples.map((t, i) => jsonSample(t, runTick(0).timestamp, i === 0)).join('') + jsonTail((d as { summary: RunSummary }).summary, true)],
    ['compact', (d) => JSON.stringify(d)],
    ['tabs', (d) => JSON.stringify(d, null, '\t')],
    ['crlf', (d) => JSON.stringify(d, null, 2).replace(/\n/g, '\r\n') + '\r\n'],
    ['empty', (d) => JSON.stringify({ ...(d as object), samples: [] })],
  ];
  for (const [name, layout] of layouts) {
    const a = small(`small-a-${name}`, 61_234.5, layout);
    const b = small(`small-b-${name}`, 70_000.25, layout);
    const json = await runCli(['compare', a, b, '--json']);
    assert.equal(json.code, 1, `${name}: ${json.stderr}`);
    assert.equal(json.stdout, big.stdout, name);
    if (name === 'own') assert.match((await runCli(['compare', a, b])).stdout, /^wall time \(ms\) +61235 +70000 +\+14\.3% +regression$/m);
  }
  rmSync(bigBase);
  rmSync(bigCur);
});

test('compare itself failing (EIO reading a file) exits 3 with the error on stderr, not 2 (bad input) nor 1 (a regression), and prints nothing', { skip: process.platform !== 'linux' && 'reads /proc/self/mem' }, async () => {
  // /proc/self/mem opens (it is the child's own) but reading it at offset 0,
  // an unmapped address, fails with EIO: a real read failure that is no fault of the input.
  const ok = file('eio-base.json', exportDoc({ a: [1, 2, 3] }));
  const r = await runCli(['compare', ok, '/proc/self/mem']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^perfprobe compare: internal error: Error: \/proc\/self\/mem: EIO: i\/o error/);
  assert.equal(r.stdout, '', 'no partial table or JSON');
  const json = await runCli(['compare', ok, '/proc/self/mem', '--json']);
  assert.equal(json.code, 3, json.stderr);
  assert.equal(json.stdout, '');
  // The user's own mistakes on the same path stay exit 2, one line.
  const dirArg = await runCli(['compare', ok, dir]);
  assert.equal(dirArg.code, 2, dirArg.stderr);
  assert.match(dirArg.stderr, /EISDIR/);
  assert.equal(dirArg.stderr.trim().split('\n').length, 1, dirArg.stderr);
});

test('130,000 operations compare without a crash: the table is printed, exit 0', async () => {
  const ops: Record<string, number[]> = {};
  for (let i = 0; i < 130_000; i++) ops[`op_${i}`] = [1 + (i % 7)];
  const body = exportDoc(ops);
  const a = file('many-a.json', body);
  const b = file('many-b.json', body);
  const r = await runCli(['compare', a, b], {}, 600_000); // a bound for a loaded machine (about 20 s here), not a timing assertion
  assert.equal(r.code, 0, r.stderr.slice(0, 500));
  assert.match(r.stdout, /^op_129999 +1 +1 .*too few samples$/m);
  assert.equal(r.stdout.trim().split('\n').length, 130_002, 'a header, one row per operation, the count line');
});
