/**
 * PerformanceMetricsCollector: the seed's API over bounded columnar
 * histories (src/store) and running / windowed statistics (src/stats).
 *
 * Record path (recordProcessingTime, measurePerformance, timers): cheap
 * checks, one clock read per end, typed-array writes, no object per record.
 * Read path (statistics, record iterators, exports) first takes in what the
 * native sampler wrote in the background (ingestSamples), so samples taken
 * while the event loop was blocked are counted.
 */
import { performance } from 'node:perf_hooks';
import { typeError } from '../errors.js';
import { exportCsv, exportJson, importJson } from '../exporters/files.js';
import * as realProbes from '../probes/index.js';
import { ringCapacityFor } from '../probes/sampler.js';
import type { GpuReading, MemoryReading, ProbeInfo, SampleBatch, SamplerOptions } from '../probes/index.js';
import { CUMULATIVE_BOUNDS_MS } from '../stats/aggregates.js';
import {
  aggregateOperationSummary,
  emptyGpuStats,
  emptyMemoryStats,
  emptyProcessingStats,
  statsFromAggregate,
  statsFromAllAggregates,
  windowGpuStats,
  windowMemoryStats,
  windowOperationSummary,
  windowProcessingStats,
} from '../stats/window.js';
import { GPU_FIELDS, GpuField, MEMORY_FIELDS, MemoryField, OVERFLOW_OPERATION, ProcessingStore, SampleStore } from '../store/index.js';
import type { Ring } from '../store/ring.js';
import { DEFAULT_CONFIG, validateConfig } from './config.js';
import { decodeSampleBatch } from './ingest.js';
import {
  MAX_OPERATION_LENGTH,
  checkGpuId,
  checkMeta,
  checkMetricType,
  checkNullableNumber,
  checkOperation,
  checkTimestamp,
  checkWindow,
  throwBadDuration,
} from './validate.js';
import { Timer, errorMessageOf, type TimerSink } from './timer.js';
import {
  type CollectorConfig,
  type CumulativeOperationStats,
  type GpuUsageMetric,
  type GpuUsageStats,
  type MemoryUsageMetric,
  type MemoryUsageStats,
  type MetricMeta,
  type MetricType,
  type OperationSummary,
  type ProcessingTimeMetric,
  type ProcessingTimeStats,
  type RecordMeta,
  type RecordQuery,
  type WindowQuery,
} from './types.js';


export { MAX_OPERATION_LENGTH };

/** The probe functions the collector uses; replaceable for tests. */
export interface CollectorProbes {
  readMemory(): MemoryReading;
  readGpus(): Promise<GpuReading[]>;
  readGpusSync(): GpuReading[];
  probeInfo(): ProbeInfo;
  Sampler: new (options: SamplerOptions) => { start(): void; stop(): void; drain(): SampleBatch; readonly running?: boolean };
}

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

const nullIfNaN = (x: number): number | null => (x === x ? x : null);
const nanIfNull = (x: number | null | undefined): number => (x == null ? NaN : x);

export class PerformanceMetricsCollector implements TimerSink, Disposable {
  private cfg: CollectorConfig;
  private frozenConfig: Readonly<CollectorConfig>;
  private readonly probes: CollectorProbes;
  private readonly processing: ProcessingStore;
  private readonly memory: SampleStore;
  private readonly gpu: SampleStore;

  private sampler: InstanceType<CollectorProbes['Sampler']> | null = null;
  private monitoringOn = false;
  private memoryTimer: NodeJS.Timeout | null = null;
  private gpuTimer: NodeJS.Timeout | null = null;
  private gpuPollInFlight = false;
  private drainTimer: NodeJS.Timeout | null = null;
  private autoExportTimer: NodeJS.Timeout | null = null;
  private exitHooks: { beforeExit: () => void; sigterm: () => void } | null = null;
  private exitExportDone = false;
  private gpuBackendCache: ProbeInfo['gpu']['backend'] | null = null;
  private readonly gpuRow = new Float64Array(GPU_FIELDS.length);
  private readonly memoryRow = new Float64Array(MEMORY_FIELDS.length);
  private warnedExport = false;
  private autoExportInFlight = false;
  /** Sampler ring overflow seen so far (one warning on the first). */
  private droppedSeen = 0;

  constructor(config?: Partial<CollectorConfig>, options?: CollectorOptions) {
    const given = validateConfig(config);
    this.cfg = { ...DEFAULT_CONFIG, ...given };
    this.frozenConfig = Object.freeze({ ...this.cfg });
    this.probes = { ...(realProbes as unknown as CollectorProbes), ...options?.probes };
    this.processing = new ProcessingStore(this.cfg.maxHistorySize, this.cfg.maxOperations, (name) => {
      process.emitWarning(
        `perfprobe: more than ${this.processing.maxOperations} distinct operation names; new names (first: ${JSON.stringify(
          name.slice(0, 80),
        )}) are recorded as '${OVERFLOW_OPERATION}'. Keep ids out of operation names or raise maxOperations.`,
        { code: 'PERFPROBE_OPERATION_OVERFLOW' },
      );
    });
    this.memory = new SampleStore(this.cfg.maxHistorySize, MEMORY_FIELDS);
    this.gpu = new SampleStore(this.cfg.maxHistorySize, GPU_FIELDS);
    this.applyTimers();
  }

  /** The configuration in force (read-only; change it with updateConfig). */
  get config(): Readonly<CollectorConfig> {
    return this.frozenConfig;
  }

  /** True when a GPU backend (NVML or the systeminformation fallback) is available. */
  get gpuAvailable(): boolean {
    return this.gpuBackend() !== 'none';
  }

  /** True between startMonitoring() and stopMonitoring(). */
  get monitoring(): boolean {
    return this.monitoringOn;
  }

  private gpuBackend(): ProbeInfo['gpu']['backend'] {
    if (this.gpuBackendCache === null) {
      try {
        this.gpuBackendCache = this.probes.probeInfo().gpu.backend;
      } catch {
        this.gpuBackendCache = 'none';
      }
    }
    return this.gpuBackendCache;
  }

  // ---------------------------------------------------------------- config

  /** Validates the whole update first: an unknown key or bad value changes nothing. */
  updateConfig(partial: Partial<CollectorConfig>): Readonly<CollectorConfig> {
    const given = validateConfig(partial);
    // Samples taken so far belong to the old config (its tracking flags and size).
    this.ingestSamples();
    const before = this.cfg;
    this.cfg = { ...before, ...given };
    this.frozenConfig = Object.freeze({ ...this.cfg });
    if (this.cfg.maxHistorySize !== before.maxHistorySize) {
      this.processing.resize(this.cfg.maxHistorySize);
      this.memory.resize(this.cfg.maxHistorySize);
      this.gpu.resize(this.cfg.maxHistorySize);
    }
    this.processing.maxOperations = this.cfg.maxOperations;
    if (
      this.monitoringOn &&
      (this.cfg.memorySampleIntervalMs !== before.memorySampleIntervalMs ||
        this.cfg.enableGpuTracking !== before.enableGpuTracking ||
        this.cfg.enableMemoryTracking !== before.enableMemoryTracking)
    ) {
      this.stopMonitoring();
      this.startMonitoring();
    }
    if (this.cfg.autoExportIntervalSec !== before.autoExportIntervalSec || this.cfg.exportOnExit !== before.exportOnExit) {
      this.applyTimers();
    }
    return this.frozenConfig;
  }

  private applyTimers(): void {
    if (this.autoExportTimer) clearInterval(this.autoExportTimer);
    this.autoExportTimer = null;
    if (this.cfg.autoExportIntervalSec > 0) {
      this.autoExportTimer = setInterval(() => {
        // One at a time: a history slower to write than the interval must not pile up exports.
        if (this.autoExportInFlight) return;
        this.autoExportInFlight = true;
        void this.exportQuietly().finally(() => {
          this.autoExportInFlight = false;
        });
      }, this.cfg.autoExportIntervalSec * 1000);
      this.autoExportTimer.unref();
    }
    if (this.cfg.exportOnExit && !this.exitHooks) {
      const beforeExit = (): void => {
        if (this.exitExportDone) return;
        this.exitExportDone = true;
        void this.exportQuietly();
      };
      const sigterm = (): void => {
        this.removeExitHooks();
        const finish = (): void => {
          if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
        };
        if (this.exitExportDone) return finish();
        this.exitExportDone = true;
        const guard = setTimeout(finish, 5000);
        this.exportQuietly().finally(() => {
          clearTimeout(guard);
          finish();
        });
      };
      process.on('beforeExit', beforeExit);
      process.on('SIGTERM', sigterm);
      this.exitHooks = { beforeExit, sigterm };
    } else if (!this.cfg.exportOnExit) {
      this.removeExitHooks();
    }
  }

  private removeExitHooks(): void {
    if (!this.exitHooks) return;
    process.off('beforeExit', this.exitHooks.beforeExit);
    process.off('SIGTERM', this.exitHooks.sigterm);
    this.exitHooks = null;
  }

  private async exportQuietly(): Promise<string | null> {
    try {
      return await this.exportToJson();
    } catch (err) {
      if (!this.warnedExport) {
        this.warnedExport = true;
        process.emitWarning(`perfprobe: automatic export failed: ${errorMessageOf(err)}`, { code: 'PERFPROBE_EXPORT_FAILED' });
      }
      return null;
    }
  }

  // ---------------------------------------------------------- record path

  /**
   * Records one processing time. `meta` may carry photoId, jobId, stage,
   * success (default true) and errorMessage.
   */
  recordProcessingTime(operation: string, durationMs: number, meta?: RecordMeta): void {
    if (typeof operation !== 'string' || operation.length === 0 || operation.length > MAX_OPERATION_LENGTH) checkOperation(operation);
    if (typeof durationMs !== 'number' || !(durationMs >= 0) || durationMs === Infinity) throwBadDuration(durationMs);
    const store = this.processing;
    // Sub-millisecond timestamps: readers that page with `since` must not lose records sharing a millisecond.
    if (meta === undefined) {
      store.push(nowMs(), store.operationId(operation), durationMs + 0, true, NaN, null, null, null);
      return;
    }
    checkMeta(meta, true);
    const success = meta.success ?? meta.errorMessage == null;
    store.push(
      nowMs(),
      store.operationId(operation),
      durationMs + 0,
      success,
      meta.photoId == null ? NaN : meta.photoId,
      meta.jobId,
      meta.stage,
      meta.errorMessage,
    );
  }

  /** TimerSink: records a span measured on the monotonic clock (inputs already checked). */
  recordTimed(
    operation: string,
    startMs: number,
    endMs: number,
    success: boolean,
    errorMessage: string | undefined,
    meta: RecordMeta | undefined,
  ): void {
    const store = this.processing;
    if (meta === undefined) {
      store.push(ORIGIN + endMs, store.operationId(operation), endMs - startMs, success, NaN, null, null, errorMessage);
    } else {
      store.push(
        ORIGIN + endMs,
        store.operationId(operation),
        endMs - startMs,
        success,
        meta.photoId == null ? NaN : meta.photoId,
        meta.jobId,
        meta.stage,
        errorMessage,
      );
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
    if (!this.cfg.enableMemoryTracking) return null;
    this.ingestSamples();
    const r = this.probes.readMemory();
    return this.pushMemoryReading(r, operation ?? null);
  }

  private pushMemoryReading(r: MemoryReading, operation: string | null): MemoryUsageMetric {
    const row = this.memoryRow;
    row[MemoryField.totalMb] = nanIfNull(r.totalMb);
    row[MemoryField.usedMb] = nanIfNull(r.usedMb);
    row[MemoryField.availableMb] = nanIfNull(r.availableMb);
    row[MemoryField.percent] = nanIfNull(r.percent);
    row[MemoryField.processMemoryMb] = nanIfNull(r.processMemoryMb);
    this.memory.push(r.timestamp, row, operation);
    return this.memoryRecordAt(this.memory.physical(this.memory.count - 1));
  }

  /**
   * Reads every GPU now and records one record per GPU. Synchronous with
   * NVML; a Promise with the systeminformation fallback. Lost GPUs are
   * skipped; a GPU whose reading had an error keeps the fields that did
   * read (the rest null). [] when GPU tracking is off or no GPU.
   */
  recordGpuUsage(operation?: string): GpuUsageMetric[] | Promise<GpuUsageMetric[]> {
    if (operation != null) checkOperation(operation);
    if (!this.cfg.enableGpuTracking) return [];
    const backend = this.gpuBackend();
    if (backend === 'nvml') {
      this.ingestSamples();
      return this.pushGpuReadings(this.probes.readGpusSync(), operation ?? null);
    }
    if (backend === 'systeminformation') {
      return this.probes.readGpus().then((readings) => {
        this.ingestSamples();
        return this.pushGpuReadings(readings, operation ?? null);
      });
    }
    return [];
  }

  private pushGpuReadings(readings: GpuReading[], operation: string | null): GpuUsageMetric[] {
    const out: GpuUsageMetric[] = [];
    const row = this.gpuRow;
    for (const r of readings) {
      if (r.status === 'lost') continue;
      row[GpuField.gpuId] = r.gpuId;
      row[GpuField.loadPercent] = nanIfNull(r.loadPercent);
      row[GpuField.memoryUsedMb] = nanIfNull(r.memoryUsedMb);
      row[GpuField.memoryTotalMb] = nanIfNull(r.memoryTotalMb);
      row[GpuField.memoryPercent] = nanIfNull(r.memoryPercent);
      row[GpuField.temperatureCelsius] = nanIfNull(r.temperatureCelsius);
      row[GpuField.powerWatts] = nanIfNull(r.powerWatts);
      this.gpu.push(r.timestamp, row, operation);
      out.push(this.gpuRecordAt(this.gpu.physical(this.gpu.count - 1)));
    }
    return out;
  }

  // ------------------------------------------------------------ monitoring

  /**
   * Samples memory (and GPUs through NVML) every memorySampleIntervalMs on
   * the native sampler thread, so sampling goes on while the event loop is
   * blocked. Without the addon, an unref'd timer samples instead. With the
   * systeminformation GPU fallback, GPUs are polled on an unref'd timer.
   * Idempotent; never keeps the process alive.
   */
  startMonitoring(): void {
    if (this.monitoringOn) return;
    this.monitoringOn = true;
    const interval = this.cfg.memorySampleIntervalMs;
    const backend = this.cfg.enableGpuTracking ? this.gpuBackend() : 'none';
    const nvml = backend === 'nvml';
    // Drained on this timer (and on every read of the statistics); the ring
    // is sized from it and allocates as records arrive.
    const drainEveryMs = Math.min(60_000, Math.max(1000, interval * 8192));
    if (this.cfg.enableMemoryTracking || nvml) {
      try {
        const s = new this.probes.Sampler({ intervalMs: interval, gpu: nvml, capacity: ringCapacityFor(interval, drainEveryMs) });
        s.start();
        this.sampler = s;
      } catch {
        this.sampler = null;
      }
    }
    if (this.sampler) {
      // The ring holds eight drains' worth of records: drain well before it wraps.
      this.drainTimer = setInterval(() => this.ingestSamples(), drainEveryMs);
      this.drainTimer.unref();
    } else {
      const tick = (): void => {
        try {
          if (this.cfg.enableMemoryTracking) this.pushMemoryReading(this.probes.readMemory(), null);
          if (nvml) this.pushGpuReadings(this.probes.readGpusSync(), null);
        } catch {
          // a failed probe leaves a gap, never an exception on a timer
        }
      };
      if (this.cfg.enableMemoryTracking || nvml) {
        this.memoryTimer = setInterval(tick, interval);
        this.memoryTimer.unref();
      }
    }
    if (backend === 'systeminformation') {
      this.gpuTimer = setInterval(() => {
        if (this.gpuPollInFlight) return;
        this.gpuPollInFlight = true;
        this.probes
          .readGpus()
          .then((readings) => {
            if (this.monitoringOn) this.pushGpuReadings(readings, null);
          })
          .catch(() => {})
          .finally(() => {
            this.gpuPollInFlight = false;
          });
      }, interval);
      this.gpuTimer.unref();
    }
  }

  /** Stops background sampling, keeping what was sampled. Idempotent. */
  stopMonitoring(): void {
    if (!this.monitoringOn) return;
    this.monitoringOn = false;
    if (this.sampler) {
      try {
        this.sampler.stop();
      } catch {
        // stopping twice or after the addon went away is harmless
      }
      this.ingestSamples();
      this.sampler = null;
      this.droppedSeen = 0;
    }
    for (const t of [this.drainTimer, this.memoryTimer, this.gpuTimer]) if (t) clearInterval(t);
    this.drainTimer = this.memoryTimer = this.gpuTimer = null;
  }

  /**
   * Takes in every record the native sampler has written since the last
   * call (memory slots in bytes -> MiB; each GPU block -> one GPU record;
   * NaN -> null; lost GPUs are skipped, erroring ones keep what did read).
   * Returns the number of sampler records taken in.
   */
  ingestSamples(): number {
    const s = this.sampler;
    if (!s) return 0;
    let batch: SampleBatch;
    try {
      batch = s.drain();
    } catch {
      return 0;
    }
    const count = batch.count;
    if (batch.droppedTotal > this.droppedSeen) {
      if (this.droppedSeen === 0) {
        process.emitWarning(
          `perfprobe: the sampler's ring overflowed and dropped ${batch.droppedTotal} samples before they were read; ` +
            'read statistics more often or sample less often (memorySampleIntervalMs).',
          { code: 'PERFPROBE_SAMPLES_DROPPED' },
        );
      }
      this.droppedSeen = batch.droppedTotal;
    }
    decodeSampleBatch(batch, this.cfg.enableMemoryTracking ? this.memory : null, this.cfg.enableGpuTracking ? this.gpu : null);
    return count;
  }

  // ------------------------------------------------------------ statistics

  private windowStart(store: Ring, query: RecordQuery | undefined): number {
    let from = 0;
    if (query?.durationMinutes !== undefined) from = store.lowerBound(nowMs() - query.durationMinutes * 60_000);
    if (query?.since !== undefined) from = Math.max(from, store.upperBound(query.since));
    return from;
  }

  /** count, avg/min/max, p50/p90/p95/p99 (within 1 %), successRate (percent), failureCount. */
  getProcessingTimeStats(query?: ProcessingQuery): ProcessingTimeStats {
    checkWindow(query);
    const operation = query?.operation;
    if (operation !== undefined) checkOperation(operation);
    this.ingestSamples();
    const store = this.processing;
    const opId = operation === undefined ? -1 : store.findOperation(operation);
    if (operation !== undefined && opId < 0) return emptyProcessingStats();
    if (query?.durationMinutes === undefined) {
      store.refreshExtremes();
      return opId < 0 ? statsFromAllAggregates(store.ops) : statsFromAggregate(store.ops[opId]);
    }
    return windowProcessingStats(store, this.windowStart(store, query), opId);
  }

  getMemoryUsageStats(query?: WindowQuery): MemoryUsageStats {
    checkWindow(query);
    this.ingestSamples();
    if (this.memory.count === 0) return emptyMemoryStats();
    return windowMemoryStats(this.memory, this.windowStart(this.memory, query));
  }

  getGpuUsageStats(query?: GpuQuery): GpuUsageStats {
    checkWindow(query);
    checkGpuId(query?.gpuId);
    this.ingestSamples();
    if (this.gpu.count === 0) return emptyGpuStats();
    return windowGpuStats(this.gpu, this.windowStart(this.gpu, query), query?.gpuId ?? -1);
  }

  /** One row per operation in the window (whole history: from running aggregates). */
  getOperationSummary(query?: WindowQuery): OperationSummary[] {
    checkWindow(query);
    this.ingestSamples();
    if (query?.durationMinutes === undefined) return aggregateOperationSummary(this.processing);
    return windowOperationSummary(this.processing, this.windowStart(this.processing, query));
  }

  /** Since-start totals and fixed histogram buckets per operation, independent of trimming. */
  cumulativeOperationStats(): CumulativeOperationStats {
    return {
      boundsMs: CUMULATIVE_BOUNDS_MS,
      operations: this.processing.ops
        .filter((a) => a.cumCount > 0)
        .map((a) => ({
          operation: a.name,
          count: a.cumCount,
          sumMs: a.cumSum,
          failureCount: a.cumFailures,
          bucketCounts: a.cumulativeBucketCounts(),
        })),
    };
  }

  /** Drops the history of one metric type, or all. */
  clearMetrics(type?: MetricType): void {
    if (type !== undefined) checkMetricType(type);
    this.ingestSamples();
    if (type === undefined || type === 'processing') this.processing.clear();
    if (type === undefined || type === 'memory') this.memory.clear();
    if (type === undefined || type === 'gpu') this.gpu.clear();
  }

  // -------------------------------------------------------------- records

  private processingRecordAt(p: number): ProcessingTimeMetric {
    const s = this.processing;
    const photo = s.photo[p];
    return {
      timestamp: s.ts[p],
      operation: s.ops[s.op[p]].name,
      durationMs: s.dur[p],
      photoId: photo === photo ? photo : null,
      jobId: s.strings.get(s.job[p]),
      stage: s.strings.get(s.stage[p]),
      success: s.ok[p] === 1,
      errorMessage: s.strings.get(s.err[p]),
    };
  }

  private memoryRecordAt(p: number): MemoryUsageMetric {
    const s = this.memory;
    const v = s.values;
    return {
      timestamp: s.ts[p],
      totalMb: nullIfNaN(v[MemoryField.totalMb][p]),
      usedMb: nullIfNaN(v[MemoryField.usedMb][p]),
      availableMb: nullIfNaN(v[MemoryField.availableMb][p]),
      percent: nullIfNaN(v[MemoryField.percent][p]),
      processMemoryMb: nullIfNaN(v[MemoryField.processMemoryMb][p]),
      operation: s.strings.get(s.op[p]),
    };
  }

  private gpuRecordAt(p: number): GpuUsageMetric {
    const s = this.gpu;
    const v = s.values;
    return {
      timestamp: s.ts[p],
      gpuId: v[GpuField.gpuId][p],
      loadPercent: nullIfNaN(v[GpuField.loadPercent][p]),
      memoryUsedMb: nullIfNaN(v[GpuField.memoryUsedMb][p]),
      memoryTotalMb: nullIfNaN(v[GpuField.memoryTotalMb][p]),
      memoryPercent: nullIfNaN(v[GpuField.memoryPercent][p]),
      temperatureCelsius: nullIfNaN(v[GpuField.temperatureCelsius][p]),
      powerWatts: nullIfNaN(v[GpuField.powerWatts][p]),
      operation: s.strings.get(s.op[p]),
    };
  }

  /** Processing records, oldest first (objects built on read). */
  processingRecords(query?: RecordQuery & { operation?: string }): IterableIterator<ProcessingTimeMetric> {
    checkWindow(query);
    const operation = query?.operation;
    if (operation !== undefined) checkOperation(operation);
    this.ingestSamples();
    const s = this.processing;
    s.settle();
    const opId = operation === undefined ? -1 : s.findOperation(operation);
    if (operation !== undefined && opId < 0) return [][Symbol.iterator]();
    return this.iterate(s, this.windowStart(s, query), (p) => (opId < 0 || s.op[p] === opId ? this.processingRecordAt(p) : null));
  }

  /** Memory records, oldest first. Figures the probe could not read are null. */
  memoryRecords(query?: RecordQuery): IterableIterator<MemoryUsageMetric> {
    checkWindow(query);
    this.ingestSamples();
    return this.iterate(this.memory, this.windowStart(this.memory, query), (p) => this.memoryRecordAt(p));
  }

  /** GPU records, oldest first; `gpuId` picks one GPU. */
  gpuRecords(query?: RecordQuery & { gpuId?: number }): IterableIterator<GpuUsageMetric> {
    checkWindow(query);
    checkGpuId(query?.gpuId);
    this.ingestSamples();
    const gpuId = query?.gpuId;
    const ids = () => this.gpu.values[GpuField.gpuId];
    return this.iterate(this.gpu, this.windowStart(this.gpu, query), (p) =>
      gpuId === undefined || ids()[p] === gpuId ? this.gpuRecordAt(p) : null,
    );
  }

  private iterate<T>(store: Ring, from: number, read: (p: number) => T | null): IterableIterator<T> {
    // Walks the records present when the iterator was made (not when it is
    // first advanced: an exporter opens its file in between), oldest first;
    // records evicted meanwhile are skipped and records added meanwhile are not visited.
    return this.walk(store, from, store.count, store.evictedTotal, store.generation, read);
  }

  private *walk<T>(
    store: Ring,
    from: number,
    end: number,
    evicted0: number,
    generation: number,
    read: (p: number) => T | null,
  ): IterableIterator<T> {
    for (let i = from; i < end; i++) {
      if (store.generation !== generation) return;
      const j = i - (store.evictedTotal - evicted0);
      if (j < 0) continue;
      if (j >= store.count) return;
      const r = read(store.physical(j));
      if (r !== null) yield r;
    }
  }

  /**
   * Appends records read back from an export (validated first: one bad
   * record and nothing is imported). Records older than the newest held
   * are merged in timestamp order.
   */
  importRecords(records: { processing?: ProcessingTimeMetric[]; memory?: MemoryUsageMetric[]; gpu?: GpuUsageMetric[] }): {
    processing: number;
    memory: number;
    gpu: number;
  } {
    if (records === null || typeof records !== 'object') throw typeError('records', 'an object', records);
    const proc = records.processing ?? [];
    const mem = records.memory ?? [];
    const gpu = records.gpu ?? [];
    for (const [name, list] of [
      ['processing', proc],
      ['memory', mem],
      ['gpu', gpu],
    ] as const) {
      if (!Array.isArray(list)) throw typeError(`records.${name}`, 'an array', list);
    }
    proc.forEach((r, i) => {
      const f = `processing[${i}]`;
      if (r === null || typeof r !== 'object') throw typeError(f, 'a record object', r);
      checkTimestamp(`${f}.timestamp`, r.timestamp);
      checkOperation(r.operation, `${f}.operation`);
      if (typeof r.durationMs !== 'number' || !(r.durationMs >= 0) || r.durationMs === Infinity) throwBadDuration(r.durationMs, `${f}.durationMs`);
      checkMeta({ photoId: r.photoId, jobId: r.jobId, stage: r.stage, errorMessage: r.errorMessage }, true, `${f}.`);
      if (typeof r.success !== 'boolean') throw typeError(`${f}.success`, 'a boolean', r.success);
    });
    mem.forEach((r, i) => {
      const f = `memory[${i}]`;
      if (r === null || typeof r !== 'object') throw typeError(f, 'a record object', r);
      checkTimestamp(`${f}.timestamp`, r.timestamp);
      for (const k of MEMORY_FIELDS) checkNullableNumber(`${f}.${k}`, r[k]);
      if (r.operation != null) checkOperation(r.operation, `${f}.operation`);
    });
    gpu.forEach((r, i) => {
      const f = `gpu[${i}]`;
      if (r === null || typeof r !== 'object') throw typeError(f, 'a record object', r);
      checkTimestamp(`${f}.timestamp`, r.timestamp);
      if (r.gpuId === undefined) throw typeError(`${f}.gpuId`, 'an integer >= 0', r.gpuId);
      checkGpuId(r.gpuId, `${f}.gpuId`);
      for (const k of GPU_FIELDS) checkNullableNumber(`${f}.${k}`, r[k]);
      if (r.operation != null) checkOperation(r.operation, `${f}.operation`);
    });
    this.ingestSamples();
    this.importProcessing(proc);
    this.importSamples(this.memory, mem, (r) => MEMORY_FIELDS.map((k) => nanIfNull(r[k])), (p) => this.memoryRecordAt(p));
    this.importSamples(this.gpu, gpu, (r) => GPU_FIELDS.map((k) => nanIfNull(r[k])), (p) => this.gpuRecordAt(p));
    return { processing: proc.length, memory: mem.length, gpu: gpu.length };
  }

  private importProcessing(list: ProcessingTimeMetric[]): void {
    if (list.length === 0) return;
    const s = this.processing;
    const incoming = list.map((r, i) => ({ r, i, fresh: true })).sort((a, b) => a.r.timestamp - b.r.timestamp || a.i - b.i);
    let all = incoming;
    if (incoming[0].r.timestamp < s.lastTimestamp) {
      const held = [...this.processingRecords()].map((r, i) => ({ r, i: -1 - i, fresh: false }));
      all = [...held, ...incoming].sort((a, b) => a.r.timestamp - b.r.timestamp);
      s.clearHistory();
    }
    for (const { r, fresh } of all) {
      s.push(r.timestamp, s.operationId(r.operation), r.durationMs + 0, r.success, r.photoId ?? NaN, r.jobId, r.stage, r.errorMessage, fresh);
    }
  }

  private importSamples<T extends { timestamp: number; operation: string | null }>(
    store: SampleStore,
    list: T[],
    row: (r: T) => number[],
    readBack: (p: number) => T,
  ): void {
    if (list.length === 0) return;
    let all = [...list].sort((a, b) => a.timestamp - b.timestamp);
    if (all[0].timestamp < store.lastTimestamp) {
      const held: T[] = [];
      for (let i = 0; i < store.count; i++) held.push(readBack(store.physical(i)));
      all = [...held, ...all].sort((a, b) => a.timestamp - b.timestamp);
      store.clear();
    }
    for (const r of all) store.push(r.timestamp, row(r), r.operation);
  }

  // --------------------------------------------------------------- files

  /** Writes every record and the summary as JSON under exportDirectory; resolves to the file path. */
  exportToJson(): Promise<string> {
    return exportJson(this, this.cfg.exportDirectory);
  }

  /** Writes one metric type as CSV under exportDirectory; resolves to the file path. */
  exportToCsv(type: MetricType = 'processing'): Promise<string> {
    checkMetricType(type, 'metricType');
    return exportCsv(this, type, this.cfg.exportDirectory);
  }

  /** Reads a JSON export back (appended to the history). */
  importFromJson(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty string', path);
    return importJson(this, path);
  }

  // ------------------------------------------------------------ lifecycle

  /** Bytes held by the three histories' columns (diagnostics, bench). */
  get historyBytes(): { processing: number; memory: number; gpu: number } {
    return { processing: this.processing.byteLength, memory: this.memory.byteLength, gpu: this.gpu.byteLength };
  }

  /** Stops monitoring and every timer and exit hook of this collector. */
  close(): void {
    this.stopMonitoring();
    if (this.autoExportTimer) clearInterval(this.autoExportTimer);
    this.autoExportTimer = null;
    this.removeExitHooks();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
