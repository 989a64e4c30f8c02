// Probes: where readings are made (native addon or fallback).
export * from './types.js';
export * from './layout.js';
export { readMemory } from './memory.js';
export { readGpus, readGpusSync, configureGpu } from './gpu.js';
export { Sampler } from './sampler.js';
export { probeInfo } from './info.js';
