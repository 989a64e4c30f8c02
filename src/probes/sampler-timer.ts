/**
 * Fallback sampler backend for when the addon is not loaded: an unref'd
 * JavaScript interval timer writing the same record layout into a
 * Float64Array ring (no process-tree RSS, no GPU blocks).
 *
 * Limits: a timer runs on the event loop, so it CANNOT sample while the loop
 * is blocked (a 500 ms synchronous task leaves a 500 ms gap), and timer
 * jitter follows the loop's load. It never keeps the process alive.
 */
import { HeaderSlot, RECORD_MEMORY_OFFSET, recordSlots } from '../schema/layout.js';
import { readMemorySlotsNode } from './memory-node.js';
import type { SamplerBackend, SamplerStatsSnapshot } from './sampler-backend.js';

export class TimerSamplerBackend implements SamplerBackend {
  readonly kind = 'timer' as const;
  readonly #slots = recordSlots(0);
  #timer: ReturnType<typeof setInterval> | undefined;
  #ring = new Float64Array(0);
  #capacity = 0;
  #head = 0;
  #count = 0;
  #written = 0;
  #dropped = 0;

  start(intervalMs: number, capacity: number, _gpu: boolean, _watchPid: number, _nvmlLibrary: string): boolean {
    if (this.#timer) return false;
    this.#ring = new Float64Array(capacity * this.#slots);
    this.#capacity = capacity;
    this.#head = this.#count = this.#written = this.#dropped = 0;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), intervalMs);
    this.#timer.unref();
    return true;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    let tail: number;
    if (this.#count === this.#capacity) {
      tail = this.#head;
      this.#head = (this.#head + 1) % this.#capacity;
      this.#dropped++;
    } else {
      tail = (this.#head + this.#count) % this.#capacity;
      this.#count++;
    }
    const base = tail * this.#slots;
    const ring = this.#ring;
    ring[base + HeaderSlot.monotonicNs] = Number(process.hrtime.bigint());
    ring[base + HeaderSlot.wallClockMs] = performance.timeOrigin + performance.now();
    ring[base + HeaderSlot.treeRssBytes] = NaN;
    ring[base + HeaderSlot.gpuCount] = 0;
    readMemorySlotsNode(ring, base + RECORD_MEMORY_OFFSET);
    this.#written++;
  }

  drainInto(out: Float64Array): number {
    const slots = this.#slots;
    const n = Math.min(this.#count, Math.floor(out.length / slots));
    for (let i = 0; i < n; i++) {
      const src = ((this.#head + i) % this.#capacity) * slots;
      out.set(this.#ring.subarray(src, src + slots), i * slots);
    }
    if (n > 0) {
      this.#head = (this.#head + n) % this.#capacity;
      this.#count -= n;
    }
    return n;
  }

  pending(): number {
    return this.#count;
  }

  stats(): SamplerStatsSnapshot {
    return {
      running: this.#timer !== undefined,
      written: this.#written,
      dropped: this.#dropped,
      gpuCount: 0,
      recordSlots: this.#slots,
      ringBytes: this.#ring.byteLength,
      ringMaxBytes: this.#capacity * this.#slots * Float64Array.BYTES_PER_ELEMENT,
      treeHwmBytes: null,
    };
  }
}
