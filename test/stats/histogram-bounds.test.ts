// The per-operation histograms are bounded (src/stats/aggregates.ts: octave counts, pages of 64 bucket-pair counts from one
// pool of at most MAX_PAGES): the worst case at the 10,000-operation cap (every operation spread over 40 octaves)
// stays under the README's figure, pages are given back when evictions narrow the range, and percentiles stay
// within 1 % while an octave has its page (within a factor sqrt(2) when the pool ran out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { ProcessingStore } from '../../src/store/processing.js';
import { AGGREGATE_BYTES } from '../../src/stats/aggregates.js';
import { MAX_PAGES, PAGE_BYTES } from '../../src/stats/bucket-pool.js';
import { statsFromAggregate } from '../../src/stats/window.js';
import { quiet } from '../helpers/collector-helpers.js';

const MiB = 1048576;
/** The README's worst case at the operation cap: a full pool plus every aggregate's own arrays and the pool's bookkeeping. */
const WORST_CASE_BYTES_AT_10K_OPERATIONS = 41.5 * MiB;

function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const exact = (sorted: number[], q: number): number => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;

test('10,000 operations spread over 40 octaves each: the histograms stay under the documented worst case, and shrink when the range narrows', () => {
  const OPS = 10_000;
  const s = new ProcessingStore(1_000_000, OPS);
  const ids = Array.from({ length: OPS }, (_, k) => s.operationId(`operation_${k}`));
  let t = 0;
  for (let octave = 0; octave < 40; octave++) {
    for (let k = 0; k < OPS; k++) s.push(t++, ids[k]!, 2 ** (octave - 20) * 1.3, true, NaN, null, null, null);
  }
  s.settle();
  const worst = s.histogramBytes;
  const worstPool = s.pool.byteLength;
  assert.equal(s.pool.capacity, MAX_PAGES, 'the pool is full: 400,000 octaves asked for a page');
  assert.ok(s.pool.refused > 0);
  assert.ok(worst <= WORST_CASE_BYTES_AT_10K_OPERATIONS, `${(worst / MiB).toFixed(1)} MiB`);
  assert.ok(worst >= MAX_PAGES * PAGE_BYTES + OPS * AGGREGATE_BYTES, 'the figure counts the pages and the aggregates');
  // The counts stay exact however the octaves were counted.
  const a = s.ops[ids[17]!]!;
  assert.equal(a.count, 40);
  assert.equal(a.oct.reduce((x, y) => x + y, 0), 40);
  // Now every operation records around 1 ms until the wide records have left the history.
  for (let i = 0; i < 1_000_000; i++) s.push(t++, ids[i % OPS]!, 1 + (i % 7) / 100, true, NaN, null, null, null);
  s.settle();
  assert.ok(s.pool.live <= OPS, `${s.pool.live} pages for 10,000 operations in one octave`);
  assert.ok(s.pool.byteLength < worstPool / 3, `pages given back: ${(s.pool.byteLength / MiB).toFixed(1)} MiB after ${(worstPool / MiB).toFixed(1)} MiB`);
  assert.ok(s.histogramBytes < worst / 2);
  assert.ok(s.pool.capacity < MAX_PAGES / 2, `the pool compacted to ${s.pool.capacity} pages`);
  // Every operation's pages survived the moves of the compaction: each reads its own counts back.
  let wrong = 0;
  for (const id of ids) {
    const p = statsFromAggregate(s.ops[id]!);
    if (p.count !== 100 || !(Math.abs(p.p50DurationMs! - 1.03) / 1.03 < 0.01) || !(Math.abs(p.p99DurationMs! - 1.06) / 1.06 < 0.01)) wrong++;
  }
  assert.equal(wrong, 0, `${wrong} of 10,000 operations read wrong figures after compaction`);
});

test('percentiles at 10,000 operations stay within 1 % of an exact sort, per operation and over all of them', () => {
  const OPS = 10_000;
  const c = new PerformanceMetricsCollector({ maxHistorySize: 300_000, maxOperations: OPS }, quiet);
  const r = rng(99);
  const byOp = new Map<number, number[]>();
  const all: number[] = [];
  for (let i = 0; i < 400_000; i++) {
    const o = Math.floor(r() * OPS);
    const v = Math.exp(1 + (o % 17) / 4 + 1.2 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r()));
    c.recordProcessingTime(`op_${o}`, v);
    if (i >= 100_000) {
      all.push(v);
      (byOp.get(o) ?? byOp.set(o, []).get(o)!).push(v);
    }
  }
  const close = (got: number | null, want: number, what: string): void => {
    assert.ok(got !== null && Math.abs(got - want) / want <= 0.01, `${what}: ${got} vs exact ${want}`);
  };
  all.sort((x, y) => x - y);
  const whole = c.getProcessingTimeStats();
  assert.equal(whole.count, 300_000);
  for (const [q, k] of [[0.5, 'p50DurationMs'], [0.9, 'p90DurationMs'], [0.95, 'p95DurationMs'], [0.99, 'p99DurationMs']] as const) close(whole[k], exact(all, q), `all ${k}`);
  const summary = new Map(c.getOperationSummary().map((row) => [row.operation, row]));
  let checked = 0;
  for (const o of [0, 1, 16, 333, 4242, 9999]) {
    const v = byOp.get(o)!.sort((x, y) => x - y);
    const st = c.getProcessingTimeStats({ operation: `op_${o}` });
    assert.equal(st.count, v.length);
    assert.equal(st.minDurationMs, v[0]);
    assert.equal(st.maxDurationMs, v.at(-1));
    for (const [q, k] of [[0.5, 'p50DurationMs'], [0.95, 'p95DurationMs'], [0.99, 'p99DurationMs']] as const) close(st[k], exact(v, q), `op_${o} ${k}`);
    close(summary.get(`op_${o}`)!.p95DurationMs, exact(v, 0.95), `op_${o} summary p95`);
    checked++;
  }
  assert.equal(checked, 6);
  c.close();
});

test('an octave counted without its page (pool full) reports within a factor sqrt(2), and gets a page once it empties', () => {
  const s = new ProcessingStore(1000, 10, undefined, 1);
  const a = s.operationId('a');
  const b = s.operationId('b');
  let t = 0;
  for (let i = 0; i < 100; i++) s.push(t++, a, 10 + i / 100, true, NaN, null, null, null); // takes the only page
  for (let i = 0; i < 100; i++) s.push(t++, b, 300 + i, true, NaN, null, null, null); // no page left
  s.settle();
  assert.equal(s.pool.refused, 100, "every record of b's octave found the pool full");
  const sb = statsFromAggregate(s.ops[b]!);
  const values = Array.from({ length: 100 }, (_, i) => 300 + i).sort((x, y) => x - y);
  for (const [q, k] of [[0.5, 'p50DurationMs'], [0.99, 'p99DurationMs']] as const) {
    const want = exact(values, q);
    const got = sb[k]!;
    assert.ok(got / want <= Math.SQRT2 && want / got <= Math.SQRT2, `${k} ${got} vs ${want}`);
  }
  const sa = statsFromAggregate(s.ops[a]!);
  assert.ok(Math.abs(sa.p50DurationMs! - 10.495) / 10.495 < 0.01, 'a keeps bucket precision');
  // a's records leave; b's next octave of records finds a free page and is counted bucket by bucket.
  for (let i = 0; i < 1000; i++) s.push(t++, b, 40 + (i % 10) / 10, true, NaN, null, null, null);
  const sb2 = statsFromAggregate(s.ops[b]!);
  assert.equal(sb2.count, 1000);
  assert.ok(Math.abs(sb2.p50DurationMs! - 40.4) / 40.4 < 0.01, `p50 ${sb2.p50DurationMs}`);
});
