// The slot layout is one contract in three places: native/record.h,
// native/gpu/gpu_api.h and src/schema/layout.ts, GPU status codes included.
// These tests check the TypeScript copy against the headers' text and the
// loaded addon's export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addonStatus, getAddon } from '../../src/native/binding.js';
import { GPU_SLOTS, GPU_SLOW_REFRESH_MS, GpuSlot, GpuStatusCode, HEADER_SLOTS, HeaderSlot, MEMORY_SLOTS, MemorySlot, RECORD_GPU_OFFSET, recordSlots } from '../../src/schema/layout.js';

const root = join(__dirname, '..', '..');

/** `kName = 3,` entries of the C++ enums in a header. */
function enumValues(file: string): Map<string, number> {
  const text = readFileSync(join(root, file), 'utf8');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/\b(k\w+)\s*=\s*(\d+)\s*,/g)) out.set(m[1]!, Number(m[2]));
  return out;
}

test('addon layout export equals src/schema/layout.ts, GPU status codes included', (t) => {
  const addon = getAddon();
  if (!addon) {
    if (process.env.CI === 'true') assert.fail(`addon not loaded in CI: ${addonStatus().error}`);
    t.skip(`addon not loaded: ${addonStatus().error}`);
    return;
  }
  assert.deepEqual({ ...addon.layout, gpuStatus: { ...addon.layout.gpuStatus } }, { memorySlots: MEMORY_SLOTS, headerSlots: HEADER_SLOTS, gpuSlots: GPU_SLOTS, gpuStatus: GpuStatusCode });
  const sampler = new addon.Sampler();
  assert.equal(sampler.stats().recordSlots, 0, 'a never-started sampler has no record size yet');
  sampler.start(1000, 2, false, 0);
  assert.equal(sampler.stats().recordSlots, recordSlots(0));
  sampler.stop();
});

test('every slot index in record.h matches layout.ts', () => {
  const rec = enumValues('native/record.h');
  const memory: Record<keyof typeof MemorySlot, string> = {
    totalBytes: 'kMemTotalBytes',
    availableBytes: 'kMemAvailableBytes',
    freeBytes: 'kMemFreeBytes',
    processRssBytes: 'kProcessRssBytes',
    processPeakRssBytes: 'kProcessPeakRssBytes',
    swapTotalBytes: 'kSwapTotalBytes',
    swapFreeBytes: 'kSwapFreeBytes',
  };
  for (const [ts, c] of Object.entries(memory)) assert.equal(rec.get(c), MemorySlot[ts as keyof typeof MemorySlot], c);
  assert.equal(rec.get('kMemorySlots'), MEMORY_SLOTS);
  const header: Record<keyof typeof HeaderSlot, string> = {
    monotonicNs: 'kMonotonicNs',
    wallClockMs: 'kWallClockMs',
    treeRssBytes: 'kTreeRssBytes',
    gpuCount: 'kGpuCountSlot',
  };
  for (const [ts, c] of Object.entries(header)) assert.equal(rec.get(c), HeaderSlot[ts as keyof typeof HeaderSlot], c);
  assert.equal(rec.get('kHeaderSlots'), HEADER_SLOTS);
  assert.equal(RECORD_GPU_OFFSET, HEADER_SLOTS + MEMORY_SLOTS);
});

test('every GPU slot index and status code in gpu_api.h matches layout.ts', () => {
  const gpu = enumValues('native/gpu/gpu_api.h');
  const pairs: Array<[keyof typeof GpuSlot, string]> = [
    ['status', 'kGpuStatus'],
    ['loadPercent', 'kGpuLoadPercent'],
    ['memoryUtilPercent', 'kGpuMemoryUtilPercent'],
    ['memoryTotalBytes', 'kGpuMemoryTotalBytes'],
    ['memoryUsedBytes', 'kGpuMemoryUsedBytes'],
    ['memoryReservedBytes', 'kGpuMemoryReservedBytes'],
    ['memoryFreeBytes', 'kGpuMemoryFreeBytes'],
    ['temperatureC', 'kGpuTemperatureC'],
    ['powerMilliwatts', 'kGpuPowerMilliwatts'],
    ['powerLimitMilliwatts', 'kGpuPowerLimitMilliwatts'],
    ['smClockMhz', 'kGpuSmClockMhz'],
    ['memoryClockMhz', 'kGpuMemoryClockMhz'],
    ['fanPercent', 'kGpuFanPercent'],
    ['processMemoryBytes', 'kGpuProcessMemoryBytes'],
    ['watchedMemoryBytes', 'kGpuWatchedMemoryBytes'],
    ['performanceState', 'kGpuPerformanceState'],
    ['clocksEventReasons', 'kGpuClocksEventReasons'],
    ['memoryTemperatureC', 'kGpuMemoryTemperatureC'],
    ['encoderUtilPercent', 'kGpuEncoderUtilPercent'],
    ['decoderUtilPercent', 'kGpuDecoderUtilPercent'],
    ['pcieLinkGeneration', 'kGpuPcieLinkGeneration'],
    ['pcieLinkWidth', 'kGpuPcieLinkWidth'],
    ['eccModeCurrent', 'kGpuEccModeCurrent'],
    ['eccModePending', 'kGpuEccModePending'],
    ['eccCorrectedVolatile', 'kGpuEccCorrectedVolatile'],
    ['eccUncorrectedVolatile', 'kGpuEccUncorrectedVolatile'],
    ['eccCorrectedAggregate', 'kGpuEccCorrectedAggregate'],
    ['eccUncorrectedAggregate', 'kGpuEccUncorrectedAggregate'],
  ];
  assert.equal(pairs.length, Object.keys(GpuSlot).length, 'every GpuSlot key is checked');
  for (const [ts, c] of pairs) assert.equal(gpu.get(c), GpuSlot[ts], c);
  // Every slot the header declares is mirrored, and no two share an index.
  const declared = [...gpu.entries()].filter(([k]) => k.startsWith('kGpu') && !['kGpuSlots', 'kGpuSlowRefreshNs', 'kGpuOk', 'kGpuLost', 'kGpuError'].includes(k));
  assert.deepEqual(declared.map(([k]) => k).sort(), pairs.map(([, c]) => c).sort());
  assert.equal(new Set(Object.values(GpuSlot)).size, Object.keys(GpuSlot).length, 'slot indices are distinct');
  assert.ok(Math.max(...Object.values(GpuSlot)) < GPU_SLOTS);
  assert.equal(gpu.get('kGpuSlots'), GPU_SLOTS);
  const refresh = /kGpuSlowRefreshNs\s*=\s*(\d+)LL/.exec(readFileSync(join(root, 'native/gpu/gpu_api.h'), 'utf8'));
  assert.equal(Number(refresh?.[1]) / 1e6, GPU_SLOW_REFRESH_MS);
  const status: Array<[keyof typeof GpuStatusCode, string]> = [['ok', 'kGpuOk'], ['lost', 'kGpuLost'], ['error', 'kGpuError']];
  for (const [ts, c] of status) assert.equal(gpu.get(c), GpuStatusCode[ts], c);
});
