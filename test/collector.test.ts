import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as api from '../src/index.js';
import { PerformanceMetricsCollector, type CollectorProbes } from '../src/index.js';
import {
  GPU_SLOTS,
  GpuSlot,
  HeaderSlot,
  MemorySlot,
  RECORD_MEMORY_OFFSET,
  recordSlots,
  probeInfo,
  type GpuReading,
  type SampleBatch,
  type SamplerOptions,
} from '../src/probes/index.js';

const root = join(__dirname, '..');
const noGpu = { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' as const }, gpu: { backend: 'none' as const } }) };
const quiet = { probes: noGpu };

function gpuReading(gpuId: number, over: Partial<GpuReading> = {}): GpuReading {
  return {
    timestamp: Date.now(), gpuId, name: 'Fake', uuid: null, loadPercent: 50 + gpuId, memoryUtilPercent: null,
    memoryTotalMb: 1000, memoryUsedMb: 250, memoryReservedMb: null, memoryFreeMb: null, memoryPercent: 25,
    temperatureCelsius: 60, powerWatts: 300, powerLimitWatts: null, smClockMhz: null, memoryClockMhz: null,
    fanPercent: null, processGpuMemoryMb: null, processes: [], status: 'ok', ...over,
  };
}

function expectArgError(fn: () => unknown, field: string, kind: typeof TypeError | typeof RangeError): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${String(e)}`);
    assert.equal((e as { field?: string }).field, field);
    assert.match((e as Error).message, new RegExp(`^${field.replace(/[[\].]/g, '\\$&')} must be`));
    return true;
  });
}

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

test('config: defaults, read-only, and updateConfig is all-or-nothing', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  assert.deepEqual({ ...c.config }, {
    maxHistorySize: 10_000, autoExportIntervalSec: 0, exportDirectory: 'data/metrics', enableGpuTracking: true,
    enableMemoryTracking: true, memorySampleIntervalMs: 60_000, maxOperations: 10_000, exportOnExit: false,
  });
  assert.ok(Object.isFrozen(c.config));
  assert.equal(Reflect.set(c.config, 'maxHistorySize', 5), false);
  assert.equal(c.config.maxHistorySize, 10_000);
  assert.throws(() => c.updateConfig({ maxHistorySize: 50, enableGpuTracking: 'no' } as never), TypeError);
  assert.equal(c.config.maxHistorySize, 10_000, 'valid keys before a bad one are not applied');
  for (let i = 0; i < 100; i++) c.recordProcessingTime('op', i);
  c.updateConfig({ maxHistorySize: 50 });
  assert.equal(c.config.maxHistorySize, 50);
  const s = c.getProcessingTimeStats();
  assert.equal(s.count, 50);
  assert.equal(s.minDurationMs, 50, 'the oldest were dropped at once');
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

test('memory: a figure the probe could not read is stored and read back as null, never NaN or 0', () => {
  const reading = { timestamp: Date.now(), totalMb: NaN, usedMb: 100, availableMb: NaN, percent: NaN, processMemoryMb: 50,
    processPeakMb: null, swapTotalMb: null, swapUsedMb: null, heapUsedMb: null };
  const c = new PerformanceMetricsCollector({}, { probes: { ...noGpu, readMemory: () => reading } });
  const r = c.recordMemoryUsage('op')!;
  assert.deepEqual([r.totalMb, r.availableMb, r.percent, r.usedMb, r.processMemoryMb], [null, null, null, 100, 50]);
  const [back] = [...c.memoryRecords()];
  assert.deepEqual([back!.totalMb, back!.percent, back!.usedMb], [null, null, 100]);
  assert.equal(c.getMemoryUsageStats().currentUsedMb, 100);
  c.close();
});

test('memory: recordMemoryUsage reads the probe in MiB with the operation label', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const r = c.recordMemoryUsage('processing_batch')!;
  assert.equal(r.operation, 'processing_batch');
  const { totalMb, usedMb, processMemoryMb, percent } = r;
  assert.ok(totalMb !== null && usedMb !== null && processMemoryMb !== null && percent !== null, 'Linux knows every figure');
  assert.ok(totalMb > 0 && usedMb > 0 && usedMb <= totalMb);
  assert.ok(processMemoryMb > 1 && processMemoryMb < totalMb);
  assert.ok(Math.abs(percent - (usedMb / totalMb) * 100) < 1e-6);
  const s = c.getMemoryUsageStats();
  assert.equal(s.count, 1);
  assert.equal(s.currentUsedMb, r.usedMb);
  c.updateConfig({ enableMemoryTracking: false });
  assert.equal(c.recordMemoryUsage(), null);
  assert.equal(c.getMemoryUsageStats().count, 1);
  c.close();
});

test('GPU on NVML: recordGpuUsage is synchronous, one record per GPU, lost GPUs skipped, erroring ones kept, unknown -> null', () => {
  const readings = [gpuReading(0), gpuReading(1, { temperatureCelsius: null, powerWatts: null, status: 'error' }), gpuReading(2, { status: 'lost' })];
  const c = new PerformanceMetricsCollector({}, {
    probes: { probeInfo: () => ({ addon: { loaded: true }, memory: { backend: 'native' }, gpu: { backend: 'nvml' } }), readGpusSync: () => readings },
  });
  assert.equal(c.gpuAvailable, true);
  const recs = c.recordGpuUsage('ai_inference');
  assert.ok(Array.isArray(recs));
  assert.deepEqual((recs as { gpuId: number }[]).map((r) => r.gpuId), [0, 1]);
  assert.deepEqual(recs[1 as never], {
    timestamp: readings[1].timestamp, gpuId: 1, loadPercent: 51, memoryUsedMb: 250, memoryTotalMb: 1000, memoryPercent: 25,
    temperatureCelsius: null, powerWatts: null, operation: 'ai_inference',
  });
  const s1 = c.getGpuUsageStats({ gpuId: 1 });
  assert.equal(s1.count, 1);
  assert.equal(s1.currentTemperature, null);
  assert.equal(s1.avgPowerWatts, null);
  const all = c.getGpuUsageStats();
  assert.equal(all.count, 2);
  assert.equal(all.avgTemperature, 60);
  assert.equal(all.maxLoadPercent, 51);
  assert.equal(c.getGpuUsageStats({ gpuId: 7 }).count, 0);
  assert.deepEqual([...c.gpuRecords({ gpuId: 0 })].map((r) => r.loadPercent), [50]);
  c.close();
});

test('GPU on the systeminformation fallback: recordGpuUsage returns a Promise; off -> []', async () => {
  const c = new PerformanceMetricsCollector({}, {
    probes: { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' }, gpu: { backend: 'systeminformation' } }), readGpus: async () => [gpuReading(0)] },
  });
  const p = c.recordGpuUsage();
  assert.ok(p instanceof Promise);
  assert.equal((await p).length, 1);
  c.updateConfig({ enableGpuTracking: false });
  assert.deepEqual(c.recordGpuUsage(), []);
  const none = new PerformanceMetricsCollector({}, quiet);
  assert.equal(none.gpuAvailable, false);
  assert.deepEqual(none.recordGpuUsage(), []);
  c.close();
  none.close();
});

/** A stand-in sampler that hands out prepared batches. */
function fakeSampler(batches: SampleBatch[], log: SamplerOptions[]): CollectorProbes['Sampler'] {
  return class {
    running = false;
    constructor(readonly options: SamplerOptions) { log.push(options); }
    start(): void { this.running = true; }
    stop(): void { this.running = false; }
    drain(): SampleBatch { return batches.shift() ?? { count: 0, gpuCount: 0, recordSlots: 0, data: new Float64Array(0), droppedTotal: 0 }; }
  };
}

test('ingestSamples decodes sampler records: bytes -> MiB, GPU blocks, NaN -> null, lost GPUs skipped, erroring ones kept', () => {
  const slots = recordSlots(2);
  const data = new Float64Array(slots * 2).fill(NaN);
  const MB = 1048576;
  for (let r = 0; r < 2; r++) {
    const b = r * slots;
    data[b + HeaderSlot.wallClockMs] = 1_700_000_000_000 + r * 10;
    data[b + HeaderSlot.gpuCount] = 2;
    const m = b + RECORD_MEMORY_OFFSET;
    data[m + MemorySlot.totalBytes] = 16000 * MB;
    data[m + MemorySlot.availableBytes] = 12000 * MB;
    data[m + MemorySlot.processRssBytes] = (100 + r) * MB;
    for (let g = 0; g < 2; g++) {
      const o = b + RECORD_MEMORY_OFFSET + 7 + g * GPU_SLOTS;
      // GPU 1: an error in record 0 (its other fields still read), lost in record 1.
      data[o + GpuSlot.status] = g === 1 ? (r === 1 ? 1 : 2) : 0;
      data[o + GpuSlot.loadPercent] = 10 * (g + 1);
      data[o + GpuSlot.memoryTotalBytes] = 8000 * MB;
      data[o + GpuSlot.memoryUsedBytes] = 2000 * MB;
      data[o + GpuSlot.temperatureC] = g === 0 ? 55 : NaN;
      data[o + GpuSlot.powerMilliwatts] = 250_000;
    }
  }
  const log: SamplerOptions[] = [];
  const c = new PerformanceMetricsCollector({ memorySampleIntervalMs: 10 }, {
    probes: {
      probeInfo: () => ({ addon: { loaded: true }, memory: { backend: 'native' }, gpu: { backend: 'nvml' } }),
      Sampler: fakeSampler([{ count: 2, gpuCount: 2, recordSlots: slots, data, droppedTotal: 0 }], log),
    },
  });
  c.startMonitoring();
  c.startMonitoring();
  assert.equal(log.length, 1, 'startMonitoring is idempotent');
  assert.deepEqual(log[0], { intervalMs: 10, gpu: true });
  const mem = [...c.memoryRecords()];
  assert.deepEqual(mem[1], { timestamp: 1_700_000_000_010, totalMb: 16000, usedMb: 4000, availableMb: 12000, percent: 25, processMemoryMb: 101, operation: null });
  const gpus = [...c.gpuRecords()];
  assert.deepEqual(gpus.map((g) => [g.gpuId, g.temperatureCelsius, g.loadPercent]), [[0, 55, 10], [1, null, 20], [0, 55, 10]]);
  assert.equal(gpus[0].powerWatts, 250);
  assert.equal(gpus[0].memoryPercent, 25);
  assert.equal(gpus[0].memoryUsedMb, 2000);
  c.stopMonitoring();
  c.stopMonitoring();
  assert.equal(c.monitoring, false);
  c.close();
});

test('monitoring: samples taken before a config change are kept when the change turns their tracking off', () => {
  // updateConfig applied the new flags before stopping the sampler, whose last
  // drain then dropped the memory or GPU samples taken while tracking was on.
  const slots = recordSlots(1);
  const MB = 1048576;
  const batch = (): SampleBatch => {
    const data = new Float64Array(slots).fill(NaN);
    data[HeaderSlot.wallClockMs] = Date.now();
    data[HeaderSlot.gpuCount] = 1;
    data[RECORD_MEMORY_OFFSET + MemorySlot.totalBytes] = 1000 * MB;
    data[RECORD_MEMORY_OFFSET + MemorySlot.availableBytes] = 400 * MB;
    const o = RECORD_MEMORY_OFFSET + 7;
    data[o + GpuSlot.status] = 0;
    data[o + GpuSlot.loadPercent] = 42;
    return { count: 1, gpuCount: 1, recordSlots: slots, data, droppedTotal: 0 };
  };
  for (const off of ['enableGpuTracking', 'enableMemoryTracking'] as const) {
    const c = new PerformanceMetricsCollector({ memorySampleIntervalMs: 1000 }, {
      probes: {
        probeInfo: () => ({ addon: { loaded: true }, memory: { backend: 'native' }, gpu: { backend: 'nvml' } }),
        Sampler: fakeSampler([batch()], []),
      },
    });
    c.startMonitoring();
    c.updateConfig({ [off]: false });
    assert.equal(c.config[off], false);
    assert.deepEqual([...c.gpuRecords()].map((g) => g.loadPercent), [42], `${off}: GPU sample kept`);
    assert.deepEqual([...c.memoryRecords()].map((m) => m.usedMb), [600], `${off}: memory sample kept`);
    c.close();
  }
});

test('monitoring with the real sampler counts samples taken while the event loop was blocked', async (t) => {
  if (!probeInfo().addon.loaded) {
    // PERFPROBE_ADDON=0 asks for the fallbacks, whose timer sampler cannot run while the loop is blocked.
    if (process.env.PERFPROBE_ADDON === '0') return t.skip('PERFPROBE_ADDON=0: fallback sampler');
    if (process.env.CI === 'true') assert.fail('the native addon must be built in CI');
    t.skip('native addon not built here');
    return;
  }
  const c = new PerformanceMetricsCollector({ memorySampleIntervalMs: 10, enableGpuTracking: false }, {});
  c.startMonitoring();
  const until = Date.now() + 300;
  while (Date.now() < until) { /* block the event loop */ }
  const s = c.getMemoryUsageStats();
  c.stopMonitoring();
  assert.ok(s.count >= 15, `only ${s.count} samples in 300 ms at 10 ms`);
  assert.ok(s.currentProcessMb! > 1);
  c.close();
});

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

test('exportToJson / exportToCsv / importFromJson delegate to the file exporters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-collector-'));
  try {
    const c = new PerformanceMetricsCollector({ exportDirectory: dir }, quiet);
    c.recordProcessingTime('decode', 12.5, { photoId: 1 });
    const jsonPath = await c.exportToJson();
    const doc = JSON.parse(readFileSync(jsonPath, 'utf8'));
    assert.equal(doc.processing_metrics[0].operation, 'decode');
    const csvPath = await c.exportToCsv('processing');
    assert.match(readFileSync(csvPath, 'utf8'), /decode/);
    await assert.rejects(async () => c.exportToCsv('nope' as never), RangeError);
    const other = new PerformanceMetricsCollector({}, quiet);
    await other.importFromJson(jsonPath);
    assert.equal(other.getProcessingTimeStats().count, 1);
    c.close();
    other.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function runChild(code: string, env: Record<string, string> = {}, signal = false): { status: number | null; signal: string | null; stdout: string; stderr: string; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-child-'));
  const file = join(dir, 'child.mts');
  writeFileSync(file, code.replaceAll('@SRC@', JSON.stringify(join(root, 'src/index.ts'))));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root, env: { ...process.env, ...env, EXPORT_DIR: dir }, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL',
  });
  const out = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0, dir };
  void signal;
  return out as never;
}

test('monitoring and auto-export timers never keep the process alive', () => {
  const r = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    const c = new PerformanceMetricsCollector({ memorySampleIntervalMs: 5, autoExportIntervalSec: 3600 });
    c.startMonitoring();
    console.log('started', c.monitoring);
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /started true/);
  assert.ok(r.ms < 20_000);
});

test('autoExportIntervalSec writes JSON exports periodically; exportOnExit writes one on normal exit and on SIGTERM', () => {
  const auto = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    import { readdirSync } from 'node:fs';
    const c = new PerformanceMetricsCollector({ exportDirectory: process.env.EXPORT_DIR + '/out', autoExportIntervalSec: 0.05 });
    c.recordProcessingTime('tick', 1);
    await new Promise((r) => setTimeout(r, 400));
    console.log('files', readdirSync(process.env.EXPORT_DIR + '/out').filter((f) => f.endsWith('.json')).length);
    c.close();
  `);
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stdout, /files [1-9]/);

  const onExit = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    const c = new PerformanceMetricsCollector({ exportDirectory: process.env.EXPORT_DIR + '/out', exportOnExit: true });
    c.recordProcessingTime('final', 1);
  `);
  assert.equal(onExit.status, 0, onExit.stderr);
  const dir = (onExit as unknown as { dir: string }).dir;
  const files = readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 1);
  assert.equal(JSON.parse(readFileSync(join(dir, 'out', files[0]), 'utf8')).processing_metrics[0].operation, 'final');

  const term = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    const c = new PerformanceMetricsCollector({ exportDirectory: process.env.EXPORT_DIR + '/out', exportOnExit: true });
    c.recordProcessingTime('killed', 1);
    setInterval(() => {}, 1000);
    setTimeout(() => process.kill(process.pid, 'SIGTERM'), 50);
  `);
  assert.equal(term.signal, 'SIGTERM', `status ${term.status} ${term.stderr}`);
  const tdir = (term as unknown as { dir: string }).dir;
  const tfiles = readdirSync(join(tdir, 'out')).filter((f) => f.endsWith('.json'));
  assert.equal(tfiles.length, 1);
  assert.equal(JSON.parse(readFileSync(join(tdir, 'out', tfiles[0]), 'utf8')).processing_metrics[0].operation, 'killed');
});

test('automatic exports never overlap: a tick while one is still being written is skipped', async () => {
  // Each tick used to start a new export whatever was in flight, so a history
  // that takes longer to write than the interval piled up concurrent exports
  // (memory and files without bound).
  const c = new PerformanceMetricsCollector({ autoExportIntervalSec: 0.005 }, quiet);
  let calls = 0;
  let finish: (path: string) => void = () => {};
  c.exportToJson = () => {
    calls++;
    return new Promise<string>((resolve) => (finish = resolve));
  };
  try {
    for (let i = 0; i < 500 && calls === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(calls, 1);
    // Many more ticks pass while the first export is pending.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls, 1, 'no second export while the first is in flight');
    finish('done');
    for (let i = 0; i < 500 && calls === 1; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(calls, 2, 'the next tick after it finished exports again');
  } finally {
    c.close();
    finish('done');
  }
});

test('monitoring: config changes restart the sampler; the systeminformation fallback polls GPUs on a timer', async () => {
  const log: SamplerOptions[] = [];
  let polls = 0;
  const c = new PerformanceMetricsCollector({ memorySampleIntervalMs: 20 }, {
    probes: {
      probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' }, gpu: { backend: 'systeminformation' } }),
      Sampler: fakeSampler([], log),
      readGpus: async () => {
        polls++;
        return [gpuReading(0, { timestamp: Date.now() })];
      },
    },
  });
  c.startMonitoring();
  assert.deepEqual(log, [{ intervalMs: 20, gpu: false }], 'GPUs are not sampled natively without NVML');
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(polls >= 2, `${polls} GPU polls`);
  assert.ok(c.getGpuUsageStats().count >= 2);
  c.updateConfig({ memorySampleIntervalMs: 50 });
  assert.deepEqual(log.map((o) => o.intervalMs), [20, 50]);
  c.stopMonitoring();
  const after = polls;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(polls, after, 'no polling after stopMonitoring');
  c.close();
});
