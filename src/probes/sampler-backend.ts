/** What the public Sampler needs from a backend (native thread or JS timer). */
export interface SamplerStatsSnapshot {
  running: boolean;
  written: number;
  dropped: number;
  gpuCount: number;
  recordSlots: number;
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
