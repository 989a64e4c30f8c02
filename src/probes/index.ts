// Probes: where readings are made (native addon or fallback), and the one decoder of the addon's buffers.
export * from './types.js';
export * from '../schema/layout.js';
export { ERR_NVML_UNAVAILABLE, GPU_LOST_WARNING_CODE } from '../errors.js';
export { readMemory } from './memory.js';
export {
  readGpus,
  readGpusSync,
  readGpuEnergy,
  gpuStaticInfo,
  gpuBackendInfo,
  configureGpu,
  closeGpu,
} from './gpu.js';
export type { GpuConfig, GpuStaticInfo, GpuEnergyReading } from './gpu.js';
export { Sampler } from './sampler.js';
export { probeInfo } from './info.js';
