// importRecords (src/collector/import.ts): checked against the schemas first, merged in time order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { quiet, expectArgError } from '../helpers/collector-helpers.js';

test('importRecords validates everything first and merges older records in time order', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  c.recordProcessingTime('live', 5);
  const rec = { timestamp: 1_600_000_000_000, operation: 'old', durationMs: 3, photoId: null, jobId: 'j', stage: null, success: true, errorMessage: null };
  assert.throws(() => c.importRecords({ processing: [rec, { ...rec, durationMs: -1 }] }), /processing\[1\]\.durationMs/);
  assert.equal(c.getProcessingTimeStats().count, 1, 'nothing imported');
  const n = c.importRecords({
    processing: [rec, { ...rec, timestamp: rec.timestamp - 1000, durationMs: 4 }],
    memory: [{ timestamp: 1, totalMb: 10, usedMb: 5, availableMb: 5, percent: 50, processMemoryMb: 1, operation: null }],
    gpu: [{ timestamp: 1, gpuId: 0, loadPercent: null, memoryUsedMb: 1, memoryTotalMb: 2, memoryPercent: 50, temperatureCelsius: null, powerWatts: null, operation: 'x' }],
  });
  assert.deepEqual(n, { processing: 2, memory: 1, gpu: 1 });
  assert.deepEqual([...c.processingRecords()].map((r) => r.operation + r.durationMs), ['old4', 'old3', 'live5']);
  assert.equal(c.cumulativeOperationStats().operations.find((o) => o.operation === 'live')!.count, 1, 'no double counting on merge');
  assert.equal([...c.gpuRecords()][0].loadPercent, null);
  c.close();
});

test('importRecords names the record of a bad gpuId, photoId, jobId, stage, errorMessage or figure; figures must be finite or null', () => {
  // These fields were checked by the record path's checks, whose errors named
  // "photoId" or "gpuId" but not which of possibly a million records held it;
  // a GPU record without gpuId was even accepted (stored as NaN, exported as null).
  const c = new PerformanceMetricsCollector({}, quiet);
  const p = { timestamp: 1, operation: 'a', durationMs: 1, photoId: null, jobId: null, stage: null, success: true, errorMessage: null };
  const g = { timestamp: 1, gpuId: 0, loadPercent: null, memoryUsedMb: 1, memoryTotalMb: 2, memoryPercent: 50, temperatureCelsius: null, powerWatts: null, operation: null };
  expectArgError(() => c.importRecords({ gpu: [g, { ...g, gpuId: -1 }] }), 'gpu[1].gpuId', RangeError);
  expectArgError(() => c.importRecords({ gpu: [{ ...g, gpuId: undefined as never }] }), 'gpu[0].gpuId', TypeError);
  expectArgError(() => c.importRecords({ processing: [p, { ...p, photoId: 1.5 }] }), 'processing[1].photoId', RangeError);
  expectArgError(() => c.importRecords({ processing: [p, p, { ...p, jobId: 7 as never }] }), 'processing[2].jobId', TypeError);
  expectArgError(() => c.importRecords({ processing: [{ ...p, stage: {} as never }] }), 'processing[0].stage', TypeError);
  expectArgError(() => c.importRecords({ processing: [{ ...p, errorMessage: 1 as never }] }), 'processing[0].errorMessage', TypeError);
  // A non-finite figure made the window's average and maximum null and read back as Infinity.
  const m = { timestamp: 1, totalMb: 10, usedMb: 4, availableMb: 6, percent: 40, processMemoryMb: 5, operation: null };
  expectArgError(() => c.importRecords({ memory: [m, { ...m, usedMb: Infinity }] }), 'memory[1].usedMb', RangeError);
  expectArgError(() => c.importRecords({ memory: [{ ...m, availableMb: -Infinity }] }), 'memory[0].availableMb', RangeError);
  expectArgError(() => c.importRecords({ gpu: [{ ...g, powerWatts: Infinity }] }), 'gpu[0].powerWatts', RangeError);
  assert.equal(c.getProcessingTimeStats().count + c.getGpuUsageStats().count + c.getMemoryUsageStats().count, 0, 'nothing imported');
  // The record path keeps its plain field names.
  expectArgError(() => c.recordProcessingTime('a', 1, { photoId: 1.5 }), 'photoId', RangeError);
  expectArgError(() => c.getGpuUsageStats({ gpuId: -1 }), 'gpuId', RangeError);
  c.close();
});

test('importRecords refuses a timestamp outside the Date range: later records and exports stay intact', async () => {
  // A timestamp a Date cannot hold (1e300) used to be accepted: every later
  // record was clamped to it (the time column is kept sorted) and every export
  // then failed on toISOString ("Invalid time value"); one past year 9999
  // exported as a 6-digit year ("+275760-...") that no longer parses.
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-ts-'));
  try {
    const c = new PerformanceMetricsCollector({ exportDirectory: dir }, quiet);
    c.recordProcessingTime('live', 5);
    const rec = { timestamp: 1e300, operation: 'far', durationMs: 3, photoId: null, jobId: null, stage: null, success: true, errorMessage: null };
    for (const timestamp of [1e300, 8.64e15, 253_402_300_800_000, -62_167_219_200_001]) {
      expectArgError(() => c.importRecords({ processing: [{ ...rec, timestamp }] }), 'processing[0].timestamp', RangeError);
      expectArgError(
        () => c.importRecords({ memory: [{ timestamp, totalMb: 1, usedMb: 1, availableMb: 0, percent: 100, processMemoryMb: 1, operation: null }] }),
        'memory[0].timestamp',
        RangeError,
      );
    }
    assert.equal(c.getProcessingTimeStats().count, 1, 'nothing imported');
    // Years 0000 to 9999 (what a 4-digit ISO-8601 year holds) are accepted and round-trip.
    c.importRecords({ processing: [{ ...rec, timestamp: -62_167_219_200_000 }, { ...rec, timestamp: 253_402_300_799_999 }] });
    const path = await c.exportToJson();
    const back = new PerformanceMetricsCollector({}, quiet);
    await back.importFromJson(path);
    const ts = [...back.processingRecords()].map((r) => r.timestamp);
    assert.deepEqual([ts.length, ts[0], ts[2]], [3, -62_167_219_200_000, 253_402_300_799_999]);
    back.close();
    c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
