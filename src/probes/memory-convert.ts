/**
 * Turns the memory slots the addon fills (bytes, NaN = unknown) into a
 * MemoryReading (MiB, null = unknown). Shared by the native probe and the
 * sampler's record decoding, so both apply the same policy.
 */
import { BYTES_PER_MB, MemorySlot } from './layout.js';
import type { MemoryReading } from './types.js';

const mb = (bytes: number): number | null => (Number.isFinite(bytes) ? bytes / BYTES_PER_MB : null);

/** Decodes memory slots starting at `offset` of `slots`. */
export function memoryReadingFromSlots(slots: Float64Array, offset: number, timestamp: number): MemoryReading {
  const total = slots[offset + MemorySlot.totalBytes]!;
  let available = slots[offset + MemorySlot.availableBytes]!;
  // Kernels before 3.14 have no MemAvailable: MemFree is the nearest figure.
  if (!Number.isFinite(available)) available = slots[offset + MemorySlot.freeBytes]!;
  const used = total - available;
  const swapTotal = slots[offset + MemorySlot.swapTotalBytes]!;
  const swapFree = slots[offset + MemorySlot.swapFreeBytes]!;
  const rss = slots[offset + MemorySlot.processRssBytes]!;
  // The kernel updates the high-water mark lazily: the peak is at least now.
  const peak = slots[offset + MemorySlot.processPeakRssBytes]!;
  return {
    timestamp,
    totalMb: total / BYTES_PER_MB,
    usedMb: used / BYTES_PER_MB,
    availableMb: available / BYTES_PER_MB,
    percent: total > 0 ? (used / total) * 100 : 0,
    processMemoryMb: rss / BYTES_PER_MB,
    processPeakMb: Number.isFinite(peak) ? Math.max(peak, rss) / BYTES_PER_MB : null,
    swapTotalMb: mb(swapTotal),
    swapUsedMb: Number.isFinite(swapTotal) && Number.isFinite(swapFree) ? (swapTotal - swapFree) / BYTES_PER_MB : null,
    heapUsedMb: null,
  };
}
