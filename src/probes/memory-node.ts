/**
 * Memory probe fallback on Node.js alone: os.totalmem(), os.freemem() (libuv
 * reads MemAvailable on Linux), process.memoryUsage() and
 * process.resourceUsage().maxRSS. No swap figures (null).
 */
import os from 'node:os';
import { BYTES_PER_MB, MemorySlot } from '../schema/layout.js';
import type { MemoryReading } from './types.js';

/** Fills memory slots (bytes, NaN = unknown) the way the addon does. */
export function readMemorySlotsNode(out: Float64Array, offset = 0): void {
  const total = os.totalmem();
  const free = os.freemem();
  out[offset + MemorySlot.totalBytes] = total;
  out[offset + MemorySlot.availableBytes] = free;
  out[offset + MemorySlot.freeBytes] = free;
  out[offset + MemorySlot.processRssBytes] = process.memoryUsage.rss();
  out[offset + MemorySlot.processPeakRssBytes] = process.resourceUsage().maxRSS * 1024;
  out[offset + MemorySlot.swapTotalBytes] = NaN;
  out[offset + MemorySlot.swapFreeBytes] = NaN;
}

export function readMemoryNode(): MemoryReading {
  const total = os.totalmem();
  const available = os.freemem();
  const usage = process.memoryUsage();
  const used = total - available;
  return {
    timestamp: Date.now(),
    totalMb: total / BYTES_PER_MB,
    usedMb: used / BYTES_PER_MB,
    availableMb: available / BYTES_PER_MB,
    percent: total > 0 ? (used / total) * 100 : 0,
    processMemoryMb: usage.rss / BYTES_PER_MB,
    processPeakMb: Math.max(process.resourceUsage().maxRSS * 1024, usage.rss) / BYTES_PER_MB,
    swapTotalMb: null,
    swapUsedMb: null,
    heapUsedMb: usage.heapUsed / BYTES_PER_MB,
  };
}
