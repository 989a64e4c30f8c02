// The fold of src/stats/aggregates.ts as the processing store runs it: after any mix of pushes,
// evictions, reads, resizes and re-sorting pushes, every aggregate equals a recount of the records
// held (invariants I1-I4 stated in aggregates.ts) and the cumulative totals count every push once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessingStore } from '../../src/store/index.js';

test('the deferred fold keeps every aggregate equal to a recount, through evictions, reads, resizes and re-sorting pushes', async () => {
  const { CUMULATIVE_BOUNDS_MS } = await import('../../src/stats/index.js');
  const { bucketOf } = await import('../../src/stats/histogram.js');
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const names = ['a', 'b', 'c'];
  const s = new ProcessingStore(37, 100);
  type Rec = { op: string; d: number; ok: boolean; job: string | null; err: string | null };
  const all: Rec[] = []; // every record pushed with cumulative totals
  let history: Rec[] = []; // what the view must hold
  let t = 0;
  const check = (label: string): void => {
    const ops = s.ops; // settles
    assert.equal(s.stale, 0, label);
    assert.equal(s.unfolded, 0, label);
    assert.equal(s.count, history.length, label);
    for (let i = 0; i < s.count; i++) assert.equal(s.dur[s.physical(i)], history[i].d, `${label}: record ${i}`);
    s.refreshExtremes();
    for (const a of ops) {
      const held = history.filter((r) => r.op === a.name);
      assert.equal(a.count, held.length, `${label}: ${a.name} count`);
      assert.equal(a.successes, held.filter((r) => r.ok).length, `${label}: ${a.name} successes`);
      assert.ok(Math.abs(a.sum - held.reduce((x, r) => x + r.d, 0)) < 1e-6, `${label}: ${a.name} sum`);
      if (held.length > 0) {
        assert.equal(a.min, Math.min(...held.map((r) => r.d)), `${label}: ${a.name} min`);
        assert.equal(a.max, Math.max(...held.map((r) => r.d)), `${label}: ${a.name} max`);
      }
      const hist = new Map<number, number>();
      for (const r of held) hist.set(bucketOf(r.d), (hist.get(bucketOf(r.d)) ?? 0) + 1);
      for (let k = 0; k < a.hist.length; k++) assert.equal(a.hist[k], hist.get(a.histOffset + k) ?? 0, `${label}: ${a.name} bucket ${a.histOffset + k}`);
      const pushed = all.filter((r) => r.op === a.name);
      assert.equal(a.cumCount, pushed.length, `${label}: ${a.name} cumCount`);
      assert.equal(a.cumFailures, pushed.filter((r) => !r.ok).length, `${label}: ${a.name} cumFailures`);
      assert.ok(Math.abs(a.cumSum - pushed.reduce((x, r) => x + r.d, 0)) < 1e-6, `${label}: ${a.name} cumSum`);
      const expected = CUMULATIVE_BOUNDS_MS.map((bound) => pushed.filter((r) => r.d <= bound).length);
      assert.deepEqual(a.cumulativeBucketCounts(), expected, `${label}: ${a.name} buckets`);
    }
    const live = new Set<string>();
    for (const r of history) {
      if (r.job !== null) live.add(r.job);
      if (r.err !== null) live.add(r.err);
    }
    assert.equal(s.strings.size, live.size, `${label}: interned strings`);
  };
  let maxSize = 37;
  for (let round = 0; round < 60; round++) {
    const n = Math.floor(rnd() * 150);
    for (let i = 0; i < n; i++) {
      const r: Rec = {
        op: names[Math.floor(rnd() * 3)],
        d: Math.floor(rnd() * 2000) / 10,
        ok: rnd() < 0.8,
        job: rnd() < 0.3 ? `job-${Math.floor(rnd() * 20)}` : null,
        err: rnd() < 0.1 ? `err-${Math.floor(rnd() * 5)}` : null,
      };
      const refold = rnd() < 0.05; // a re-sorting push: history only
      s.push(t++, s.operationId(r.op), r.d, r.ok, NaN, r.job, null, r.err, refold ? false : undefined);
      if (!refold) all.push(r);
      history.push(r);
      if (history.length > maxSize) history = history.slice(history.length - maxSize);
    }
    if (round % 7 === 3) {
      maxSize = 5 + Math.floor(rnd() * 120);
      s.resize(maxSize);
      if (history.length > maxSize) history = history.slice(history.length - maxSize);
    }
    check(`round ${round}`);
  }
});
