/**
 * Slot layout of the buffers the native addon fills: the contract between
 * native/record.h, native/gpu/gpu_api.h and TypeScript. Every slot is a
 * float64 in the native unit (bytes, mW, MHz, percent, C); NaN means
 * unknown. test/native/layout.test.ts checks these numbers against the
 * headers' text and the loaded addon's `layout` export (slot counts and
 * GPU status codes). Units and nulls are decided in src/probes/decode.ts.
 */
export const MemorySlot = {
  totalBytes: 0,
  availableBytes: 1,
  freeBytes: 2,
  processRssBytes: 3,
  processPeakRssBytes: 4,
  swapTotalBytes: 5,
  swapFreeBytes: 6,
} as const;
export const MEMORY_SLOTS = 7;

export const HeaderSlot = {
  monotonicNs: 0,
  wallClockMs: 1,
  treeRssBytes: 2,
  gpuCount: 3,
} as const;
export const HEADER_SLOTS = 4;
export const RECORD_MEMORY_OFFSET = HEADER_SLOTS;
export const RECORD_GPU_OFFSET = HEADER_SLOTS + MEMORY_SLOTS;

export const GpuSlot = {
  status: 0,
  loadPercent: 1,
  memoryUtilPercent: 2,
  memoryTotalBytes: 3,
  memoryUsedBytes: 4,
  memoryReservedBytes: 5,
  memoryFreeBytes: 6,
  temperatureC: 7,
  powerMilliwatts: 8,
  powerLimitMilliwatts: 9,
  smClockMhz: 10,
  memoryClockMhz: 11,
  fanPercent: 12,
  processMemoryBytes: 13,
  watchedMemoryBytes: 14,
} as const;
export type GpuSlotName = keyof typeof GpuSlot;
export const GPU_SLOTS = 16;

/** GPU status codes in the GpuSlot.status slot (native gpu::GpuStatus; the addon exports them as layout.gpuStatus). */
export const GpuStatusCode = { ok: 0, lost: 1, error: 2 } as const;

/** Doubles in one sampler record holding `gpuCount` GPU blocks. */
export function recordSlots(gpuCount: number): number {
  return RECORD_GPU_OFFSET + gpuCount * GPU_SLOTS;
}

/** MB means MiB: bytes / BYTES_PER_MB. */
export const BYTES_PER_MB = 1048576;
