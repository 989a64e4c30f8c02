/**
 * Public shapes of the probes. MB means MiB (bytes / 1048576). Unknown or
 * unsupported readings are null, never 0. The readings themselves
 * (MemoryReading, GpuReading) are defined with their schemas in src/schema/.
 */
export type { MemoryReading } from '../schema/memory.js';
export type { GpuReading, GpuProcess, GpuProcessType, GpuStatus, GpuEccErrors, GpuMig, GpuMigDevice } from '../schema/gpu.js';

export interface ProbeInfo {
  addon: { loaded: boolean; path?: string; error?: string };
  memory: { backend: 'native' | 'node'; reason?: string };
  gpu: {
    backend: 'nvml' | 'systeminformation' | 'none';
    reason?: string;
    driverVersion?: string;
    /** Path of the NVML library that was opened or tried. */
    library?: string;
  };
}

/**
 * A batch of sampler records as drained from the native ring: `count`
 * records, each `recordSlots` float64 long, laid out as in src/schema/layout.ts.
 */
export interface SampleBatch {
  count: number;
  gpuCount: number;
  recordSlots: number;
  data: Float64Array;
  /** Records dropped by ring overflow since the sampler started. */
  droppedTotal: number;
}

export interface SamplerOptions {
  /** 1 ms to 24 h. */
  intervalMs: number;
  /** Ring capacity in records (default 65536). Overflow drops the oldest. */
  capacity?: number;
  /** Sample GPUs through NVML on each tick (default true when NVML is the backend). */
  gpu?: boolean;
  /** Also sum RSS (and GPU memory) over this pid's process tree. Linux only. */
  watchPid?: number;
}
