/**
 * PerformanceMetricsCollector: the seed's API, a facade over the stores
 * (src/store), the statistics (src/stats) and four helpers of this folder:
 *   ./monitoring.ts   memory and GPU readings, the background strategies, ingest
 *   ./reads.ts        statistics and record iterators over the stores
 *   ./auto-export.ts  periodic and on-exit exports
 *   ./import.ts       importRecords (checked against the schemas, merged)
 * exportToJson(), exportToCsv() and importFromJson() are methods of this
 * class declared below and attached by the exporters layer
 * (src/exporters/files/methods.ts), which src/index.ts loads: the collector
 * never imports an exporter.
 *
 * Record path (recordProcessingTime, measurePerformance, timers): cheap
 * checks, one clock read per end, typed-array writes, no object per record.
 * Read path (statistics, record iterators, exports) first takes in what the
 * native sampler wrote in the background (ingestSamples), so samples taken
 * while the event loop was blocked are counted.
 */
import { performance } from 'node:perf_hooks';
import { WarningCode, typeError } from '../errors.js';
import { readGpus, readGpusSync } from '../probes/gpu.js';
import { watchGpuEvents } from '../probes/gpu-watch.js';
import type { GpuEvent, GpuXidCount } from '../probes/gpu-events.js';
import type { GpuEventQuery } from '../store/gpu-events.js';
import { probeInfo } from '../probes/info.js';
import { readMemory } from '../probes/memory.js';
import { Sampler } from '../probes/sampler.js';
import { GPU_SCHEMA, type GpuUsageMetric } from '../schema/gpu.js';
import { MEMORY_SCHEMA, type MemoryUsageMetric } from '../schema/memory.js';
import { type ProcessingTimeMetric } from '../schema/processing.js';
import { OVERFLOW_OPERATION, ProcessingStore, type ProcessingView } from '../store/processing.js';
import { SampleStore } from '../store/samples.js';
import type {
  CollectorConfig,
  CumulativeOperationStats,
  GpuUsageStats,
  MemoryUsageStats,
  MetricMeta,
  MetricType,
  OperationSummary,
  ProcessingTimeStats,
  RecordMeta,
  RecordQuery,
  WindowQuery,
} from '../types.js';
import { AutoExport } from './auto-export.js';
import { DEFAULT_CONFIG, validateConfig } from './config.js';
import { appendImport, checkImport, type ImportedRecords } from './import.js';
import { Monitoring, type CollectorProbes, type CollectorStores } from './monitoring.js';
import * as reads from './reads.js';
import { Timer, errorMessageOf, type TimerSink } from './timer.js';
import { MAX_OPERATION_LENGTH, checkGpuId, checkOperation, throwBadDuration } from '../schema/field.js';
import { checkMeta, checkMetricType, checkWindow } from './validate.js';

export { MAX_OPERATION_LENGTH };
export type { CollectorProbes };

export interface CollectorOptions {
  /** Replaces the probes (tests, simulations). */
  probes?: Partial<CollectorProbes>;
}

export interface ProcessingQuery extends WindowQuery {
  operation?: string;
}
export interface GpuQuery extends WindowQuery {
  gpuId?: number;
}

/** Epoch ms on the monotonic clock: timestamps never go backwards. */
const ORIGIN = performance.timeOrigin;
function nowMs(): number {
  return ORIGIN + performance.now();
}

/** The file methods, attached by src/exporters/files/methods.ts (declaration merging gives them their types). */
export interface PerformanceMetricsCollector {
  /** Writes every record and the summary as JSON under exportDirectory; resolves to the file path. */
  exportToJson(): Promise<string>;
  /** Writes one metric type as CSV under exportDirectory; resolves to the file path. */
  exportToCsv(type?: MetricType): Promise<string>;
  /** Reads a JSON export back (appended to the history). */
  importFromJson(path: string): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class PerformanceMetricsCollector implements TimerSink, Disposable {
  private cfg: CollectorConfig;
  private frozenConfig: Readonly<CollectorConfig>;
  /** The probe functions this collector reads (the real ones unless options.probes replaced some). */
  readonly probes: CollectorProbes;
  private readonly stores: CollectorStores;
  private readonly monitor: Monitoring;
  private readonly autoExport: AutoExport;

  constructor(config?: Partial<CollectorConfig>, options?: CollectorOptions) {
    const given = validateConfig(config);
    this.cfg = { ...DEFAULT_CONFIG, ...given };
    this.frozenConfig = Object.freeze({ ...this.cfg });
    this.probes = { readMemory, readGpus, readGpusSync, probeInfo, Sampler, watchGpuEvents, ...options?.probes };
    const processing: ProcessingStore = new ProcessingStore(this.cfg.maxHistorySize, this.cfg.maxOperations, (name) => {
      process.emitWarning(
        `perfprobe: more than ${processing.maxOperations} distinct operation names; new names (first: ${JSON.stringify(
          name.slice(0, 80),
        )}) are recorded as '${OVERFLOW_OPERATION}'. Keep ids out of operation names or raise maxOperations.`,
        { code: WarningCode.operationOverflow },
      );
    });
    this.stores = {
      processing,
      memory: new SampleStore(this.cfg.maxHistorySize, MEMORY_SCHEMA),
      gpu: new SampleStore(this.cfg.maxHistorySize, GPU_SCHEMA),
    };
    this.monitor = new Monitoring(this.probes, this.stores, () => this.cfg);
    this.autoExport = new AutoExport(() => this.exportToJson());
    this.autoExport.apply(this.cfg.autoExportIntervalSec, this.cfg.exportOnExit);
  }

  /** The configuration in force (read-only; change it with updateConfig). */
  get config(): Readonly<CollectorConfig> {
    return this.frozenConfig;
  }

  /** True when a GPU backend (NVML or the systeminformation fallback) is available. */
  get gpuAvailable(): boolean {
    return this.monitor.gpuBackend() !== 'none';
  }

  /** True between startMonitoring() and stopMonitoring(). */
  get monitoring(): boolean {
    return this.monitor.running;
  }

  /** Validates the whole update first: an unknown key or bad value changes nothing. */
  updateConfig(partial: Partial<CollectorConfig>): Readonly<CollectorConfig> {
    const given = validateConfig(partial);
    // Samples taken so far belong to the old config (its tracking flags and size).
    this.ingestSamples();
    const before = this.cfg;
    this.cfg = { ...before, ...given };
    this.frozenConfig = Object.freeze({ ...this.cfg });
    if (this.cfg.maxHistorySize !== before.maxHistorySize) {
      for (const s of [this.stores.processing, this.stores.memory, this.stores.gpu]) s.resize(this.cfg.maxHistorySize);
    }
    this.stores.processing.maxOperations = this.cfg.maxOperations;
    if (
      this.monitor.running &&
      (this.cfg.memorySampleIntervalMs !== before.memorySampleIntervalMs ||
        this.cfg.enableGpuTracking !== before.enableGpuTracking ||
        this.cfg.enableMemoryTracking !== before.enableMemoryTracking)
    ) {
      this.monitor.stop();
      this.monitor.start();
    }
    if (this.cfg.autoExportIntervalSec !== before.autoExportIntervalSec || this.cfg.exportOnExit !== before.exportOnExit) {
      this.autoExport.apply(this.cfg.autoExportIntervalSec, this.cfg.exportOnExit);
    }
    return this.frozenConfig;
  }

  // ---------------------------------------------------------- record path

  /**
   * Records one processing time. `meta` may carry photoId, jobId, stage,
   * success (default true) and errorMessage.
   */
  recordProcessingTime(operation: string, durationMs: number, meta?: RecordMeta): void {
    if (typeof operation !== 'string' || operation.length === 0 || operation.length > MAX_OPERATION_LENGTH) checkOperation(operation);
    if (typeof durationMs !== 'number' || !(durationMs >= 0) || durationMs === Infinity) throwBadDuration(durationMs);
    const s = this.stores.processing;
    // Sub-millisecond timestamps: readers that page with `since` must not lose records sharing a millisecond.
    if (meta === undefined) {
      s.push(nowMs(), s.operationId(operation), durationMs + 0, true, NaN, null, null, null);
      return;
    }
    checkMeta(meta, true);
    const success = meta.success ?? meta.errorMessage == null;
    s.push(nowMs(), s.operationId(operation), durationMs + 0, success, meta.photoId == null ? NaN : meta.photoId, meta.jobId, meta.stage, meta.errorMessage);
  }

  /** TimerSink: records a span measured on the monotonic clock (inputs already checked). */
  recordTimed(operation: string, startMs: number, endMs: number, success: boolean, errorMessage: string | undefined, meta: RecordMeta | undefined): void {
    const s = this.stores.processing;
    if (meta === undefined) {
      s.push(ORIGIN + endMs, s.operationId(operation), endMs - startMs, success, NaN, null, null, errorMessage);
    } else {
      s.push(ORIGIN + endMs, s.operationId(operation), endMs - startMs, success, meta.photoId == null ? NaN : meta.photoId, meta.jobId, meta.stage, errorMessage);
    }
  }

  /**
   * Runs fn (sync or async) and records its duration: success, or failure
   * with the error's message, after which the same error is rethrown.
   * Returns fn's result (a Promise when fn returns one).
   */
  measurePerformance<T>(operation: string, fn: () => T, meta?: MetricMeta): T {
    if (typeof operation !== 'string' || operation.length === 0 || operation.length > MAX_OPERATION_LENGTH) checkOperation(operation);
    if (typeof fn !== 'function') throw typeError('fn', 'a function', fn);
    if (meta !== undefined) checkMeta(meta, false);
    const start = performance.now();
    let result: T;
    try {
      result = fn();
    } catch (error) {
      this.recordTimed(operation, start, performance.now(), false, errorMessageOf(error), meta);
      throw error;
    }
    if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
      return (result as unknown as PromiseLike<unknown>).then(
        (value) => {
          this.recordTimed(operation, start, performance.now(), true, undefined, meta);
          return value;
        },
        (error: unknown) => {
          this.recordTimed(operation, start, performance.now(), false, errorMessageOf(error), meta);
          throw error;
        },
      ) as T;
    }
    this.recordTimed(operation, start, performance.now(), true, undefined, meta);
    return result;
  }

  /** A timer: `end({ success, error })` records and returns ms; `using t = startTimer(op)` records on scope exit. */
  startTimer(operation: string, meta?: MetricMeta): Timer {
    checkOperation(operation);
    if (meta !== undefined) checkMeta(meta, false);
    return new Timer(this, operation, meta);
  }

  /** Reads memory now and records it; null when memory tracking is off. */
  recordMemoryUsage(operation?: string): MemoryUsageMetric | null {
    if (operation != null) checkOperation(operation);
    return this.monitor.recordMemory(operation ?? null);
  }

  /**
   * Reads every GPU now and records one record per GPU. Synchronous with
   * NVML; a Promise with the systeminformation fallback. Lost GPUs are
   * skipped; a GPU whose reading had an error keeps the fields that did
   * read (the rest null). [] when GPU tracking is off or no GPU.
   */
  recordGpuUsage(operation?: string): GpuUsageMetric[] | Promise<GpuUsageMetric[]> {
    if (operation != null) checkOperation(operation);
    return this.monitor.recordGpus(operation ?? null);
  }

  // ------------------------------------------------------------ monitoring

  /** Samples memory (and GPUs) every memorySampleIntervalMs in the background (./monitoring.ts). Idempotent. */
  startMonitoring(): void {
    this.monitor.start();
  }

  /** Stops background sampling, keeping what was sampled. Idempotent. */
  stopMonitoring(): void {
    this.monitor.stop();
  }

  /** Takes in every record the native sampler has written since the last call; returns how many. */
  ingestSamples(): number {
    return this.monitor.ingest();
  }

  // --------------------------------------------------- statistics, records (./reads.ts)

  /** count, avg/min/max, p50/p90/p95/p99 (within 1 %), successRate (percent), failureCount. */
  getProcessingTimeStats(query?: ProcessingQuery): ProcessingTimeStats {
    checkWindow(query);
    if (query?.operation !== undefined) checkOperation(query.operation);
    this.ingestSamples();
    return reads.processingStats(this.stores, query, nowMs());
  }

  getMemoryUsageStats(query?: WindowQuery): MemoryUsageStats {
    checkWindow(query);
    this.ingestSamples();
    return reads.memoryStats(this.stores, query, nowMs());
  }

  getGpuUsageStats(query?: GpuQuery): GpuUsageStats {
    checkWindow(query);
    checkGpuId(query?.gpuId);
    this.ingestSamples();
    return reads.gpuStats(this.stores, query, nowMs());
  }

  /** One row per operation in the window (whole history: from running aggregates). */
  getOperationSummary(query?: WindowQuery): OperationSummary[] {
    checkWindow(query);
    this.ingestSamples();
    return reads.operationSummary(this.stores, query, nowMs());
  }

  /** Since-start totals and fixed histogram buckets per operation, independent of trimming. */
  cumulativeOperationStats(): CumulativeOperationStats {
    return reads.cumulativeStats(this.stores);
  }

  /** Drops the history of one metric type, or all ('gpu' includes the GPU events and their Xid counts). */
  clearMetrics(type?: MetricType): void {
    if (type !== undefined) checkMetricType(type);
    this.ingestSamples();
    if (type === undefined || type === 'processing') this.stores.processing.clear();
    if (type === undefined || type === 'memory') this.stores.memory.clear();
    if (type === undefined || type === 'gpu') {
      this.stores.gpu.clear();
      this.monitor.gpuEvents.clear();
    }
  }

  /** GPU events (Xid, ECC, clock changes) recorded while monitoring with NVML, oldest first; the newest GPU_EVENT_HISTORY_SIZE are kept. */
  getGpuEvents(query?: GpuEventQuery): GpuEvent[] {
    if (query != null && typeof query !== 'object') throw typeError('query', 'an object', query);
    if (query?.since !== undefined && typeof query.since !== 'number') throw typeError('since', 'a number of ms since the epoch', query.since);
    checkGpuId(query?.gpuId);
    return this.monitor.gpuEvents.events(query);
  }

  /** Xid errors per GPU and Xid recorded while monitoring (cumulative, never evicted): Prometheus' perfprobe_gpu_xid_errors_total. */
  gpuXidCounts(): GpuXidCount[] {
    return this.monitor.gpuEvents.xidCounts();
  }

  /** Processing records, oldest first (objects built on read). */
  processingRecords(query?: RecordQuery & { operation?: string }): IterableIterator<ProcessingTimeMetric> {
    checkWindow(query);
    if (query?.operation !== undefined) checkOperation(query.operation);
    this.ingestSamples();
    return reads.processingRecords(this.stores, query, nowMs());
  }

  /**
   * @internal For the file exporters: every processing record through
   * `read(view, physical slot)` (see reads.processingSlots), after the
   * pending samples are taken in.
   */
  processingSlots<T>(read: (view: ProcessingView, p: number) => T | null): IterableIterator<T> {
    this.ingestSamples();
    return reads.processingSlots(this.stores, read);
  }

  /** Memory records, oldest first. Figures the probe could not read are null. */
  memoryRecords(query?: RecordQuery): IterableIterator<MemoryUsageMetric> {
    checkWindow(query);
    this.ingestSamples();
    return reads.memoryRecords(this.stores, query, nowMs());
  }

  /** GPU records, oldest first; `gpuId` picks one GPU. */
  gpuRecords(query?: RecordQuery & { gpuId?: number }): IterableIterator<GpuUsageMetric> {
    checkWindow(query);
    checkGpuId(query?.gpuId);
    this.ingestSamples();
    return reads.gpuRecords(this.stores, query, nowMs());
  }

  /**
   * Appends records read back from an export (checked first: one bad
   * record and nothing is imported). Records older than the newest held
   * are merged in timestamp order.
   */
  importRecords(records: ImportedRecords): { processing: number; memory: number; gpu: number } {
    const checked = checkImport(records);
    this.ingestSamples();
    appendImport(this.stores, checked);
    return { processing: checked.processing.length, memory: checked.memory.length, gpu: checked.gpu.length };
  }

  // ------------------------------------------------------------ lifecycle

  /** Bytes held by the three histories' columns (diagnostics, bench). */
  get historyBytes(): { processing: number; memory: number; gpu: number } {
    return { processing: this.stores.processing.byteLength, memory: this.stores.memory.byteLength, gpu: this.stores.gpu.byteLength };
  }

  /** Stops monitoring and every timer and exit hook of this collector. */
  close(): void {
    this.monitor.stop();
    this.autoExport.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
