// The fold of src/stats/aggregates.ts as the processing store runs it: after any mix of pushes,
// evictions, reads, resizes and re-sorting pushes, every aggregate equals a recount of the records
// held (invariants I1-I7 stated in aggregates.ts: counts, octaves and their pages, the all-operations
// histogram, the links), with a roomy page pool and with one too small for every octave, and the
// cumulative totals count every push once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessingStore } from '../../src/store/index.js';

for (const maxPages of [undefined, 5]) test(`the deferred fold keeps every aggregate equal to a recount, through evictions, reads, resizes and re-sorting pushes (${maxPages ?? 'default'} pages)`, async () => {
  const { CUMULATIVE_BOUNDS_MS } = await import('../../src/stats/index.js');
  const { BUCKETS, OCTAVES, SUB_BITS, bucketOf } = await import('../../src/stats/histogram.js');
  const { NO_PAGE } = await import('../../src/stats/bucket-pool.js');
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const names = ['a', 'b', 'c'];
  const s = new ProcessingStore(37, 100, undefined, maxPages);
  type Rec = { op: string; d: number; ok: boolean; job: string | null; err: string | null };
  const all: Rec[] = []; // every record pushed with cumulative totals
  let history: Rec[] = []; // what the view must hold
  let t = 0;
  const check = (label: string): void => {
    const ops = s.ops; // settles
    let pages = 0;
    const totals = new Map<number, number>();
    assert.equal(s.stale, 0, label);
    assert.equal(s.unfolded, 0, label);
    assert.equal(s.count, history.length, label);
    for (let i = 0; i < s.count; i++) assert.equal(s.dur[s.physical(i)], history[i].d, `${label}: record ${i}`);
    s.refreshExtremes();
    for (const a of ops) {
      const heldSeqs = history.map((r, i) => ({ r, seq: s.evictedTotal + i })).filter(({ r }) => r.op === a.name);
      const held = heldSeqs.map(({ r }) => r);
      assert.equal(a.count, held.length, `${label}: ${a.name} count`);
      assert.equal(a.successes, held.filter((r) => r.ok).length, `${label}: ${a.name} successes`);
      // The cached p95 (summaries) never outlives a change of the history: it equals a fresh computation.
      if (a.count > 0) assert.equal(a.p95(), a.percentiles([0.95])[0], `${label}: ${a.name} cached p95`);
      assert.ok(Math.abs(a.sum - held.reduce((x, r) => x + r.d, 0)) < 1e-6, `${label}: ${a.name} sum`);
      if (held.length > 0) {
        assert.equal(a.min, Math.min(...held.map((r) => r.d)), `${label}: ${a.name} min`);
        assert.equal(a.max, Math.max(...held.map((r) => r.d)), `${label}: ${a.name} max`);
      }
      const hist = new Map<number, number>();
      for (const r of held) hist.set(bucketOf(r.d), (hist.get(bucketOf(r.d)) ?? 0) + 1);
      for (let e = 0; e < OCTAVES; e++) {
        const inOctave = held.filter((r) => bucketOf(r.d) >> SUB_BITS === e).length;
        assert.equal(a.oct[e], inOctave, `${label}: ${a.name} octave ${e}`);
        if (inOctave === 0) assert.equal(a.pageOf[e], NO_PAGE, `${label}: ${a.name} octave ${e} is empty and holds no page (I5)`);
        else if (maxPages === undefined) assert.notEqual(a.pageOf[e], NO_PAGE, `${label}: ${a.name} octave ${e} has a page (the pool is far from full)`);
        if (a.pageOf[e] !== NO_PAGE) pages++;
        if (a.pageOf[e] !== NO_PAGE) {
          // I5: the page counts, per pair of buckets, the octave's records from its `since` on.
          const pg = a.pageOf[e]!;
          const since = s.pool.sinceOf(pg);
          let pageSum = 0;
          for (let b = e << SUB_BITS; b < (e + 1) << SUB_BITS; b += 2) {
            const want = heldSeqs.filter(({ r, seq }) => seq >= since && bucketOf(r.d) >> 1 === b >> 1).length;
            assert.equal(a.pageCount(b), want, `${label}: ${a.name} buckets ${b}-${b + 1}`);
            pageSum += want;
          }
          assert.equal(s.pool.segSum[pg >>> 8]![pg & 255], pageSum, `${label}: ${a.name} octave ${e} page sum`);
        }
      }
      for (const [b, n] of hist) totals.set(b, (totals.get(b) ?? 0) + n);
      // I7: the links walk the operation's held records, newest first.
      const walked: number[] = [];
      for (let q = a.lastSeq; q >= s.evictedTotal; ) {
        const p = s.physical(q - s.evictedTotal);
        assert.equal(s.op[p], s.findOperation(a.name), `${label}: ${a.name} link lands on its own record`);
        walked.push(s.dur[p]);
        if (s.lnk[p] === 0) break;
        q -= s.lnk[p];
      }
      assert.deepEqual(walked, held.map((r) => r.d).reverse(), `${label}: ${a.name} links`);
      const pushed = all.filter((r) => r.op === a.name);
      assert.equal(a.cumCount, pushed.length, `${label}: ${a.name} cumCount`);
      assert.equal(a.cumFailures, pushed.filter((r) => !r.ok).length, `${label}: ${a.name} cumFailures`);
      assert.ok(Math.abs(a.cumSum - pushed.reduce((x, r) => x + r.d, 0)) < 1e-6, `${label}: ${a.name} cumSum`);
      const expected = CUMULATIVE_BOUNDS_MS.map((bound) => pushed.filter((r) => r.d <= bound).length);
      assert.deepEqual(a.cumulativeBucketCounts(), expected, `${label}: ${a.name} buckets`);
    }
    assert.equal(s.pool.live, pages, `${label}: pages in use`);
    if (maxPages !== undefined) assert.ok(pages <= maxPages, `${label}: ${pages} pages, at most ${maxPages}`);
    for (let b = 0; b < BUCKETS; b++) assert.equal(s.pool.total[b], totals.get(b) ?? 0, `${label}: all-operations bucket ${b} (I6)`);
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
        d: rnd() < 0.1 ? Math.floor(rnd() * 2000) / 10 : rnd() < 0.5 ? rnd() * 2 ** Math.floor(rnd() * 40 - 20) : Math.floor(rnd() * 2000) / 10,
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
