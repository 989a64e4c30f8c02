/**
 * Sampler backend on the addon's native thread: it samples on absolute
 * deadlines whatever the event loop does, writes fixed-size records into a
 * bounded native ring and never calls into JavaScript. A cleanup hook stops
 * and joins it when the thread's environment exits, so it never keeps a
 * process or worker alive.
 */
import type { NativeAddon, NativeSampler } from '../native/binding.js';
import type { SamplerBackend, SamplerStatsSnapshot } from './sampler-backend.js';

export class NativeSamplerBackend implements SamplerBackend {
  readonly kind = 'native' as const;
  readonly #native: NativeSampler;
  // drain() takes what is pending; written - dropped - drained = pending.
  #drained = 0;

  constructor(addon: NativeAddon) {
    this.#native = new addon.Sampler();
  }

  start(intervalMs: number, capacity: number, gpu: boolean, watchPid: number, nvmlLibrary: string): boolean {
    const started = this.#native.start(intervalMs, capacity, gpu, watchPid, nvmlLibrary);
    if (started) this.#drained = 0;
    return started;
  }

  stop(): void {
    this.#native.stop();
  }

  drainInto(out: Float64Array): number {
    const n = this.#native.drain(out);
    this.#drained += n;
    return n;
  }

  pending(): number {
    const s = this.#native.stats();
    return Math.max(0, s.written - s.dropped - this.#drained);
  }

  stats(): SamplerStatsSnapshot {
    const s = this.#native.stats();
    return {
      running: s.running,
      written: s.written,
      dropped: s.dropped,
      gpuCount: s.gpuCount,
      recordSlots: s.recordSlots,
      ringBytes: s.ringBytes ?? 0,
      ringMaxBytes: s.ringMaxBytes ?? 0,
      treeHwmBytes: s.treeHwmBytes ?? null,
    };
  }
}
