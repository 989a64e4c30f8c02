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
  /** 0..15 = P0..P15; NaN when unknown. */
  performanceState: 15,
  /** nvmlClocksEventReason* bitmask. */
  clocksEventReasons: 16,
  memoryTemperatureC: 17,
  encoderUtilPercent: 18,
  decoderUtilPercent: 19,
  // The slots below are refreshed at most once per second per device (GPU_SLOW_REFRESH_MS).
  pcieLinkGeneration: 20,
  pcieLinkWidth: 21,
  /** 1 enabled, 0 disabled (the four counters are then NaN), NaN unsupported. */
  eccModeCurrent: 22,
  eccModePending: 23,
  eccCorrectedVolatile: 24,
  eccUncorrectedVolatile: 25,
  eccCorrectedAggregate: 26,
  eccUncorrectedAggregate: 27,
} as const;
export type GpuSlotName = keyof typeof GpuSlot;
export const GPU_SLOTS = 28;
/** How often, at most, the slow GPU slots (PCIe link, ECC) are read again (kGpuSlowRefreshNs). */
export const GPU_SLOW_REFRESH_MS = 1000;

/** GPU status codes in the GpuSlot.status slot (native gpu::GpuStatus; the addon exports them as layout.gpuStatus). */
export const GpuStatusCode = { ok: 0, lost: 1, error: 2 } as const;

/** Doubles in one sampler record holding `gpuCount` GPU blocks. */
export function recordSlots(gpuCount: number): number {
  return RECORD_GPU_OFFSET + gpuCount * GPU_SLOTS;
}

/** MB means MiB: bytes / BYTES_PER_MB. */
export const BYTES_PER_MB = 1048576;
