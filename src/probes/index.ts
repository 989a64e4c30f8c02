// Probes: where readings are made (native addon or fallback), and the one decoder of the addon's buffers.
export * from './types.js';
export * from '../schema/layout.js';
export { ERR_NVML_UNAVAILABLE, GPU_LOST_WARNING_CODE } from '../errors.js';
export { readMemory } from './memory.js';
export {
  readGpus,
  readGpusSync,
  readGpuEnergy,
  readGpuPcieThroughput,
  GPU_DETAILS_REFRESH_MS,
  gpuStaticInfo,
  gpuBackendInfo,
  configureGpu,
  closeGpu,
} from './gpu.js';
export type { GpuConfig, GpuStaticInfo, GpuEnergyReading, GpuPcieThroughput } from './gpu.js';
export { watchGpuEvents } from './gpu-watch.js';
export type { GpuEventWatcher } from './gpu-watch.js';
export { XID_MEANINGS, xidMeaning, describeGpuEvent } from './gpu-events.js';
export type { GpuEvent, GpuEventType } from './gpu-events.js';
export { CLOCKS_EVENT_REASONS } from '../schema/gpu.js';
export { Sampler } from './sampler.js';
export { probeInfo } from './info.js';
