// Probes: where readings are made (native addon or fallback).
export * from './types.js';
export * from './layout.js';
export { readMemory } from './memory.js';
export {
  readGpus,
  readGpusSync,
  readGpuEnergy,
  gpuStaticInfo,
  gpuBackendInfo,
  configureGpu,
  closeGpu,
  ERR_NVML_UNAVAILABLE,
  GPU_LOST_WARNING_CODE,
} from './gpu.js';
export type { GpuConfig, GpuStaticInfo, GpuEnergyReading } from './gpu.js';
export { Sampler } from './sampler.js';
export { probeInfo } from './info.js';
