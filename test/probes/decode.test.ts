// The one decoder of the addon's buffers (src/probes/decode.ts): readMemory's reading, readGpusSync's
// reading, the collector's sampled records and `perfprobe run`'s samples are all decoded there, so they
// agree figure for figure on the same slots (units, nulls, the MemFree fallback, lost GPUs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { decodeBatchTicks } from '../../src/cli/sampling.js';
import { decodeGpuBlock, decodeMemory, decodeMemoryReading, MEMORY_ROW, MemoryRow } from '../../src/probes/decode.js';
import {
  GPU_RUN_SAMPLE_KEYS,
  GPU_SCHEMA,
  GPU_SLOTS,
  GpuSlot,
  GpuStatusCode,
  HeaderSlot,
  MEMORY_SCHEMA,
  MEMORY_SLOTS,
  MemorySlot,
  RECORD_GPU_OFFSET,
  RECORD_MEMORY_OFFSET,
  recordSlots,
} from '../../src/schema/index.js';
import type { SampleBatch } from '../../src/probes/index.js';
import { fakeSampler, noGpu } from '../helpers/collector-helpers.js';

const GiB = 2 ** 30;
const T0 = Date.UTC(2025, 0, 1);

/** Two records of two GPUs: the second record lacks MemAvailable (kernels before 3.14), and its GPU 1 is lost. */
function batch(): SampleBatch {
  const slots = recordSlots(2);
  const data = new Float64Array(2 * slots).fill(NaN);
  for (let r = 0; r < 2; r++) {
    const b = r * slots;
    data[b + HeaderSlot.wallClockMs] = T0 + r * 100;
    data[b + HeaderSlot.treeRssBytes] = r === 0 ? 0 : 300 * 1048576;
    data[b + HeaderSlot.gpuCount] = 2;
    const m = b + RECORD_MEMORY_OFFSET;
    data[m + MemorySlot.totalBytes] = 16 * GiB;
    data[m + MemorySlot.availableBytes] = r === 0 ? 10 * GiB : NaN;
    data[m + MemorySlot.freeBytes] = 4 * GiB;
    data[m + MemorySlot.processRssBytes] = 123 * 1048576;
    for (let g = 0; g < 2; g++) {
      const o = b + RECORD_GPU_OFFSET + g * GPU_SLOTS;
      const lost = r === 1 && g === 1;
      data[o + GpuSlot.status] = lost ? GpuStatusCode.lost : GpuStatusCode.ok;
      if (lost) continue;
      data[o + GpuSlot.loadPercent] = 10 + r + g;
      data[o + GpuSlot.memoryTotalBytes] = 80 * GiB;
      data[o + GpuSlot.memoryUsedBytes] = (1 + g) * GiB + 12345;
      data[o + GpuSlot.temperatureC] = g === 0 ? 50 : NaN;
      data[o + GpuSlot.powerMilliwatts] = 123456 + r;
      data[o + GpuSlot.watchedMemoryBytes] = r * 1048576;
    }
  }
  return { count: 2, gpuCount: 2, recordSlots: slots, data, droppedTotal: 0 };
}

test('one decoder: readMemory, the sampled memory records and run samples agree, MemFree standing in for a missing MemAvailable', () => {
  const b = batch();
  const c = new PerformanceMetricsCollector({}, { probes: { ...noGpu, Sampler: fakeSampler([b], []) } });
  c.startMonitoring();
  const records = [...c.memoryRecords()];
  const ticks = decodeBatchTicks(b);
  assert.equal(records.length, 2);
  for (let r = 0; r < 2; r++) {
    const reading = decodeMemoryReading(b.data, r * b.recordSlots + RECORD_MEMORY_OFFSET, 0);
    for (const col of MEMORY_SCHEMA.columns) {
      assert.equal(records[r]![col.key], reading[col.key], `record ${r} ${col.key}`);
    }
    assert.equal(ticks[r]!.systemTotalMb, reading.totalMb);
    assert.equal(ticks[r]!.systemAvailableMb, reading.availableMb);
    assert.equal(ticks[r]!.systemUsedMb, reading.usedMb);
  }
  assert.equal(records[1]!.availableMb, 4096, 'MemFree when MemAvailable is missing');
  assert.equal(records[1]!.usedMb, 12288);
  assert.equal(records[1]!.percent, 75);
  assert.deepEqual(ticks.map((t) => t.treeRssMb), [null, 300], 'a 0 tree RSS (root exited) is unknown');
  c.close();
});

test('one memory policy: the reading decoder and the row decoder agree field by field, on every fallback and unknown', () => {
  const MiB = 1048576;
  // [case, the slots that are known (the rest NaN), figures the reading must show]
  const cases: Array<[string, Partial<Record<keyof typeof MemorySlot, number>>, Record<string, number | null>]> = [
    ['all known, peak above the RSS', { totalBytes: 16 * GiB, availableBytes: 10 * GiB, freeBytes: 4 * GiB, processRssBytes: 100 * MiB, processPeakRssBytes: 150 * MiB, swapTotalBytes: 2 * GiB, swapFreeBytes: GiB },
      { totalMb: 16384, usedMb: 6144, availableMb: 10240, percent: 37.5, processMemoryMb: 100, processPeakMb: 150, swapTotalMb: 2048, swapUsedMb: 1024 }],
    ['peak lagging below the RSS reads the RSS', { totalBytes: 16 * GiB, availableBytes: 10 * GiB, processRssBytes: 200 * MiB, processPeakRssBytes: 150 * MiB },
      { processPeakMb: 200, swapTotalMb: null, swapUsedMb: null }],
    ['no MemAvailable: MemFree', { totalBytes: 8 * GiB, freeBytes: 2 * GiB, processRssBytes: 50 * MiB }, { availableMb: 2048, usedMb: 6144, percent: 75, processPeakMb: null }],
    ['no swap free: swap used unknown', { totalBytes: 8 * GiB, availableBytes: GiB, processRssBytes: MiB, swapTotalBytes: GiB }, { swapTotalMb: 1024, swapUsedMb: null }],
    ['no total: percent 0 in readings', { availableBytes: GiB, processRssBytes: MiB }, { percent: 0 }],
  ];
  const row = new Float64Array(MEMORY_ROW.length);
  for (const [name, fields, expected] of cases) {
    const slots = new Float64Array(MEMORY_SLOTS).fill(NaN);
    for (const [k, v] of Object.entries(fields)) slots[MemorySlot[k as keyof typeof MemorySlot]] = v!;
    const reading = decodeMemoryReading(slots, 0, 42) as unknown as Record<string, number | null>;
    decodeMemory(slots, 0, row);
    assert.equal(reading.timestamp, 42);
    assert.equal(reading.heapUsedMb, null);
    for (const key of MEMORY_ROW) {
      const fromRow = row[MemoryRow[key]]!;
      // The reading's nullable figures (peak, swap) read null where the row holds NaN; the others are numbers in its type.
      const nullable = key === 'processPeakMb' || key === 'swapTotalMb' || key === 'swapUsedMb';
      const want = key === 'percent' && !(fields.totalBytes! > 0) ? 0 : nullable && Number.isNaN(fromRow) ? null : fromRow;
      assert.equal(reading[key], want, `${name}: ${key}`);
    }
    for (const [key, want] of Object.entries(expected)) assert.equal(reading[key], want, `${name}: ${key} = ${want}`);
  }
});

test('one decoder: readGpusSync readings, the sampled GPU records and run samples agree block by block; lost GPUs leave a gap in records only', () => {
  const b = batch();
  const c = new PerformanceMetricsCollector(
    { enableGpuTracking: true },
    { probes: { ...noGpu, probeInfo: () => ({ addon: { loaded: true }, memory: { backend: 'native' }, gpu: { backend: 'nvml' } }), Sampler: fakeSampler([b], []) } },
  );
  c.startMonitoring();
  const records = [...c.gpuRecords()];
  const ticks = decodeBatchTicks(b);
  assert.equal(records.length, 3, 'two GPUs, then one (GPU 1 lost)');
  let k = 0;
  for (let r = 0; r < 2; r++) {
    for (let g = 0; g < 2; g++) {
      const reading = decodeGpuBlock(b.data, r * b.recordSlots + RECORD_GPU_OFFSET + g * GPU_SLOTS, g, T0) as unknown as Record<string, unknown>;
      const tick = ticks[r]!.gpus[g] as unknown as Record<string, unknown>;
      for (const key of GPU_RUN_SAMPLE_KEYS) if (key !== 'treeGpuMemoryMb') assert.deepEqual(tick[key], reading[key], `tick ${r}/${g} ${key}`);
      if (reading.status === 'lost') continue;
      const rec = records[k++] as unknown as Record<string, unknown>;
      for (const col of GPU_SCHEMA.columns) assert.equal(rec[col.key], reading[col.key], `record ${r}/${g} ${col.key}`);
    }
  }
  assert.equal(ticks[1]!.gpus[1]!.status, 'lost');
  assert.equal(ticks[1]!.gpus[0]!.treeGpuMemoryMb, 1);
  assert.equal(ticks[0]!.gpus[1]!.temperatureCelsius, null, 'NaN is null, never 0');
  c.close();
});
