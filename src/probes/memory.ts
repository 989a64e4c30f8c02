// PLACEHOLDER (owner: native-core helper) — replaced by the real probe.
import type { MemoryReading } from './types.js';
export function readMemory(): MemoryReading {
  throw new Error('readMemory: not implemented yet');
}
