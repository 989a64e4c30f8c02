// perfprobe compare: synthetic exports with a known truth (seeded noise).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli-helpers.js';
import { compareOperation, mannWhitneyU, percentile } from '../../src/cli/compare.js';
import { PerformanceMetricsCollector } from '../../src/index.js';

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
  test('Mann-Whitney U matches the textbook value', () => {
    // Fully separated samples of 5: U = 0; normal approximation with continuity correction p = 0.01219.
    const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    assert.equal(r.u, 0);
    assert.ok(Math.abs(r.pValue - 0.01219) < 0.0002, String(r.pValue));
    const same = mannWhitneyU([1, 2, 3, 4], [1, 2, 3, 4]);
    assert.equal(same.pValue, 1);
  });

  test('percentiles interpolate', () => {
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(percentile([10], 0.95), 10);
    assert.equal(percentile([], 0.5), null);
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
    assert.equal(mixed.code, 1);
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

  test('bad input: one line, non-zero exit', async () => {
    const ok = file('ok.json', exportDoc({ a: [1, 2, 3] }));
    const cases: Array<[string[], number, RegExp]> = [
      [['compare', ok], 2, /expected two files/],
      [['compare', ok, join(dir, 'missing.json')], 1, /missing\.json: no such file/],
      [['compare', ok, file('bad.json', '{not json')], 1, /not valid JSON/],
      [['compare', ok, file('text.txt', 'not json\nat all\n')], 1, /text\.txt: not valid JSON/],
      [['compare', ok, file('other.json', '{"hello": 1}')], 1, /not a perfprobe JSON export/],
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
