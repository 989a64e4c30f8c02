// src/collector/monitoring.ts: memory and GPU records taken on request, sampler batches ingested (through
// the probes' decoder), the background strategies and their restarts on config changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { GPU_SLOTS, GpuSlot, HeaderSlot, MemorySlot, RECORD_MEMORY_OFFSET, recordSlots, probeInfo, type SampleBatch, type SamplerOptions } from '../../src/probes/index.js';
import { noGpu, quiet, gpuReading, fakeSampler } from '../helpers/collector-helpers.js';
import { HANG_GUARD_MS, pollUntil } from '../helpers/hang-guard.js';

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
  const readings = [gpuReading(0), gpuReading(1, { temperatureCelsius: null, powerWatts: null, performanceState: 2, memoryTemperatureCelsius: 71, status: 'error' }), gpuReading(2, { status: 'lost' })];
  const c = new PerformanceMetricsCollector({}, {
    probes: { probeInfo: () => ({ addon: { loaded: true }, memory: { backend: 'native' }, gpu: { backend: 'nvml' } }), readGpusSync: () => readings },
  });
  assert.equal(c.gpuAvailable, true);
  const recs = c.recordGpuUsage('ai_inference');
  assert.ok(Array.isArray(recs));
  assert.deepEqual((recs as { gpuId: number }[]).map((r) => r.gpuId), [0, 1]);
  assert.deepEqual(recs[1 as never], {
    timestamp: readings[1].timestamp, gpuId: 1, loadPercent: 51, memoryUsedMb: 250, memoryTotalMb: 1000, memoryPercent: 25,
    temperatureCelsius: null, powerWatts: null, performanceState: 2, memoryTemperatureCelsius: 71, encoderUtilPercent: null,
    decoderUtilPercent: null, operation: 'ai_inference',
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
  // The ring is sized from the drain cadence (60 s at 10 ms: eight drains' worth, 48,000 records).
  assert.deepEqual(log[0], { intervalMs: 10, gpu: true, capacity: 48_000 });
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
  // Block the event loop until the sampler thread has written 15 samples (however long a loaded machine takes:
  // the count is read from the thread's counters, which needs no event loop; the bound is a hang guard).
  const sampler = (c as unknown as { monitor: { sampler: { stats(): { written: number } } } }).monitor.sampler;
  const end = Date.now() + HANG_GUARD_MS;
  while (sampler.stats().written < 15 && Date.now() < end) { /* block the event loop */ }
  const s = c.getMemoryUsageStats();
  c.stopMonitoring();
  assert.ok(s.count >= 15, `only ${s.count} of the samples written while the event loop was blocked were counted`);
  assert.ok(s.currentProcessMb! > 1);
  c.close();
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
  assert.deepEqual(log, [{ intervalMs: 20, gpu: false, capacity: 24_000 }], 'GPUs are not sampled natively without NVML');
  await pollUntil('two GPU polls', () => polls >= 2);
  assert.ok(c.getGpuUsageStats().count >= 2);
  c.updateConfig({ memorySampleIntervalMs: 50 });
  assert.deepEqual(log.map((o) => o.intervalMs), [20, 50]);
  c.stopMonitoring();
  const after = polls;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(polls, after, 'no polling after stopMonitoring');
  c.close();
});
