/**
 * Timers on a monotonic clock (performance.now(): sub-microsecond,
 * immune to wall-clock changes).
 *
 *   using t = startTimer('decode');   // records when the scope exits
 *   const ms = t.end({ success: false, error });
 */
import { performance } from 'node:perf_hooks';
import type { RecordMeta } from '../types.js';

export interface TimerEndOptions {
  /** Default true, or false when `error` is given. */
  success?: boolean;
  /** An Error (its message is recorded) or a message. */
  error?: unknown;
}

/** What a Timer needs from its collector (kept structural to avoid a cycle). */
export interface TimerSink {
  recordTimed(operation: string, startMs: number, endMs: number, success: boolean, errorMessage: string | undefined, meta: RecordMeta | undefined): void;
}

/** Message of a thrown value, for the errorMessage column. */
export function errorMessageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return String(error);
  } catch {
    return 'unknown error';
  }
}

export class Timer implements Disposable {
  /** performance.now() at start. */
  readonly startMs: number;
  private durationMs: number | null = null;

  constructor(
    private readonly sink: TimerSink,
    readonly operation: string,
    private readonly meta: RecordMeta | undefined,
  ) {
    this.startMs = performance.now();
  }

  /** Milliseconds so far, without recording. */
  elapsed(): number {
    return this.durationMs ?? performance.now() - this.startMs;
  }

  get ended(): boolean {
    return this.durationMs !== null;
  }

  /**
   * Records the duration and returns it in ms. A second call records
   * nothing and returns the first duration.
   */
  end(options?: TimerEndOptions): number {
    const now = performance.now();
    if (this.durationMs !== null) return this.durationMs;
    const error = options?.error;
    const success = options?.success ?? error === undefined;
    const message = error === undefined ? undefined : errorMessageOf(error);
    this.durationMs = now - this.startMs;
    this.sink.recordTimed(this.operation, this.startMs, now, success, message, this.meta);
    return this.durationMs;
  }

  /** `using` support: records a success unless end() was called. */
  [Symbol.dispose](): void {
    if (this.durationMs === null) this.end();
  }
}
