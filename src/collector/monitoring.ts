/**
 * The collector's readings: memory and GPU records taken on request
 * (recordMemoryUsage, recordGpuUsage) and in the background, by one of
 * three strategies:
 *   - the native sampler thread (memory, and GPUs through NVML), drained
 *     into the stores by ingest() before every read;
 *   - without the addon, an unref'd timer reading the probes;
 *   - with the systeminformation GPU fallback, an unref'd timer polling it.
 * Sampler batches are decoded by src/probes/decode.ts (units, nulls);
 * this file only decides what goes into which store. While monitoring with
 * NVML, GPU events (Xid, ECC, clock changes) from watchGpuEvents() go into
 * a bounded event log (src/store/gpu-events.ts).
 */
import { WarningCode } from '../errors.js';
import type { GpuReading, MemoryReading, ProbeInfo, SampleBatch, SamplerOptions } from '../probes/types.js';
import type { GpuEvent } from '../probes/gpu-events.js';
import { GpuRow, decodeBatch, type BatchVisitor } from '../probes/decode.js';
import { ringCapacityFor } from '../probes/sampler.js';
import { GPU_SCHEMA, type GpuStatus, type GpuUsageMetric } from '../schema/gpu.js';
import { MEMORY_SCHEMA, type MemoryUsageMetric } from '../schema/memory.js';
import { GpuEventLog } from '../store/gpu-events.js';
import { type ProcessingStore } from '../store/processing.js';
import { gpuRecordAt, memoryRecordAt, newestRecord } from '../store/records.js';
import { type SampleStore } from '../store/samples.js';
import type { CollectorConfig } from '../types.js';

/** The probe functions a collector uses; replaceable for tests. */
export interface CollectorProbes {
  readMemory(): MemoryReading;
  readGpus(): Promise<GpuReading[]>;
  readGpusSync(): GpuReading[];
  probeInfo(): ProbeInfo;
  Sampler: new (options: SamplerOptions) => { start(): void; stop(): void; drain(): SampleBatch; readonly running?: boolean };
  /** GPU events from a native thread (NVML only); absent: no events are recorded. */
  watchGpuEvents?(listener: (event: GpuEvent) => void): { close(): void };
}

/** The collector's three histories. */
export interface CollectorStores {
  readonly processing: ProcessingStore;
  readonly memory: SampleStore;
  readonly gpu: SampleStore;
}

const nanIfNull = (x: number | null | undefined): number => (x == null ? NaN : x);

/** Where each GPU store column comes from in a decoded GPU row. */
const GPU_COLUMNS_FROM_ROW = Int32Array.from(GPU_SCHEMA.columns, (c) => GpuRow[c.key]);

export class Monitoring {
  private sampler: InstanceType<CollectorProbes['Sampler']> | null = null;
  private on = false;
  private memoryTimer: NodeJS.Timeout | null = null;
  private gpuTimer: NodeJS.Timeout | null = null;
  private gpuPollInFlight = false;
  private drainTimer: NodeJS.Timeout | null = null;
  private eventWatcher: { close(): void } | null = null;
  /** GPU events recorded while monitoring (bounded; see GPU_EVENT_HISTORY_SIZE). */
  readonly gpuEvents = new GpuEventLog();
  private gpuBackendCache: ProbeInfo['gpu']['backend'] | null = null;
  private readonly memoryRow = new Float64Array(MEMORY_SCHEMA.columns.length);
  private readonly gpuRow = new Float64Array(GPU_SCHEMA.columns.length);
  /** Sampler ring overflow seen so far (one warning on the first). */
  private droppedSeen = 0;
  /** Where a drained batch goes: set per ingest to the stores of the tracked types. */
  private readonly sink: BatchVisitor & { memoryStore: SampleStore | null; gpuStore: SampleStore | null };

  constructor(
    private readonly probes: CollectorProbes,
    private readonly stores: CollectorStores,
    private readonly config: () => Readonly<CollectorConfig>,
  ) {
    this.sink = {
      memoryStore: null,
      gpuStore: null,
      record(ts: number, row: Float64Array) {
        // MEMORY_ROW starts with MEMORY_SCHEMA's columns, in order.
        this.memoryStore?.push(ts, row, null);
      },
      gpu(ts: number, status: GpuStatus, row: Float64Array) {
        // A lost GPU leaves a gap rather than a record of nulls; one whose sample had an error keeps what did read.
        if (this.gpuStore && status !== 'lost') this.gpuStore.pushFrom(ts, row, GPU_COLUMNS_FROM_ROW, null);
      },
    };
  }

  get running(): boolean {
    return this.on;
  }

  gpuBackend(): ProbeInfo['gpu']['backend'] {
    if (this.gpuBackendCache === null) {
      try {
        this.gpuBackendCache = this.probes.probeInfo().gpu.backend;
      } catch {
        this.gpuBackendCache = 'none';
      }
    }
    return this.gpuBackendCache;
  }

  /** Reads memory now and records it; null when memory tracking is off. */
  recordMemory(operation: string | null): MemoryUsageMetric | null {
    if (!this.config().enableMemoryTracking) return null;
    this.ingest();
    return this.pushMemoryReading(this.probes.readMemory(), operation);
  }

  /** Reads every GPU now: synchronous with NVML, a Promise with the systeminformation fallback, [] without a backend. */
  recordGpus(operation: string | null): GpuUsageMetric[] | Promise<GpuUsageMetric[]> {
    if (!this.config().enableGpuTracking) return [];
    const backend = this.gpuBackend();
    if (backend === 'nvml') {
      this.ingest();
      return this.pushGpuReadings(this.probes.readGpusSync(), operation);
    }
    if (backend === 'systeminformation') {
      return this.probes.readGpus().then((readings) => {
        this.ingest();
        return this.pushGpuReadings(readings, operation);
      });
    }
    return [];
  }

  private pushMemoryReading(r: MemoryReading, operation: string | null): MemoryUsageMetric {
    const row = this.memoryRow;
    const columns = MEMORY_SCHEMA.columns;
    for (let c = 0; c < columns.length; c++) row[c] = nanIfNull(r[columns[c]!.key]);
    this.stores.memory.push(r.timestamp, row, operation);
    return newestRecord(this.stores.memory, memoryRecordAt);
  }

  private pushGpuReadings(readings: GpuReading[], operation: string | null): GpuUsageMetric[] {
    const out: GpuUsageMetric[] = [];
    const row = this.gpuRow;
    const columns = GPU_SCHEMA.columns;
    for (const r of readings) {
      if (r.status === 'lost') continue;
      for (let c = 0; c < columns.length; c++) row[c] = nanIfNull(r[columns[c]!.key]);
      this.stores.gpu.push(r.timestamp, row, operation);
      out.push(newestRecord(this.stores.gpu, gpuRecordAt));
    }
    return out;
  }

  /**
   * Samples memory (and GPUs through NVML) every memorySampleIntervalMs on
   * the native sampler thread, so sampling goes on while the event loop is
   * blocked. Without the addon, an unref'd timer samples instead. With the
   * systeminformation GPU fallback, GPUs are polled on an unref'd timer.
   * Idempotent; never keeps the process alive.
   */
  start(): void {
    if (this.on) return;
    this.on = true;
    const cfg = this.config();
    const interval = cfg.memorySampleIntervalMs;
    const backend = cfg.enableGpuTracking ? this.gpuBackend() : 'none';
    const nvml = backend === 'nvml';
    // Drained on this timer (and on every read of the statistics); the ring
    // is sized from it and allocates as records arrive.
    const drainEveryMs = Math.min(60_000, Math.max(1000, interval * 8192));
    if (cfg.enableMemoryTracking || nvml) {
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
      this.drainTimer = setInterval(() => this.ingest(), drainEveryMs);
      this.drainTimer.unref();
    } else if (cfg.enableMemoryTracking || nvml) {
      const tick = (): void => {
        try {
          if (this.config().enableMemoryTracking) this.pushMemoryReading(this.probes.readMemory(), null);
          if (nvml) this.pushGpuReadings(this.probes.readGpusSync(), null);
        } catch {
          // a failed probe leaves a gap, never an exception on a timer
        }
      };
      this.memoryTimer = setInterval(tick, interval);
      this.memoryTimer.unref();
    }
    if (nvml && this.probes.watchGpuEvents) {
      try {
        this.eventWatcher = this.probes.watchGpuEvents((e) => this.gpuEvents.push(e));
      } catch {
        this.eventWatcher = null; // no events: monitoring goes on without them
      }
    }
    if (backend === 'systeminformation') {
      this.gpuTimer = setInterval(() => {
        if (this.gpuPollInFlight) return;
        this.gpuPollInFlight = true;
        this.probes
          .readGpus()
          .then((readings) => {
            if (this.on) this.pushGpuReadings(readings, null);
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
  stop(): void {
    if (!this.on) return;
    this.on = false;
    if (this.sampler) {
      try {
        this.sampler.stop();
      } catch {
        // stopping twice or after the addon went away is harmless
      }
      this.ingest();
      this.sampler = null;
      this.droppedSeen = 0;
    }
    this.eventWatcher?.close();
    this.eventWatcher = null;
    for (const t of [this.drainTimer, this.memoryTimer, this.gpuTimer]) if (t) clearInterval(t);
    this.drainTimer = this.memoryTimer = this.gpuTimer = null;
  }

  /**
   * Takes in every record the native sampler has written since the last
   * call (decoded by src/probes/decode.ts: MiB, W, NaN = null; lost GPUs
   * are skipped, erroring ones keep what did read). Returns the number of
   * sampler records taken in.
   */
  ingest(): number {
    const s = this.sampler;
    if (!s) return 0;
    let batch: SampleBatch;
    try {
      batch = s.drain();
    } catch {
      return 0;
    }
    if (batch.droppedTotal > this.droppedSeen) {
      if (this.droppedSeen === 0) {
        process.emitWarning(
          `perfprobe: the sampler's ring overflowed and dropped ${batch.droppedTotal} samples before they were read; ` +
            'read statistics more often or sample less often (memorySampleIntervalMs).',
          { code: WarningCode.samplesDropped },
        );
      }
      this.droppedSeen = batch.droppedTotal;
    }
    const cfg = this.config();
    this.sink.memoryStore = cfg.enableMemoryTracking ? this.stores.memory : null;
    this.sink.gpuStore = cfg.enableGpuTracking ? this.stores.gpu : null;
    decodeBatch(batch, this.sink);
    return batch.count;
  }
}
