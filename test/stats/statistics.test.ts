// Statistics (src/stats): log-bucket edges, percentiles within 1 % of an exact sort (windowed and whole-history),
// empty statistics, time windows, sums after huge durations leave, cumulative buckets, windowed summaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { ProcessingStore } from '../../src/store/index.js';
import { BUCKETS, bucketLow, bucketOf, windowProcessingStats, statsFromAggregate, CUMULATIVE_BOUNDS_MS } from '../../src/stats/index.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function exactPercentile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

function assertClose(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null, `${what} is null`);
  const rel = expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / expected;
  assert.ok(rel <= 0.01, `${what}: ${actual} vs exact ${expected} (${(rel * 100).toFixed(3)} %)`);
}

const quiet = { probes: { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' as const }, gpu: { backend: 'none' as const } }) } };

test('bucket edges: every value lies in a bucket at most 1 % wide', () => {
  const r = rng(1);
  for (let i = 0; i < 10_000; i++) {
    const v = Math.exp(r() * 35 - 15);
    const b = bucketOf(v);
    assert.ok(b > 0 && b < BUCKETS - 1);
    const lo = bucketLow(b);
    const hi = bucketLow(b + 1);
    assert.ok(v >= lo && v < hi, `${v} not in [${lo}, ${hi})`);
    assert.ok((hi - lo) / lo <= 0.01);
  }
  assert.equal(bucketOf(0), 0);
});

for (const [name, gen] of [
  ['log-normal', (r: () => number) => Math.exp(2 + 1.5 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r()))],
  ['uniform 0-1000', (r: () => number) => r() * 1000],
  ['bimodal', (r: () => number) => (r() < 0.9 ? 1 + r() : 500 + r() * 500)],
] as const) {
  test(`percentiles are within 1 % of an exact sort (${name}), windowed and whole-history`, () => {
    const r = rng(name.length * 7919);
    const c = new PerformanceMetricsCollector({ maxHistorySize: 50_000 }, quiet);
    const values: number[] = [];
    for (let i = 0; i < 60_000; i++) {
      const v = gen(r);
      values.push(v);
      c.recordProcessingTime(i % 3 ? 'x' : 'y', v, { success: i % 10 !== 0 });
    }
    const held = values.slice(-50_000);
    const sorted = [...held].sort((a, b) => a - b);
    for (const stats of [c.getProcessingTimeStats(), c.getProcessingTimeStats({ durationMinutes: 10 })]) {
      assert.equal(stats.count, 50_000);
      assert.equal(stats.minDurationMs, sorted[0]);
      assert.equal(stats.maxDurationMs, sorted[sorted.length - 1]);
      assertClose(stats.avgDurationMs, held.reduce((a, b) => a + b, 0) / held.length, 'avg');
      assertClose(stats.p50DurationMs, exactPercentile(sorted, 0.5), 'p50');
      assertClose(stats.p90DurationMs, exactPercentile(sorted, 0.9), 'p90');
      assertClose(stats.p95DurationMs, exactPercentile(sorted, 0.95), 'p95');
      assertClose(stats.p99DurationMs, exactPercentile(sorted, 0.99), 'p99');
    }
    // one operation, whole history (running aggregates) and window (scan)
    const yHeld = values.map((v, i) => ({ v, i })).filter(({ i }) => i >= 10_000 && i % 3 === 0);
    const ySorted = yHeld.map((x) => x.v).sort((a, b) => a - b);
    for (const stats of [c.getProcessingTimeStats({ operation: 'y' }), c.getProcessingTimeStats({ operation: 'y', durationMinutes: 10 })]) {
      assert.equal(stats.count, ySorted.length);
      assert.equal(stats.minDurationMs, ySorted[0]);
      assert.equal(stats.maxDurationMs, ySorted[ySorted.length - 1]);
      assertClose(stats.p50DurationMs, exactPercentile(ySorted, 0.5), 'y p50');
      assertClose(stats.p99DurationMs, exactPercentile(ySorted, 0.99), 'y p99');
      const failures = yHeld.filter(({ i }) => i % 10 === 0).length;
      assert.equal(stats.failureCount, failures);
      assertClose(stats.successRate, ((ySorted.length - failures) / ySorted.length) * 100, 'successRate');
    }
    const summary = c.getOperationSummary();
    const windowed = c.getOperationSummary({ durationMinutes: 10 });
    for (const rows of [summary, windowed]) {
      const y = rows.find((s) => s.operation === 'y')!;
      assert.equal(y.count, ySorted.length);
      assertClose(y.p95DurationMs, exactPercentile(ySorted, 0.95), 'summary p95');
      assertClose(y.totalDurationMs, ySorted.reduce((a, b) => a + b, 0), 'summary total');
    }
    c.close();
  });
}

test('empty statistics: count 0 and null figures, never NaN or Infinity', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const all = [
    c.getProcessingTimeStats(),
    c.getProcessingTimeStats({ operation: 'none' }),
    c.getProcessingTimeStats({ durationMinutes: 1 }),
    c.getMemoryUsageStats(),
    c.getMemoryUsageStats({ durationMinutes: 1 }),
    c.getGpuUsageStats(),
    c.getGpuUsageStats({ gpuId: 3 }),
  ];
  for (const s of all) {
    assert.equal(s.count, 0);
    for (const [k, v] of Object.entries(s)) {
      if (k === 'count' || k === 'failureCount') assert.equal(v, 0);
      else assert.equal(v, null, k);
    }
  }
  assert.deepEqual(c.getOperationSummary(), []);
  assert.deepEqual(c.getOperationSummary({ durationMinutes: 5 }), []);
  c.close();
});

test('the time window holds exactly the records inside it', () => {
  const s = new ProcessingStore(1000, 10);
  const now = Date.now();
  for (let i = 0; i < 100; i++) s.push(now - (100 - i) * 60_000, s.operationId('a'), i, true, NaN, null, null, null);
  const from = s.lowerBound(now - 10 * 60_000);
  const w = windowProcessingStats(s, from, -1);
  assert.equal(w.count, 10);
  assert.equal(w.minDurationMs, 90);
  assert.equal(w.maxDurationMs, 99);
  const whole = statsFromAggregate(s.ops[0]);
  assert.equal(whole.count, 100);
});

test('whole-history sums agree with a recount after a huge duration leaves the ring', () => {
  // The running sum subtracts evicted durations: adding 1.5 to 1e17 is lost to
  // rounding, so once the 1e17 record left, the average read 1.515 for a
  // history of 100 x 1.5 (and the operation summary's total 151.5).
  const c = new PerformanceMetricsCollector({ maxHistorySize: 100 }, quiet);
  c.recordProcessingTime('op', 1e17);
  c.recordProcessingTime('other', 2);
  assert.equal(c.getProcessingTimeStats({ operation: 'op' }).maxDurationMs, 1e17);
  for (let i = 0; i < 99; i++) c.recordProcessingTime('op', 1.5);
  const whole = c.getProcessingTimeStats({ operation: 'op' });
  const window = c.getProcessingTimeStats({ operation: 'op', durationMinutes: 60 });
  assert.equal(whole.count, 99);
  assert.equal(whole.avgDurationMs, window.avgDurationMs);
  assert.equal(whole.avgDurationMs, 1.5);
  const all = c.getProcessingTimeStats();
  assert.equal(all.avgDurationMs, (99 * 1.5 + 2) / 100);
  const summary = new Map(c.getOperationSummary().map((o) => [o.operation, o]));
  assert.equal(summary.get('op')!.totalDurationMs, 99 * 1.5);
  assert.equal(summary.get('op')!.avgDurationMs, 1.5);
  c.close();
});

test('cumulative buckets count exactly, and survive trimming', () => {
  const c = new PerformanceMetricsCollector({ maxHistorySize: 100 }, quiet);
  const r = rng(5);
  const values: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const v = i % 50 === 0 ? CUMULATIVE_BOUNDS_MS[i % CUMULATIVE_BOUNDS_MS.length] : Math.exp(r() * 14 - 4);
    values.push(v);
    c.recordProcessingTime('op', v, { success: i % 4 !== 0 });
  }
  const cum = c.cumulativeOperationStats();
  assert.deepEqual(cum.boundsMs, CUMULATIVE_BOUNDS_MS);
  const op = cum.operations[0];
  assert.equal(op.count, 5000);
  assert.equal(op.failureCount, 1250);
  assertClose(op.sumMs, values.reduce((a, b) => a + b, 0), 'sum');
  cum.boundsMs.forEach((bound, j) => {
    assert.equal(op.bucketCounts[j], values.filter((v) => v <= bound).length, `le=${bound}`);
  });
  assert.equal(c.getProcessingTimeStats().count, 100);
  c.close();
});

test('windowed statistics over 1,000,000 records (speed figure in bench)', () => {
  const c = new PerformanceMetricsCollector({ maxHistorySize: 1_000_000 }, quiet);
  for (let i = 0; i < 1_000_000; i++) c.recordProcessingTime(i % 2 ? 'a' : 'b', (i % 1000) + 0.5);
  const s = c.getProcessingTimeStats({ durationMinutes: 60 });
  assert.equal(s.count, 1_000_000);
  assertClose(s.p50DurationMs, 499.5, 'p50');
  assertClose(s.p99DurationMs, 989.5, 'p99');
  c.close();
});

test('windowed operation summary agrees with exact figures for few and many operations', () => {
  for (const nOps of [3, 40]) {
    const c = new PerformanceMetricsCollector({}, quiet);
    const r = rng(nOps);
    // An hour old, outside the 5-minute window: the window is scanned, not read from the whole-history aggregates.
    const old = Date.now() - 3_600_000;
    c.importRecords({
      processing: Array.from({ length: 2 * nOps }, (_, i) => ({
        timestamp: old + i, operation: `op${i % nOps}`, durationMs: 1e6 + i, photoId: null, jobId: null, stage: null, success: false, errorMessage: null,
      })),
    });
    const byOp = new Map<string, number[]>();
    for (let i = 0; i < 8000; i++) {
      const op = `op${i % nOps}`;
      const v = Math.exp(r() * 6) * (1 + (i % nOps));
      c.recordProcessingTime(op, v, { success: r() > 0.1 });
      (byOp.get(op) ?? byOp.set(op, []).get(op)!).push(v);
    }
    const windowed = c.getOperationSummary({ durationMinutes: 5 });
    const whole = c.getOperationSummary();
    assert.equal(windowed.length, nOps);
    assert.deepEqual(windowed.map((w) => w.operation), whole.map((w) => w.operation));
    for (const w of windowed) {
      const vals = byOp.get(w.operation)!.sort((a, b) => a - b);
      assert.equal(w.count, vals.length);
      assertClose(w.p95DurationMs, exactPercentile(vals, 0.95), `${w.operation} p95 (${nOps} ops)`);
      assertClose(w.totalDurationMs, vals.reduce((a, b) => a + b, 0), 'total');
      const h = whole.find((x) => x.operation === w.operation)!;
      assert.equal(h.count, w.count + 2, 'the whole history holds the two old records too');
      assert.equal(h.totalDurationMs - w.totalDurationMs > 2e6, true);
    }
    c.close();
  }
});

test('a window that holds every record is answered from the whole-history aggregates, with the same figures', () => {
  for (const nOps of [3, 40]) {
    const c = new PerformanceMetricsCollector({}, quiet);
    const r = rng(nOps + 1);
    for (let i = 0; i < 5000; i++) c.recordProcessingTime(`op${i % nOps}`, Math.exp(r() * 6), { success: r() > 0.1 });
    assert.deepEqual(c.getOperationSummary({ durationMinutes: 60 }), c.getOperationSummary());
    assert.deepEqual(c.getProcessingTimeStats({ durationMinutes: 60 }), c.getProcessingTimeStats());
    assert.deepEqual(c.getProcessingTimeStats({ operation: 'op1', durationMinutes: 60 }), c.getProcessingTimeStats({ operation: 'op1' }));
    c.close();
  }
});

test('windowed statistics of all operations and of one, over a window that leaves old records out, agree with exact figures', () => {
  const s = new ProcessingStore(20_000, 100);
  const r = rng(99);
  const now = Date.now();
  const inWindow: number[][] = [[], [], []];
  for (let i = 0; i < 15_000; i++) {
    const op = s.operationId(`op${i % 3}`);
    const v = Math.exp(r() * 8 - 2);
    s.push(now - (15_000 - i) * 1000, op, v, true, NaN, null, null, null);
    if (i >= 5_000) inWindow[i % 3]!.push(v);
  }
  const from = s.lowerBound(now - 10_000 * 1000);
  assert.equal(from, 5_000);
  const all = inWindow.flat().sort((a, b) => a - b);
  const w = windowProcessingStats(s, from, -1);
  assert.equal(w.count, 10_000);
  assert.equal(w.minDurationMs, all[0]);
  assert.equal(w.maxDurationMs, all[all.length - 1]);
  for (const q of [0.5, 0.9, 0.99]) assertClose(q === 0.5 ? w.p50DurationMs : q === 0.9 ? w.p90DurationMs : w.p99DurationMs, exactPercentile(all, q), `all p${q * 100}`);
  const one = inWindow[1]!.sort((a, b) => a - b);
  const w1 = windowProcessingStats(s, from, 1);
  assert.equal(w1.count, one.length);
  assert.equal(w1.minDurationMs, one[0]);
  assertClose(w1.p95DurationMs, exactPercentile(one, 0.95), 'one operation p95');
});
