// PLACEHOLDER (owner: gpu helper) — replaced by the real probe.
import type { GpuReading, ProbeInfo } from './types.js';
export interface GpuConfig { nvmlLibrary?: string; enabled?: boolean }
export function configureGpu(_config: GpuConfig): void {}
export async function readGpus(): Promise<GpuReading[]> { return []; }
export function readGpusSync(): GpuReading[] { return []; }
/** What probeInfo() reports for the GPU backend. */
export function gpuBackendInfo(): ProbeInfo['gpu'] { return { backend: 'none', reason: 'not implemented yet' }; }
