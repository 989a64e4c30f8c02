/** What the public Sampler needs from a backend (native thread or JS timer). */
export interface SamplerStatsSnapshot {
  running: boolean;
  written: number;
  dropped: number;
  gpuCount: number;
  recordSlots: number;
  /** Bytes of ring memory allocated now (native: chunks allocated as records arrive). */
  ringBytes: number;
  /** The most the ring can allocate, from its capacity. */
  ringMaxBytes: number;
  /**
   * The largest high-water mark (VmHWM) read from any process of the watched
   * tree since start, in bytes: a floor under the tree's peak that catches
   * spikes between samples. null without watchPid, off Linux, or on the timer.
   */
  treeHwmBytes: number | null;
}

export interface SamplerBackend {
  readonly kind: 'native' | 'timer';
  /** false when already running (nothing changes). `nvmlLibrary`: the NVML file to open when `gpu` ('' = the default name). */
  start(intervalMs: number, capacity: number, gpu: boolean, watchPid: number, nvmlLibrary: string): boolean;
  stop(): void;
  /** Copies whole records, oldest first, into out; returns how many. */
  drainInto(out: Float64Array): number;
  /** Records waiting in the ring. */
  pending(): number;
  stats(): SamplerStatsSnapshot;
}
