// The collector's record path and read side: typed errors for bad input (nothing recorded), records read
// back as the seed's data models, clearMetrics, the operation-name cap, and the module-level functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../../src/index.js';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { noGpu, quiet, gpuReading, expectArgError } from '../helpers/collector-helpers.js';

test('bad input throws a typed error naming the field and records nothing', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const cases: Array<[() => unknown, string, typeof TypeError]> = [
    [() => c.recordProcessingTime(42 as unknown as string, 1), 'operation', TypeError],
    [() => c.recordProcessingTime('', 1), 'operation', RangeError],
    [() => c.recordProcessingTime('x'.repeat(257), 1), 'operation', RangeError],
    [() => c.recordProcessingTime('op', NaN), 'durationMs', RangeError],
    [() => c.recordProcessingTime('op', Infinity), 'durationMs', RangeError],
    [() => c.recordProcessingTime('op', -1), 'durationMs', RangeError],
    [() => c.recordProcessingTime('op', '5' as unknown as number), 'durationMs', TypeError],
    [() => c.recordProcessingTime('op', 1, { photoId: 1.5 }), 'photoId', RangeError],
    [() => c.recordProcessingTime('op', 1, { photoId: '12' as unknown as number }), 'photoId', TypeError],
    [() => c.recordProcessingTime('op', 1, { jobId: 5 as unknown as string }), 'jobId', TypeError],
    [() => c.recordProcessingTime('op', 1, { success: 'yes' as unknown as boolean }), 'success', TypeError],
    [() => c.measurePerformance('', () => 1), 'operation', RangeError],
    [() => c.measurePerformance('op', 5 as unknown as () => number), 'fn', TypeError],
    [() => c.measurePerformance('op', () => 1, { photoId: NaN }), 'photoId', RangeError],
    [() => c.startTimer(null as unknown as string), 'operation', TypeError],
    [() => c.recordMemoryUsage(''), 'operation', RangeError],
    [() => c.clearMetrics('cpu' as never), 'type', RangeError],
    [() => c.getProcessingTimeStats({ durationMinutes: -5 }), 'durationMinutes', RangeError],
    [() => c.getGpuUsageStats({ gpuId: 1.5 }), 'gpuId', RangeError],
    [() => c.updateConfig({ maxHistorySize: -5 }), 'maxHistorySize', RangeError],
    [() => c.updateConfig({ nope: 1 } as never), 'nope', RangeError],
    [() => c.updateConfig({ enableGpuTracking: 'yes' } as never), 'enableGpuTracking', TypeError],
    [() => c.updateConfig({ memorySampleIntervalMs: 0 }), 'memorySampleIntervalMs', RangeError],
    [() => c.updateConfig({ exportDirectory: '' }), 'exportDirectory', RangeError],
  ];
  let ran = 0;
  for (const [fn, field, kind] of cases) {
    expectArgError(fn, field, kind);
    ran++;
  }
  assert.equal(ran, cases.length);
  assert.equal(c.getProcessingTimeStats().count, 0, 'nothing recorded');
  assert.deepEqual(c.getOperationSummary(), []);
  assert.throws(() => new PerformanceMetricsCollector({ maxOperations: 0 }, quiet), RangeError);
  assert.equal(
    (() => { try { c.updateConfig({ maxHistorySize: -5 }); } catch (e) { return (e as Error).message; } })(),
    'maxHistorySize must be an integer from 1 to 100000000, got -5',
  );
  c.close();
});

test('records read back as the seed data models, filtered by operation, window and since', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  c.recordProcessingTime('exif_analysis', 12.5, { photoId: 789, jobId: 'job_001', stage: 'exif' });
  c.recordProcessingTime('ai_evaluation', 800, { photoId: 789, jobId: 'job_001', stage: 'ai', success: false, errorMessage: 'OOM' });
  c.recordProcessingTime('exif_analysis', 10);
  const all = [...c.processingRecords()];
  assert.equal(all.length, 3);
  assert.deepEqual(Object.keys(all[0]).sort(), ['durationMs', 'errorMessage', 'jobId', 'operation', 'photoId', 'stage', 'success', 'timestamp']);
  assert.deepEqual({ ...all[1], timestamp: 0 }, {
    timestamp: 0, operation: 'ai_evaluation', durationMs: 800, photoId: 789, jobId: 'job_001', stage: 'ai', success: false, errorMessage: 'OOM',
  });
  assert.ok(Math.abs(all[0].timestamp - Date.now()) < 5000);
  assert.deepEqual([...c.processingRecords({ operation: 'exif_analysis' })].map((r) => r.durationMs), [12.5, 10]);
  assert.deepEqual([...c.processingRecords({ operation: 'unknown' })], []);
  assert.deepEqual([...c.processingRecords({ since: all[1].timestamp })].map((r) => r.durationMs), [10]);
  assert.equal([...c.processingRecords({ durationMinutes: 1 })].length, 3);
  const stats = c.getProcessingTimeStats({ operation: 'ai_evaluation' });
  assert.equal(stats.successRate, 0);
  assert.equal(stats.failureCount, 1);
  const summary = c.getOperationSummary();
  assert.deepEqual(summary.map((s) => [s.operation, s.count, s.totalDurationMs]), [['exif_analysis', 2, 22.5], ['ai_evaluation', 1, 800]]);
  c.close();
});

test('clearMetrics clears one type or all', () => {
  const readings = [gpuReading(0)];
  const c = new PerformanceMetricsCollector({}, {
    probes: { ...noGpu, probeInfo: () => ({ addon: { loaded: true }, memory: { backend: 'native' }, gpu: { backend: 'nvml' } }), readGpusSync: () => readings },
  });
  c.recordProcessingTime('a', 1);
  c.recordMemoryUsage();
  c.recordGpuUsage();
  assert.deepEqual([c.getProcessingTimeStats().count, c.getMemoryUsageStats().count, c.getGpuUsageStats().count], [1, 1, 1]);
  c.clearMetrics('memory');
  assert.deepEqual([c.getProcessingTimeStats().count, c.getMemoryUsageStats().count, c.getGpuUsageStats().count], [1, 0, 1]);
  c.clearMetrics();
  assert.deepEqual([c.getProcessingTimeStats().count, c.getMemoryUsageStats().count, c.getGpuUsageStats().count], [0, 0, 0]);
  assert.deepEqual(c.cumulativeOperationStats().operations, []);
  c.close();
});

test('distinct operation names are capped: one overflow operation, one warning', async () => {
  const c = new PerformanceMetricsCollector({ maxOperations: 5 }, quiet);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    for (let i = 0; i < 100; i++) c.recordProcessingTime(`photo-${i}`, 1);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  const ours = warnings.filter((w) => (w as { code?: string }).code === 'PERFPROBE_OPERATION_OVERFLOW');
  assert.equal(ours.length, 1);
  const summary = c.getOperationSummary();
  assert.equal(summary.length, 6);
  assert.deepEqual(summary.at(-1), { ...summary.at(-1)!, operation: '__overflow__', count: 95 });
  c.close();
});

test('module-level functions act on the one default collector', () => {
  const d = api.getPerformanceMetricsCollector();
  assert.equal(api.getPerformanceMetricsCollector(), d);
  api.clearMetrics();
  api.recordProcessingTime('mod', 2);
  assert.equal(api.measurePerformance('mod', () => 'r'), 'r');
  api.startTimer('mod').end();
  assert.equal(api.getProcessingTimeStats({ operation: 'mod' }).count, 3);
  assert.equal(api.getOperationSummary()[0].operation, 'mod');
  assert.equal(api.updateConfig({ maxHistorySize: 2 }).maxHistorySize, 2);
  assert.equal(d.getProcessingTimeStats().count, 2);
  api.updateConfig({ maxHistorySize: 10_000 });
  api.clearMetrics('processing');
  assert.equal(api.getProcessingTimeStats().count, 0);
  for (const name of ['recordMemoryUsage', 'recordGpuUsage', 'startMonitoring', 'stopMonitoring', 'getMemoryUsageStats', 'getGpuUsageStats', 'exportToJson', 'exportToCsv']) {
    assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
  }
});
