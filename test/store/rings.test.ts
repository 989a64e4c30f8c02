// src/store: bounded rings of typed-array columns that allocate as they fill, evict the oldest first,
// keep timestamps sorted for binary search, intern strings with reference counts, and cost at most
// 48 bytes per processing record; record iterators that survive eviction (src/store/records.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessingStore, SampleStore, StringTable } from '../../src/store/index.js';
import { MEMORY_SCHEMA } from '../../src/schema/index.js';

function push(s: ProcessingStore, t: number, op: string, d: number, extra: { job?: string; stage?: string; err?: string; ok?: boolean } = {}): void {
  s.push(t, s.operationId(op), d, extra.ok ?? true, NaN, extra.job, extra.stage, extra.err);
}

function logical(s: ProcessingStore): Array<{ t: number; d: number; op: string }> {
  const out = [];
  for (let i = 0; i < s.count; i++) {
    const p = s.physical(i);
    out.push({ t: s.ts[p], d: s.dur[p], op: s.ops[s.op[p]].name });
  }
  return out;
}

test('an empty history allocates nothing and grows as it fills', () => {
  const s = new ProcessingStore(10_000, 100);
  assert.equal(s.byteLength, 0);
  assert.equal(s.capacity, 0);
  push(s, 1, 'a', 1);
  assert.ok(s.capacity > 0 && s.capacity <= 64, `capacity ${s.capacity}`);
  for (let i = 0; i < 1000; i++) push(s, 2 + i, 'a', i);
  assert.equal(s.count, 1001);
  assert.ok(s.capacity >= 1001 && s.capacity <= 2048);
  const m = new SampleStore(10_000, MEMORY_SCHEMA);
  assert.equal(m.byteLength, 0);
});

test('a full ring evicts the oldest first and keeps order', () => {
  const s = new ProcessingStore(100, 100);
  for (let i = 0; i < 250; i++) push(s, i, i % 2 ? 'odd' : 'even', i);
  assert.equal(s.count, 100);
  const recs = logical(s);
  assert.deepEqual(
    recs.map((r) => r.d),
    Array.from({ length: 100 }, (_, i) => 150 + i),
  );
  // aggregates equal the records still held
  const odd = s.ops[s.findOperation('odd')];
  const expected = recs.filter((r) => r.op === 'odd');
  assert.equal(odd.count, expected.length);
  assert.equal(odd.sum, expected.reduce((a, r) => a + r.d, 0));
  s.refreshExtremes();
  assert.equal(odd.min, Math.min(...expected.map((r) => r.d)));
  assert.equal(odd.max, Math.max(...expected.map((r) => r.d)));
});

test('shrinking trims at once, oldest first; growing again works', () => {
  const s = new ProcessingStore(1000, 100);
  for (let i = 0; i < 700; i++) push(s, i, 'a', i);
  s.resize(10);
  assert.equal(s.count, 10);
  assert.equal(s.capacity, 10);
  assert.deepEqual(
    logical(s).map((r) => r.d),
    [690, 691, 692, 693, 694, 695, 696, 697, 698, 699],
  );
  const a = s.ops[0];
  assert.equal(a.count, 10);
  assert.equal(a.sum, 6945);
  assert.equal(a.cumCount, 700, 'cumulative totals survive trimming');
  s.resize(50);
  for (let i = 0; i < 100; i++) push(s, 1000 + i, 'a', 1000 + i);
  assert.equal(s.count, 50);
  assert.equal(logical(s)[0].d, 1050);
});

test('timestamps stay sorted and binary search finds window edges', () => {
  const s = new ProcessingStore(64, 10);
  for (let i = 0; i < 200; i++) push(s, i * 10, 'a', 1);
  push(s, 5, 'a', 1); // older than the newest: clamped, the column stays sorted
  for (let i = 1; i < s.count; i++) assert.ok(s.ts[s.physical(i)] >= s.ts[s.physical(i - 1)]);
  const first = s.ts[s.physical(0)];
  assert.equal(s.lowerBound(first), 0);
  assert.equal(s.lowerBound(first + 1), 1);
  assert.equal(s.upperBound(first), 1);
  assert.equal(s.lowerBound(1e9), s.count);
  assert.equal(s.lowerBound(-1), 0);
});

test('strings are interned and forgotten when their last record leaves', () => {
  const t = new StringTable();
  const a = t.acquire('job-1');
  assert.equal(t.acquire('job-1'), a);
  assert.equal(t.size, 1);
  t.release(a);
  assert.equal(t.get(a), 'job-1');
  t.release(a);
  assert.equal(t.size, 0);
  assert.equal(t.find('job-1'), -1);

  const s = new ProcessingStore(10, 100);
  for (let i = 0; i < 1000; i++) push(s, i, 'a', 1, { job: `job-${i}`, stage: 'exif', err: i % 3 ? undefined : `e${i}` });
  // only the ten jobs (and their errors) still held are kept, plus 'exif'
  assert.ok(s.strings.size <= 10 + 4 + 1, `size ${s.strings.size}`);
  const p = s.physical(9);
  assert.equal(s.strings.get(s.job[p]), 'job-999');
  assert.equal(s.strings.get(s.err[p]), 'e999');
});

test('operations beyond maxOperations go to one overflow operation, reported once', () => {
  const seen: string[] = [];
  const s = new ProcessingStore(1000, 3, (name) => seen.push(name));
  for (let i = 0; i < 10; i++) push(s, i, `op-${i}`, 1);
  assert.deepEqual(
    s.ops.map((o) => o.name),
    ['op-0', 'op-1', 'op-2', '__overflow__'],
  );
  assert.equal(s.ops[3].count, 7);
  assert.deepEqual(seen, ['op-3']);
  push(s, 11, 'op-0', 1);
  assert.equal(s.ops[0].count, 2, 'known names still record under their own name');
});

test('at most 48 bytes per stored processing record at 1,000,000', () => {
  const s = new ProcessingStore(1_000_000, 10);
  for (let i = 0; i < 1_000_000; i++) s.push(i, s.operationId('a'), i & 1023, true, NaN, null, null, null);
  assert.equal(s.count, 1_000_000);
  const perRecord = s.byteLength / s.count;
  assert.ok(perRecord <= 48, `${perRecord} bytes per record`);
});

test('clear frees the arrays and resets operations', () => {
  const s = new ProcessingStore(100, 10);
  for (let i = 0; i < 50; i++) push(s, i, 'a', 1, { job: 'j' });
  s.clear();
  assert.equal(s.count, 0);
  assert.equal(s.byteLength, 0);
  assert.equal(s.ops.length, 0);
  assert.equal(s.strings.size, 0);
});

test('record iterators visit the records held when they were made, in order, while the ring evicts under them', async () => {
  const { PerformanceMetricsCollector } = await import('../../src/index.js');
  const c = new PerformanceMetricsCollector({ maxHistorySize: 100 }, { probes: { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' as const }, gpu: { backend: 'none' as const } }) } });
  for (let i = 0; i < 100; i++) c.recordProcessingTime('a', i);
  const seen: number[] = [];
  for (const r of c.processingRecords()) {
    seen.push(r.durationMs);
    if (r.durationMs === 10) for (let k = 0; k < 30; k++) c.recordProcessingTime('a', 1000 + k); // evicts 0..29
    if (r.durationMs === 50) for (let k = 0; k < 500; k++) c.recordProcessingTime('a', 2000 + k); // evicts everything held
  }
  // The iterator is a snapshot (test/store/snapshot.test.ts): the ring read the evicted records out for it first,
  // so it visits every record held when it was made, in order, and none added later (issue 10).
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i));
  c.close();
});

test('the settle slack is counted: at most 48 bytes per record once a 1,000,000 ring has wrapped', () => {
  const s = new ProcessingStore(1_000_000, 10);
  const op = s.operationId('a');
  for (let i = 0; i < 1_200_000; i++) s.push(i, op, i & 1023, true, NaN, null, null, null);
  assert.equal(s.count, 1_000_000);
  assert.ok(s.capacity > 1_000_000, 'the ring keeps physical slack beyond maxSize');
  const perRecord = s.byteLength / s.maxSize;
  assert.ok(perRecord <= 48, `${perRecord} bytes per record`);
  assert.equal(s.ops[op].count, 1_000_000);
  assert.equal(s.ops[op].cumCount, 1_200_000);
});
