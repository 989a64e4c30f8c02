/**
 * Sampler: periodic memory (and GPU) records in a bounded ring that
 * JavaScript drains in batches.
 *
 * Native backend (the addon loaded): a native thread samples on absolute
 * steady-clock deadlines, also while the event loop is blocked, and never
 * calls into JavaScript; records carry process-tree RSS (watchPid, Linux) and
 * per-GPU blocks (NVML). Fallback backend: an unref'd JavaScript timer that
 * writes the same record layout but CANNOT sample while the event loop is
 * blocked and has no GPU blocks or tree RSS. Neither keeps the process alive.
 */
import { checkInteger, checkNumber, typeError } from '../errors.js';
import { getAddon } from '../native/binding.js';
import { noteSampledGpuStatus, nvmlLibraryForSampler } from './gpu.js';
import { recordSlots } from '../schema/layout.js';
import type { SamplerBackend, SamplerStatsSnapshot } from './sampler-backend.js';
import { NativeSamplerBackend } from './sampler-native.js';
import { TimerSamplerBackend } from './sampler-timer.js';
import type { SampleBatch, SamplerOptions } from './types.js';

export const MAX_INTERVAL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_CAPACITY = 65536;
export const MAX_CAPACITY = 16777216;

/**
 * A ring capacity for a sampler drained every `drainEveryMs`: eight drains'
 * worth of records (room for a late or blocked drain), at least 64, at most
 * DEFAULT_CAPACITY. The native ring allocates its memory as records arrive,
 * so the capacity bounds the worst case; an idle ring holds one 64 KiB chunk.
 */
export function ringCapacityFor(intervalMs: number, drainEveryMs: number): number {
  return Math.min(DEFAULT_CAPACITY, Math.max(64, Math.ceil((8 * drainEveryMs) / intervalMs)));
}

export interface SamplerStats extends SamplerStatsSnapshot {
  backend: 'native' | 'timer';
  /** Records waiting to be drained. */
  pending: number;
}

/** A backend of the kind the loaded addon allows. */
export function createSamplerBackend(kind?: 'native' | 'timer'): SamplerBackend {
  const addon = getAddon();
  if (kind === 'native' && !addon) throw new Error('the native sampler needs the perfprobe addon, which is not loaded');
  return addon && kind !== 'timer' ? new NativeSamplerBackend(addon) : new TimerSamplerBackend();
}

export class Sampler {
  readonly intervalMs: number;
  readonly capacity: number;
  readonly watchPid: number;
  readonly #gpu: boolean | undefined;
  readonly #backend: SamplerBackend;

  /**
   * Validates the options (a TypeError or RangeError naming the field):
   * `intervalMs` a number from 1 to 86400000 (24 h); `capacity` an integer
   * from 1 to 16777216 (default 65536); `gpu` a boolean (default: true when
   * NVML is the GPU backend); `watchPid` a pid (0 or absent: none).
   * `backend` is for tests: force the native or the timer backend.
   */
  constructor(options: SamplerOptions, backend?: SamplerBackend) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    this.intervalMs = checkNumber('intervalMs', options.intervalMs, 1, MAX_INTERVAL_MS,
      `a number of milliseconds from 1 to ${MAX_INTERVAL_MS} (24 h)`);
    this.capacity = options.capacity === undefined ? DEFAULT_CAPACITY : checkInteger('capacity', options.capacity, 1, MAX_CAPACITY);
    if (options.gpu !== undefined && typeof options.gpu !== 'boolean') throw typeError('gpu', 'a boolean', options.gpu);
    this.#gpu = options.gpu;
    this.watchPid = options.watchPid === undefined ? 0 : checkInteger('watchPid', options.watchPid, 0, 2147483647, 'a pid (integer >= 0)');
    this.#backend = backend ?? createSamplerBackend();
  }

  /** 'native' (sampler thread) or 'timer' (JavaScript fallback). */
  get backend(): 'native' | 'timer' {
    return this.#backend.kind;
  }

  get running(): boolean {
    return this.#backend.stats().running;
  }

  /**
   * Starts sampling: one record at once, then one per interval. Calling it
   * while running is a documented no-op (returns this, nothing changes).
   * Starting again after stop() clears the ring and the counters.
   */
  start(): this {
    // GPUs are sampled when the GPU probe chose NVML (also for gpu: true:
    // NVML off, disabled or failing means no GPU blocks), from the very
    // library the probe opened, passed explicitly to the native open.
    const library = this.#backend.kind === 'native' && this.#gpu !== false ? nvmlLibraryForSampler() : null;
    this.#backend.start(this.intervalMs, this.capacity, library !== null, this.watchPid, library ?? '');
    return this;
  }

  /**
   * Stops sampling and (native) joins the thread. Records already written
   * stay drainable. Calling it when stopped is a documented no-op.
   */
  stop(): this {
    this.#backend.stop();
    return this;
  }

  /**
   * Takes the records waiting in the ring, oldest first. Without `out`, every
   * waiting record goes into a new Float64Array. With `out` (reused by the
   * caller: no allocation), as many whole records as fit are copied into it,
   * `data` is a view of `out`, and the rest wait for the next drain.
   * A GPU found lost in the batch is reported once (PERFPROBE_GPU_LOST).
   */
  drain(out?: Float64Array): SampleBatch {
    const before = this.#backend.stats();
    const slots = before.recordSlots || recordSlots(0);
    let data: Float64Array;
    if (out !== undefined) {
      if (!(out instanceof Float64Array)) throw typeError('out', 'a Float64Array', out);
      data = out;
    } else {
      data = new Float64Array(this.#backend.pending() * slots);
    }
    const count = data.length >= slots ? this.#backend.drainInto(data) : 0;
    const batch: SampleBatch = {
      count,
      gpuCount: before.gpuCount,
      recordSlots: slots,
      data: count * slots === data.length ? data : data.subarray(0, count * slots),
      droppedTotal: this.#backend.stats().dropped,
    };
    // A GPU lost while sampling: one PERFPROBE_GPU_LOST warning per device.
    if (batch.gpuCount > 0) noteSampledGpuStatus(batch);
    return batch;
  }

  /** Counters since the last start(). */
  stats(): SamplerStats {
    return { ...this.#backend.stats(), backend: this.#backend.kind, pending: this.#backend.pending() };
  }
}
