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

/**
 * Returns a synchronous reader bound to `addon`. The timestamp comes from the
 * addon (readMemoryWithTime: the wall clock read in C right after /proc,
 * cheaper than Date.now() after the system call); an older binary without it
 * gets Date.now().
 */
export function createNativeMemoryReader(addon: NativeAddon): () => MemoryReading {
  const slots = new Float64Array(MEMORY_SLOTS + 1);
  const withTime = addon.readMemoryWithTime;
  if (typeof withTime === 'function') {
    return function readMemoryNative(): MemoryReading {
      withTime(slots);
      return decodeMemoryReading(slots, 0, slots[MEMORY_SLOTS]!);
    };
  }
  const read = addon.readMemory;
  return function readMemoryNative(): MemoryReading {
    read(slots);
    return decodeMemoryReading(slots, 0, Date.now());
  };
}
