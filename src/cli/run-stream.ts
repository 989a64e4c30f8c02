/**
 * `perfprobe run` in constant memory (issue 10: every sample stayed in an
 * array and --json was one JSON.stringify, so a long run at 1 ms with 16 GPUs
 * ended "Invalid string length" with an empty file and 2 GB RSS):
 * - RunStats folds each sample into exact running summaries (sums, peaks, the
 *   energy integral) as it arrives, so the summary needs no sample kept;
 * - StreamedFile writes a file while the command runs: samples are queued as
 *   text and written by the exporters' atomic writer (a temporary file renamed
 *   at the end), so memory holds at most the text not yet written (bounded:
 *   MAX_PENDING_CHARS) and a run of any length makes a whole file.
 */
import { replaceAtomic } from '../exporters/files/atomic.js';
import type { GpuTick, Tick } from './sampling.js';

class Running {
  sum = 0;
  n = 0;
  max: number | null = null;
  add(v: number | null): void {
    if (v === null) return;
    this.sum += v;
    this.n++;
    if (this.max === null || v > this.max) this.max = v;
  }
  get avg(): number | null {
    return this.n ? this.sum / this.n : null;
  }
}

class Peak {
  max: number | null = null;
  add(v: number | null): void {
    if (v !== null && (this.max === null || v > this.max)) this.max = v;
  }
}

/** Power point of a GPU's sample: epoch ms and watts (null: unknown). */
interface PowerPoint {
  t: number;
  w: number | null;
}

/** One GPU's running figures over the run. */
export class GpuStats {
  samples = 0;
  readonly load = new Running();
  readonly memoryUsedMb = new Peak();
  readonly memoryTotalMb = new Peak();
  readonly treeGpuMemoryMb = new Peak();
  readonly power = new Running();
  readonly temperatureCelsius = new Peak();
  private first: PowerPoint | null = null;
  private last: PowerPoint | null = null;
  private firstKnown: PowerPoint | null = null;
  private lastKnown: PowerPoint | null = null;
  private joules = 0;
  private anySegment = false;

  add(t: number, g: GpuTick): void {
    this.samples++;
    this.load.add(g.loadPercent);
    this.memoryUsedMb.add(g.memoryUsedMb);
    this.memoryTotalMb.add(g.memoryTotalMb);
    this.treeGpuMemoryMb.add(g.treeGpuMemoryMb);
    this.power.add(g.powerWatts);
    this.temperatureCelsius.add(g.temperatureCelsius);
    const p = { t, w: g.powerWatts };
    if (this.last) this.segment(this.last, p);
    else this.first = p;
    this.last = p;
    if (p.w !== null) {
      if (!this.firstKnown) this.firstKnown = p;
      this.lastKnown = p;
    }
  }

  private segment(a: PowerPoint, b: PowerPoint): void {
    if (a.w === null || b.w === null || b.t <= a.t) return;
    this.anySegment = true;
    this.joules += ((a.w + b.w) / 2) * ((b.t - a.t) / 1000);
  }

  /**
   * Power integrated over the run (trapezoids between samples; gaps where
   * power is unknown are skipped), held at its first and last readings out
   * to the start and the end of the run; null when no segment is known.
   */
  integratedJoules(startTime: number, endTime: number): number | null {
    if (!this.firstKnown || !this.lastKnown || !this.first || !this.last) return null;
    let joules = 0;
    let any = false;
    // The held ends (this.joules holds the segments between samples).
    const head = { t: Math.min(startTime, this.firstKnown.t), w: this.firstKnown.w };
    const tail = { t: Math.max(endTime, this.lastKnown.t), w: this.lastKnown.w };
    for (const [a, b] of [[head, this.first], [this.last, tail]] as const) {
      if (a.w === null || b.w === null || b.t <= a.t) continue;
      joules += ((a.w + b.w) / 2) * ((b.t - a.t) / 1000);
      any = true;
    }
    if (!any && !this.anySegment) return null;
    return joules + this.joules;
  }
}

/** Exact running summaries of a run's samples: what the report needs, without the samples. */
export class RunStats {
  samples = 0;
  readonly treeRssMb = new Running();
  readonly systemUsedMb = new Peak();
  readonly systemTotalMb = new Peak();
  readonly gpus = new Map<number, GpuStats>();
  /** The newest sample (the live status line). */
  last: Tick | null = null;

  add(t: Tick): void {
    this.samples++;
    this.treeRssMb.add(t.treeRssMb);
    this.systemUsedMb.add(t.systemUsedMb);
    this.systemTotalMb.add(t.systemTotalMb);
    for (const g of t.gpus) {
      let s = this.gpus.get(g.gpuId);
      if (!s) this.gpus.set(g.gpuId, (s = new GpuStats()));
      s.add(t.timestamp, g);
    }
    this.last = t;
  }

  /** GPU ids seen, ascending. */
  gpuIds(): number[] {
    return [...this.gpus.keys()].sort((a, b) => a - b);
  }
}

/** Text a StreamedFile may hold unwritten before the run gives the file up (a disk that cannot keep up). */
export const MAX_PENDING_CHARS = 32 * 1048576;

/**
 * A file written while the run goes on: push() queues text (never waits),
 * end() adds the last text and resolves once the file has its final name.
 * A write that fails (disk full, or MAX_PENDING_CHARS unwritten) ends the
 * file: later text is dropped, and end() rejects with the error, which names
 * the path. No file is left behind then (the atomic writer removes its
 * temporary file).
 */
export class StreamedFile {
  private queue: string[] = [];
  private pending = 0;
  private ended = false;
  private tail = '';
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly done: Promise<string>;

  constructor(op: string, path: string) {
    this.done = replaceAtomic(op, path, async (write) => {
      for (;;) {
        if (this.failure) throw this.failure;
        if (this.queue.length) {
          const text = this.queue.length === 1 ? this.queue[0]! : this.queue.join('');
          this.queue = [];
          this.pending = 0;
          await write(text);
          continue;
        }
        if (this.ended) {
          if (this.tail) await write(this.tail);
          return;
        }
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
      }
    });
    // Failures are reported by end(); until then nothing may go unhandled.
    this.done.catch((err: Error) => {
      this.failure ??= err;
      this.queue = [];
      this.pending = 0;
    });
  }

  /** Whether the file has failed (later pushes are dropped). */
  get failed(): boolean {
    return this.failure !== null;
  }

  push(text: string): void {
    if (this.failure || this.ended || text.length === 0) return;
    if (this.pending + text.length > MAX_PENDING_CHARS) {
      this.failure = new Error(`writing fell ${MAX_PENDING_CHARS / 1048576} MiB behind the samples`);
      this.queue = [];
      this.pending = 0;
    } else {
      this.queue.push(text);
      this.pending += text.length;
    }
    this.wake?.();
  }

  /** Writes `tail` last and resolves to the path once the file is complete. */
  end(tail: string): Promise<string> {
    if (!this.ended) {
      this.ended = true;
      this.tail = tail;
      this.wake?.();
    }
    return this.done;
  }
}
