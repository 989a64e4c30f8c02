// Record iterators are snapshots (src/store/ring.ts Snapshot): the records held when the iterator was made, all of
// them, in order, whatever the ring does before they are read. Evicted records are read out for the snapshot just
// before the ring drops them (at most SNAPSHOT_SPILL_LIMIT, else a clear error), clear() hands its arrays to open
// snapshots, and an export (issue 10) is one consistent snapshot: summary and records agree, never a short file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { MEMORY_SCHEMA } from '../../src/schema/memory.js';
import { memoryRecordAt, iterateRecords } from '../../src/store/records.js';
import { SNAPSHOT_SPILL_LIMIT } from '../../src/store/ring.js';
import { SampleStore } from '../../src/store/samples.js';
import { quiet } from '../helpers/collector-helpers.js';
import { tempDir } from '../helpers/export-helpers.js';

const openSnapshots = (store: unknown): number => (store as { snapshots: unknown[] }).snapshots.length;

test('a processing iterator visits every record held when it was made, in order, while the ring evicts them all', () => {
  const c = new PerformanceMetricsCollector({ maxHistorySize: 1000 }, quiet);
  for (let i = 0; i < 1000; i++) c.recordProcessingTime(i % 2 ? 'odd' : 'even', i, { jobId: `job-${i}`, errorMessage: i % 10 === 0 ? `failed ${i}` : undefined });
  const all = c.processingRecords();
  const odd = c.processingRecords({ operation: 'odd' });
  const got: number[] = [];
  for (let k = 0; k < 10; k++) got.push(all.next().value!.durationMs);
  // Three times the ring's size: every record the iterators still have to read is evicted, and their strings released.
  for (let i = 0; i < 3000; i++) c.recordProcessingTime('later', 5000 + i, { jobId: `late-${i}` });
  const rest = [...all];
  got.push(...rest.map((r) => r.durationMs));
  assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i), 'every record held at the start, nothing added later');
  assert.equal(rest[990 - 10]!.jobId, 'job-990', 'strings of evicted records are kept with them');
  assert.equal(rest[990 - 10]!.errorMessage, 'failed 990');
  assert.equal(rest[991 - 10]!.errorMessage, null);
  assert.deepEqual([...odd].map((r) => r.durationMs), Array.from({ length: 500 }, (_, i) => 2 * i + 1), 'the operation filter applies to evicted records too');
  const stats = c.getProcessingTimeStats();
  assert.equal(stats.count, 1000);
  assert.equal(stats.minDurationMs, 7000, 'the history itself holds only the newest records');
  assert.equal(openSnapshots((c as unknown as { stores: { processing: unknown } }).stores.processing), 0, 'finished iterators unregister');
  c.close();
});

test('clearMetrics() while an iterator is open: it still reads what was held when it was made', () => {
  const c = new PerformanceMetricsCollector({ maxHistorySize: 500 }, quiet);
  for (let i = 0; i < 700; i++) c.recordProcessingTime('op', i, { stage: `s${i % 3}` }); // wrapped: 200 evicted
  const it = c.processingRecords();
  const first = it.next().value!;
  assert.equal(first.durationMs, 200);
  c.clearMetrics();
  for (let i = 0; i < 50; i++) c.recordProcessingTime('after', 1);
  const rest = [...it];
  assert.equal(rest.length, 499);
  assert.deepEqual(rest.map((r) => r.durationMs), Array.from({ length: 499 }, (_, i) => 201 + i));
  assert.deepEqual(rest.slice(0, 3).map((r) => `${r.operation}/${r.stage}`), ['op/s0', 'op/s1', 'op/s2']);
  assert.equal(c.getProcessingTimeStats().count, 50, 'the clear itself happened');
  c.close();
});

test('a sample store iterator survives eviction and clear() the same way', () => {
  const s = new SampleStore(100, MEMORY_SCHEMA);
  const row = new Float64Array(MEMORY_SCHEMA.columns.length);
  const push = (v: number, label: string | null): void => {
    row.fill(v);
    s.push(v, row, label);
  };
  for (let i = 0; i < 100; i++) push(i, `label-${i % 7}`);
  const a = iterateRecords(s, 0, memoryRecordAt);
  const b = iterateRecords(s, 50, memoryRecordAt);
  assert.equal(a.next().value!.timestamp, 0);
  for (let i = 100; i < 180; i++) push(i, null);
  s.settle();
  assert.equal(b.next().value!.timestamp, 50);
  s.clear();
  push(1000, 'new');
  const restA = [...a];
  assert.deepEqual(restA.map((r) => r.timestamp), Array.from({ length: 99 }, (_, i) => i + 1));
  assert.deepEqual(restA.slice(0, 2).map((r) => r.operation), ['label-1', 'label-2']);
  assert.deepEqual([...b].map((r) => r.timestamp), Array.from({ length: 49 }, (_, i) => i + 51));
});

test('an iterator that falls more than SNAPSHOT_SPILL_LIMIT evicted records behind fails with a clear error; the history is unharmed', () => {
  const size = SNAPSHOT_SPILL_LIMIT + 1000;
  const c = new PerformanceMetricsCollector({ maxHistorySize: size }, quiet);
  for (let i = 0; i < size; i++) c.recordProcessingTime('op', 1);
  const it = c.processingRecords();
  it.next();
  // Past the bound even counting the records the ring has not yet folded out (it folds at least every 4,096 pushes).
  for (let i = 0; i < SNAPSHOT_SPILL_LIMIT + 10_000; i++) c.recordProcessingTime('op', 2);
  assert.throws(
    () => it.next(),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_PERFPROBE_SNAPSHOT_OVERRUN');
      assert.match(e.message, new RegExp(`more than ${SNAPSHOT_SPILL_LIMIT} records were kept for one reader`));
      return true;
    },
  );
  assert.equal(it.next().done, true, 'a failed iterator is finished');
  const st = c.getProcessingTimeStats();
  assert.equal(st.count, size);
  assert.equal(st.failureCount, 0);
  c.close();
});

test('an iterator left by break unregisters; one never advanced costs at most its bound', () => {
  const c = new PerformanceMetricsCollector({ maxHistorySize: 100 }, quiet);
  const store = (c as unknown as { stores: { processing: unknown } }).stores.processing;
  for (let i = 0; i < 100; i++) c.recordProcessingTime('op', i);
  for (const r of c.processingRecords()) if (r.durationMs >= 3) break;
  assert.equal(openSnapshots(store), 0);
  const never = c.processingRecords();
  assert.equal(openSnapshots(store), 1);
  for (let i = 0; i < 1000; i++) c.recordProcessingTime('op', i);
  c.getProcessingTimeStats();
  assert.equal([...never].length, 100, 'read late, it still has its 100 records');
  assert.equal(openSnapshots(store), 0);
  c.close();
});

test('exportToJson and exportToCsv while records evict the history and clearMetrics() runs: summary and records agree with the moment the export began', async () => {
  const tmp = tempDir('perfprobe-snapshot-');
  try {
    const N = 100_000;
    const c = new PerformanceMetricsCollector({ maxHistorySize: N, exportDirectory: tmp.dir }, quiet);
    for (let i = 0; i < N; i++) c.recordProcessingTime(`op_${i % 5}`, i, i % 4 === 0 ? { jobId: `job_${i}` } : undefined);
    const json = c.exportToJson();
    const csv = c.exportToCsv('processing');
    let finished = false;
    const both = Promise.all([json, csv]).finally(() => (finished = true));
    // Bounded in count: record 20,000 per turn (evicting as many), clear once on the 3rd turn.
    let turns = 0;
    for (; turns < 200 && !finished; turns++) {
      for (let i = 0; i < 20_000; i++) c.recordProcessingTime('late', 1);
      if (turns === 2) c.clearMetrics();
      await tick();
    }
    const [jsonPath, csvPath] = await both;
    assert.ok(turns >= 3, `the export was still running when the history was cleared (${turns} turns)`);
    const doc = JSON.parse(readFileSync(jsonPath, 'utf8'));
    assert.equal(doc.summary.processing_stats.count, N);
    assert.equal(doc.processing_metrics.length, N, 'not a short file');
    let inOrder = true;
    for (let i = 0; i < N; i++) if (doc.processing_metrics[i].duration_ms !== i || doc.processing_metrics[i].operation !== `op_${i % 5}`) inOrder = false;
    assert.ok(inOrder, 'exactly the records held at the start, in order');
    assert.equal(doc.processing_metrics[N - 4].job_id, `job_${N - 4}`);
    assert.deepEqual(doc.summary.operations.map((o: { operation: string }) => o.operation).sort(), ['op_0', 'op_1', 'op_2', 'op_3', 'op_4']);
    const rows = readFileSync(csvPath, 'utf8').trim().split('\r\n').slice(1);
    assert.equal(rows.length, N);
    assert.equal(rows.filter((r) => r.split(',')[1] === 'late').length, 0);
    c.close();
  } finally {
    tmp.cleanup();
  }
});

test('an export that falls more than SNAPSHOT_SPILL_LIMIT evicted records behind rejects with a clear error and leaves no file', async () => {
  const tmp = tempDir('perfprobe-snapshot-overrun-');
  try {
    const size = SNAPSHOT_SPILL_LIMIT + 1000;
    const c = new PerformanceMetricsCollector({ maxHistorySize: size, exportDirectory: tmp.dir }, quiet);
    for (let i = 0; i < size; i++) c.recordProcessingTime('op', 1);
    const json = c.exportToJson(); // its snapshot is taken now, before the file is opened
    for (let i = 0; i < SNAPSHOT_SPILL_LIMIT + 10_000; i++) c.recordProcessingTime('op', 2);
    await assert.rejects(json, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_PERFPROBE_EXPORT_FAILED');
      assert.match(e.message, /dropped records faster than they were read/);
      return true;
    });
    assert.deepEqual(readdirSync(tmp.dir), [], 'no file, no temp file');
    assert.equal(c.getProcessingTimeStats().count, size);
    c.close();
  } finally {
    tmp.cleanup();
  }
});
