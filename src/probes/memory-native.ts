/**
 * Memory probe on the native addon: one reused Float64Array, filled by the
 * addon (/proc/meminfo and /proc/self/statm read with pread on Linux,
 * task_info/host_statistics64 on macOS, GetProcessMemoryInfo and
 * GlobalMemoryStatusEx on Windows).
 */
import type { NativeAddon } from '../native/binding.js';
import { MEMORY_SLOTS } from '../schema/layout.js';
import { decodeMemoryReading } from './decode.js';
import type { MemoryReading } from './types.js';

/** Returns a synchronous reader bound to `addon`. */
export function createNativeMemoryReader(addon: NativeAddon): () => MemoryReading {
  const slots = new Float64Array(MEMORY_SLOTS);
  const read = addon.readMemory;
  return function readMemoryNative(): MemoryReading {
    read(slots);
    return decodeMemoryReading(slots, 0, Date.now());
  };
}
