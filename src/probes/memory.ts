/**
 * readMemory(): system and process memory, synchronously. Native addon when it
 * loaded (about a microsecond, no allocation but the returned object),
 * os/process otherwise. probeInfo().memory says which.
 */
import { addonStatus, getAddon } from '../native/binding.js';
import { createNativeMemoryReader } from './memory-native.js';
import { readMemoryNode } from './memory-node.js';
import type { MemoryReading } from './types.js';

const addon = getAddon();
const reader: () => MemoryReading = addon ? createNativeMemoryReader(addon) : readMemoryNode;

/**
 * Reads memory now. MB means MiB. `usedMb` is total - available, as `free`
 * counts it; `percent` is usedMb / totalMb x 100. Unknown fields are null.
 */
export function readMemory(): MemoryReading {
  return reader();
}

/** Which memory backend readMemory() uses, and why. */
export function memoryBackend(): { backend: 'native' | 'node'; reason?: string } {
  if (addon) return { backend: 'native' };
  const s = addonStatus();
  return { backend: 'node', reason: s.error ?? 'native addon not loaded' };
}
