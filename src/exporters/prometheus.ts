/**
 * Prometheus text exposition (0.0.4) and OpenMetrics 1.0 of the collector's
 * metrics. The cost of a scrape is O(operations + GPUs), independent of how
 * many records are stored:
 *   - operation durations and failures come from cumulativeOperationStats()
 *     (running totals, never a walk over records);
 *   - system and process memory are read live (the source's readMemory()),
 *     else taken from the newest memory record;
 *   - GPU gauges are read live through NVML (the source's readGpusSync())
 *     when it is the backend, else taken from the newest GPU record per
 *     device. Records are followed with a `since` cursor, so each scrape
 *     reads only new records.
 * The gauges themselves (names, help, units, conversions) come from
 * MEMORY_GAUGES and GPU_GAUGES in src/schema.
 *
 * The operation families, 22 lines per operation (18 MB at 10,000
 * operations), are written as bytes by ./prometheus-ops.ts; stream() hands
 * them to the response a slice at a time so a large scrape never holds the
 * event loop for long, render() returns the whole text.
 */
import type { Writable } from 'node:stream';
import { typeError } from '../errors.js';
import { readGpusSync } from '../probes/gpu.js';
import type { GpuXidCount } from '../probes/gpu-events.js';
import { ByteSink } from './files/byte-sink.js';
import { gpuFamilies, type GpuMetricNames } from './prometheus-gpu.js';
import { OperationFragments, OperationText } from './prometheus-ops.js';
import { escapeLabelValue, formatValue } from './prometheus-text.js';
import { readMemory } from '../probes/memory.js';
import { compile, objectLiteral, quote } from '../schema/compile.js';
import { GPU_GAUGES, GPU_SCHEMA, type GpuGauges, type GpuReading } from '../schema/gpu.js';
import { BYTES_PER_MB } from '../schema/layout.js';
import { MEMORY_GAUGES, type MemoryReading } from '../schema/memory.js';
import type { CumulativeOperationStats, GpuUsageMetric, MemoryUsageMetric, RecordQuery } from '../types.js';

export type { GpuGauges };

/** What the Prometheus exporter (and the bridges) read from a collector. */
export interface MetricsSnapshotSource {
  ingestSamples?(): unknown;
  cumulativeOperationStats(): CumulativeOperationStats;
  memoryRecords(query?: RecordQuery): Iterable<MemoryUsageMetric>;
  gpuRecords(query?: RecordQuery & { gpuId?: number }): Iterable<GpuUsageMetric>;
  readonly config?: { readonly enableGpuTracking?: boolean; readonly enableMemoryTracking?: boolean };
  /** The probes live figures are read from: a collector's own (injected ones included); the real probes when absent. */
  readonly probes?: { readMemory(): MemoryReading; readGpusSync(): GpuReading[] };
  /** Xid errors counted while monitoring (a collector's gpuEventCounts()); absent: none. */
  gpuXidCounts?(): GpuXidCount[];
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** True when an Accept header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined | null): boolean {
  return typeof accept === 'string' && accept.includes('application/openmetrics-text');
}

/** Memory figures for the gauges (MEMORY_GAUGES), in bytes; null = unknown. */
export type MemoryGauges = { [K in (typeof MEMORY_GAUGES)[number]['gauge']]: number | null };

export interface MetricsSnapshot {
  operations: CumulativeOperationStats;
  memory: MemoryGauges | null;
  gpus: GpuGauges[];
  /** Xid errors per GPU and Xid since monitoring started (perfprobe_gpu_xid_errors_total). */
  gpuXidErrors: GpuXidCount[];
}

/** The live readings of a source without probes of its own. */
const REAL_PROBES = { readMemory, readGpusSync };

const bytes = (mb: number | null | undefined): number | null =>
  typeof mb === 'number' && Number.isFinite(mb) ? Math.round(mb * BYTES_PER_MB) : null;
const fin = (n: number | null | undefined): number | null => (typeof n === 'number' && Number.isFinite(n) ? n : null);
const hertz = (mhz: number | null | undefined): number | null => (mhz == null ? null : fin(mhz * 1e6));
const CONVERT = { same: 'fin', bytes: 'bytes', hertz: 'hertz' } as const;

// The gauge objects, compiled from MEMORY_GAUGES and GPU_GAUGES: from a live reading, or from the newest record
// (figures a record does not carry are null there).
const memoryFromReading: (m: MemoryReading) => MemoryGauges = compile(
  'memoryFromReading',
  ['m'],
  `return ${objectLiteral(MEMORY_GAUGES.map((g) => [g.gauge, `bytes(m.${g.reading})`] as const))};`,
  { bytes },
);
const memoryFromRecord: (m: MemoryUsageMetric) => MemoryGauges = compile(
  'memoryFromRecord',
  ['m'],
  `return ${objectLiteral(MEMORY_GAUGES.map((g) => [g.gauge, g.record === null ? 'null' : `bytes(m.${g.record})`] as const))};`,
  { bytes },
);
const recordKeys = new Set<string>(GPU_SCHEMA.fields.map((f) => f.key));
const gpuFromReading: (g: GpuReading) => GpuGauges = compile(
  'gpuFromReading',
  ['g'],
  `return ${objectLiteral([
    ['gpu', 'g.gpuId'],
    ['uuid', "g.uuid ?? ''"],
    ['name', "g.name ?? ''"],
    ...GPU_GAUGES.map((s) => [s.gauge, `${CONVERT[s.convert]}(g.${s.field})`] as const),
    ['clocksEventReasons', 'g.clocksEventReasons ?? null'],
    ['eccErrors', 'g.eccErrors ?? null'],
    ['mig', 'g.mig ?? null'],
  ])};`,
  { fin, bytes, hertz },
);
const gpuFromRecord: (g: GpuUsageMetric) => GpuGauges = compile(
  'gpuFromRecord',
  ['g'],
  `return ${objectLiteral([
    ['gpu', 'g.gpuId'],
    ['uuid', "''"],
    ['name', "''"],
    ...GPU_GAUGES.map((s) => [s.gauge, recordKeys.has(s.field) ? `${CONVERT[s.convert]}(g.${s.field})` : 'null'] as const),
    ['clocksEventReasons', 'null'],
    ['eccErrors', 'null'],
    ['mig', 'null'],
  ])};`,
  { fin, bytes, hertz },
);

export { escapeLabelValue, formatValue };

const NVML_RETRY_MS = 30_000;
/** stream() hands the response a slice once it holds this many bytes (well under a millisecond of writing). */
export const SCRAPE_SLICE_BYTES = 1 << 18;
/**
 * What stream() lets `out` queue before it waits for a write to finish:
 * 1 MiB, four slices, so making the text and sending it overlap (a scrape
 * holds at most this, a slice and the sink: ~1.6 MiB).
 */
export const SCRAPE_QUEUE_BYTES = 1 << 20;
/**
 * stream() lets the event loop turn after this many slices (1 MiB, ~2 ms of
 * making here), not after each one: under a scrape a turn costs ~0.3 ms
 * (it also sends what the socket queued), 20 ms over a 71-slice scrape.
 */
export const SCRAPE_TURN_SLICES = 4;
/** Finished buffers a writer keeps for its next slices (~1.3 MiB). */
const MAX_FREE_BUFFERS = 4;
/** Writers an exporter keeps between scrapes (more scrapes at once make their own). */
const MAX_IDLE_WRITERS = 2;
/** The sink render() and stream() start with: it grows for render(), a slice and one operation's lines for stream(). */
const SINK_BYTES = SCRAPE_SLICE_BYTES + (1 << 16);
const NO_WRITE = (): Promise<void> => Promise.reject(new Error('the scrape sink is never flushed'));
/** Records older than this are not "current" and are not used for gauges. */
const CURRENT_WINDOW_MS = 15 * 60_000;

export interface PrometheusExporterOptions {
  /** Read memory live with readMemory() (default true); false = newest record only. */
  liveMemory?: boolean;
  /** Read GPUs live through NVML when it is the backend (default true). */
  liveGpu?: boolean;
  /** The GPU families' names: perfprobe's (default) or dcgm-exporter's ('dcgm'; see ./prometheus-gpu.ts). */
  gpuMetricNames?: GpuMetricNames;
}

/**
 * Reads snapshots from one collector and renders them. Keeps a little state
 * per collector (the record cursors and label caches), so create one per
 * collector and reuse it, or use exporterFor().
 */
export class PrometheusExporter {
  private memSince: number | undefined;
  private lastMemory: MemoryUsageMetric | null = null;
  private gpuSince: number | undefined;
  private readonly lastGpu = new Map<number, GpuUsageMetric>();
  private nvmlFailedAt = -Infinity;
  private readonly frags = new OperationFragments();
  /** Writers of finished scrapes, for the next ones (see ScrapeWriter). */
  private readonly idle: ScrapeWriter[] = [];

  constructor(
    readonly source: MetricsSnapshotSource,
    private readonly options: PrometheusExporterOptions = {},
  ) {}

  /** The figures a scrape exposes, as numbers (used by the bridges too). */
  snapshot(): MetricsSnapshot {
    const src = this.source;
    src.ingestSamples?.();
    const operations = src.cumulativeOperationStats();
    const now = Date.now();
    const gpuXidErrors = src.config?.enableGpuTracking === false ? [] : (src.gpuXidCounts?.() ?? []);
    return { operations, memory: this.memory(now), gpus: this.gpus(now), gpuXidErrors };
  }

  private memory(now: number): MemoryGauges | null {
    if (this.options.liveMemory !== false) {
      try {
        return memoryFromReading((this.source.probes ?? REAL_PROBES).readMemory());
      } catch {
        // fall through to the newest record
      }
    }
    const since = this.memSince ?? now - CURRENT_WINDOW_MS;
    for (const r of this.source.memoryRecords({ since })) {
      this.lastMemory = r;
      if (this.memSince === undefined || r.timestamp > this.memSince) this.memSince = r.timestamp;
    }
    if (this.memSince === undefined) this.memSince = since;
    return this.lastMemory ? memoryFromRecord(this.lastMemory) : null;
  }

  private gpus(now: number): GpuGauges[] {
    if (this.source.config?.enableGpuTracking === false) return [];
    if (this.options.liveGpu !== false && now - this.nvmlFailedAt > NVML_RETRY_MS) {
      try {
        const live = (this.source.probes ?? REAL_PROBES).readGpusSync();
        if (live.length > 0) return live.filter((g) => g.status !== 'lost').map(gpuFromReading);
      } catch {
        this.nvmlFailedAt = now;
      }
    }
    const since = this.gpuSince ?? now - CURRENT_WINDOW_MS;
    for (const r of this.source.gpuRecords({ since })) {
      this.lastGpu.set(r.gpuId, r);
      if (this.gpuSince === undefined || r.timestamp > this.gpuSince) this.gpuSince = r.timestamp;
    }
    if (this.gpuSince === undefined) this.gpuSince = since;
    return [...this.lastGpu.values()].sort((a, b) => a.gpuId - b.gpuId).map(gpuFromRecord);
  }

  /** Renders a scrape: Prometheus text 0.0.4, or OpenMetrics 1.0 when openMetrics. */
  render(openMetrics = false, gpuMetricNames?: GpuMetricNames): string {
    return this.format(this.snapshot(), openMetrics, gpuMetricNames);
  }

  /**
   * Writes a scrape to `out` (an http.ServerResponse, or any Writable) and
   * ends it: the operation families a slice of SCRAPE_SLICE_BYTES at a time,
   * an event-loop turn (setImmediate) after the first slice and then after
   * every SCRAPE_TURN_SLICES, then the gauges. Slices are made while the
   * earlier ones are being sent: `out` may queue up to SCRAPE_QUEUE_BYTES
   * (plus the slice just written) before the next waits for a write to
   * finish, whatever its high-water mark (an http response's is 16 KiB, so waiting for 'drain' after every
   * slice would stop the making for each round trip to the client). The
   * figures are those of the moment it began. Resolves once all is handed
   * to `out`, or early when `out` is closed or destroyed first (a client
   * that went away); never rejects. The caller sets the status and headers
   * (no content-length: chunked), and may take the snapshot first (so that
   * a failure comes before them).
   */
  async stream(
    out: Writable,
    openMetrics = false,
    snap: MetricsSnapshot = this.snapshot(),
    gpuMetricNames?: GpuMetricNames,
  ): Promise<void> {
    const w = this.writer();
    const { text, sink, free } = w;
    text.begin(snap.operations, openMetrics);
    const writes = new WriteWaiter(out);
    try {
      for (let slices = 1; ; slices++) {
        const done = text.write(sink, SCRAPE_SLICE_BYTES);
        if (done) sink.text(this.gauges(snap, openMetrics, gpuMetricNames));
        if (out.destroyed || out.writableEnded) return;
        const backing = sink.buf;
        out.write(sink.take(free.pop()), (err) => {
          if (!err && free.length < MAX_FREE_BUFFERS) free.push(backing);
          writes.finished();
        });
        if (done) break;
        // Turns after slices 1, 1 + SCRAPE_TURN_SLICES, ...: the first right away, so the snapshot the caller took and the first slices are not one block.
        if (slices % SCRAPE_TURN_SLICES === 1 || out.writableLength > SCRAPE_QUEUE_BYTES) {
          while (out.writableLength > SCRAPE_QUEUE_BYTES && !out.destroyed) await writes.next();
          // A loop turn, also when writes finish at once (see nextTurn).
          await nextTurn();
          if (out.destroyed || out.writableEnded) return;
        }
      }
      out.end();
    } finally {
      writes.close();
      this.release(w);
    }
  }

  format(snap: MetricsSnapshot, openMetrics = false, gpuMetricNames?: GpuMetricNames): string {
    const w = this.writer();
    // The whole text in one buffer lent to the pooled sink; room for operations named in ~30 bytes (the sink grows for longer names).
    const own = w.sink.swap(Buffer.allocUnsafe(1024 + snap.operations.operations.length * (snap.operations.boundsMs.length + 4) * 96));
    try {
      const text = w.text.begin(snap.operations, openMetrics);
      text.write(w.sink);
      return w.sink.buf.toString(text.ascii ? 'latin1' : 'utf8', 0, w.sink.pos) + this.gauges(snap, openMetrics, gpuMetricNames);
    } finally {
      w.sink.swap(own);
      this.release(w);
    }
  }

  /** A scrape writer from the pool, else a new one. */
  private writer(): ScrapeWriter {
    return this.idle.pop() ?? new ScrapeWriter(this.frags);
  }

  private release(w: ScrapeWriter): void {
    w.text.end();
    if (this.idle.length < MAX_IDLE_WRITERS) this.idle.push(w);
  }

  /** The memory and GPU gauge families (O(GPUs) lines) and OpenMetrics' `# EOF`. */
  private gauges(snap: MetricsSnapshot, openMetrics: boolean, gpuMetricNames: GpuMetricNames | undefined): string {
    let s = '';
    const m = snap.memory;
    if (m) s += memoryGaugeLines(m, openMetrics);

    s += gpuFamilies({ gpus: snap.gpus, xidErrors: snap.gpuXidErrors }, openMetrics, gpuMetricNames ?? this.options.gpuMetricNames);
    if (openMetrics) s += '# EOF\n';
    return s;
  }
}

// The memory gauge lines and the GPU gauge pickers, compiled from the tables (named loads, no keyed ones on a scrape).
const memoryGaugeLines: (m: MemoryGauges, openMetrics: boolean) => string = compile(
  'memoryGaugeLines',
  ['m', 'om'],
  `return ${MEMORY_GAUGES.map((g) => `gauge(${quote(g.prometheus)}, ${quote(g.help)}, m.${g.gauge}, om)`).join(' + ')};`,
  { gauge },
);
function gauge(name: string, help: string, value: number | null, openMetrics: boolean): string {
  if (value === null) return '';
  return `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${openMetrics ? `# UNIT ${name} bytes\n` : ''}${name} ${formatValue(value)}\n`;
}

const exporters = new WeakMap<object, PrometheusExporter>();

/** The (cached) exporter for a collector. */
export function exporterFor(source: MetricsSnapshotSource): PrometheusExporter {
  let e = exporters.get(source);
  if (!e) {
    e = new PrometheusExporter(source);
    exporters.set(source, e);
  }
  return e;
}

/** One scrape of `source` in the Prometheus text format (OpenMetrics when asked; dcgm-exporter's GPU names with gpuMetricNames: 'dcgm'). */
export function renderPrometheus(source: MetricsSnapshotSource, options: { openMetrics?: boolean; gpuMetricNames?: GpuMetricNames } = {}): string {
  return exporterFor(source).render(options.openMetrics === true, checkGpuMetricNames(options.gpuMetricNames));
}

/** Throws a TypeError naming gpuMetricNames unless it is undefined, 'perfprobe' or 'dcgm'. */
export function checkGpuMetricNames(v: unknown): GpuMetricNames | undefined {
  if (v === undefined || v === 'perfprobe' || v === 'dcgm') return v;
  throw typeError('gpuMetricNames', "'perfprobe' or 'dcgm'", v);
}

/**
 * Resolves on the next turn of the event loop. Never on a write's callback
 * or 'drain' alone: a socket whose kernel buffer takes each slice at once
 * (a scraper in another process reading as fast as it comes) calls them
 * from process.nextTick, so resuming there would run every slice in one
 * macrotask and block the loop for the whole scrape.
 */
function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * What a scrape writes with: the operation text, its sink and the sink's
 * buffers whose writes have finished. An exporter keeps up to
 * MAX_IDLE_WRITERS from one scrape to the next, and not only to save
 * allocating them: V8 throws away optimized code that checks for a map
 * (hidden class) once no object of that map is alive (--trace-deopt:
 * "weak objects"). With a new sink and text per scrape none was alive
 * between scrapes, so after a full GC every scrape ran its first 10-20
 * slices unoptimized until the loops were compiled again (2.5-4 ms a slice
 * instead of 0.4, measured at 10,000 operations).
 */
class ScrapeWriter {
  readonly text: OperationText;
  readonly sink = new ByteSink(NO_WRITE, SINK_BYTES);
  readonly free: Buffer[] = [];

  constructor(frags: OperationFragments) {
    this.text = new OperationText(frags);
  }
}

/** Wakes stream() when one of its writes finishes, or `out` closes or fails. */
class WriteWaiter {
  private wake: (() => void) | null = null;
  private readonly onEnd = (): void => this.finished();

  constructor(private readonly out: Writable) {
    out.on('close', this.onEnd);
    out.on('error', this.onEnd);
  }

  /** Resolves at the next finished write (or close, or error). */
  next(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  finished(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  close(): void {
    this.out.off('close', this.onEnd);
    this.out.off('error', this.onEnd);
  }
}
