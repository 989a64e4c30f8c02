/**
 * Public shapes of probe readings. MB means MiB (bytes / 1048576).
 * Unknown or unsupported readings are null, never 0.
 */

export interface MemoryReading {
  /** Milliseconds since the Unix epoch when the reading was taken. */
  timestamp: number;
  totalMb: number;
  /** total - available, as `free` and the seed count it. */
  usedMb: number;
  availableMb: number;
  /** usedMb / totalMb x 100. */
  percent: number;
  /** Resident set size of this process. */
  processMemoryMb: number;
  /** Peak resident set size of this process; null where the platform does not say. */
  processPeakMb: number | null;
  swapTotalMb: number | null;
  swapUsedMb: number | null;
  /** V8 heap in use (only on the node backend and when asked; null otherwise). */
  heapUsedMb: number | null;
}

export type GpuStatus = 'ok' | 'lost' | 'error';

export interface GpuProcess {
  pid: number;
  /** null when the driver does not say (e.g. under some virtualisation). */
  usedMemoryMb: number | null;
}

export interface GpuReading {
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  /** Device index as NVML / nvidia-smi number it. */
  gpuId: number;
  name: string | null;
  uuid: string | null;
  loadPercent: number | null;
  memoryUtilPercent: number | null;
  memoryTotalMb: number | null;
  /** The v2 figure nvidia-smi shows (driver-reserved memory excluded). */
  memoryUsedMb: number | null;
  memoryReservedMb: number | null;
  memoryFreeMb: number | null;
  /** memoryUsedMb / memoryTotalMb x 100. */
  memoryPercent: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
  powerLimitWatts: number | null;
  smClockMhz: number | null;
  memoryClockMhz: number | null;
  fanPercent: number | null;
  /** This process's GPU memory: 0 when not in the list, null when the list is unsupported. */
  processGpuMemoryMb: number | null;
  processes: GpuProcess[];
  status: GpuStatus;
}

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
 * records, each `recordSlots` float64 long, laid out as in ./layout.ts.
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
