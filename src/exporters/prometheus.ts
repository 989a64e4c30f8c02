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
 */
import { typeError } from '../errors.js';
import { readGpusSync } from '../probes/gpu.js';
import type { GpuXidCount } from '../probes/gpu-events.js';
import { gpuFamilies, type GpuMetricNames } from './prometheus-gpu.js';
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
  private readonly opLabels = new Map<string, string>();
  private leCache: { bounds: readonly number[]; le: string[] } | null = null;

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

  private opLabel(op: string): string {
    let l = this.opLabels.get(op);
    if (l === undefined) {
      l = `operation="${escapeLabelValue(op)}"`;
      if (this.opLabels.size < 100_000) this.opLabels.set(op, l);
    }
    return l;
  }

  private les(bounds: readonly number[]): string[] {
    const c = this.leCache;
    if (c && (c.bounds === bounds || (c.bounds.length === bounds.length && c.bounds.every((b, i) => b === bounds[i])))) {
      return c.le;
    }
    const le = bounds.map((b) => `,le="${formatValue(b / 1000)}"} `);
    le.push(',le="+Inf"} ');
    this.leCache = { bounds, le };
    return le;
  }

  /** Renders a scrape: Prometheus text 0.0.4, or OpenMetrics 1.0 when openMetrics. */
  render(openMetrics = false, gpuMetricNames?: GpuMetricNames): string {
    return this.format(this.snapshot(), openMetrics, gpuMetricNames);
  }

  format(snap: MetricsSnapshot, openMetrics = false, gpuMetricNames?: GpuMetricNames): string {
    let s = '';
    const { boundsMs, operations } = snap.operations;
    const le = this.les(boundsMs);

    const h = 'perfprobe_operation_duration_seconds';
    s += `# HELP ${h} Duration of recorded operations in seconds.\n# TYPE ${h} histogram\n`;
    if (openMetrics) s += `# UNIT ${h} seconds\n`;
    for (const op of operations) {
      const lab = this.opLabel(op.operation);
      const pre = `${h}_bucket{${lab}`;
      const counts = op.bucketCounts;
      for (let i = 0; i < boundsMs.length; i++) s += `${pre}${le[i]}${counts[i] ?? op.count}\n`;
      s += `${pre}${le[boundsMs.length]}${op.count}\n`;
      s += `${h}_sum{${lab}} ${formatValue(op.sumMs / 1000)}\n${h}_count{${lab}} ${op.count}\n`;
    }

    const f = 'perfprobe_operation_failures';
    s += openMetrics
      ? `# HELP ${f} Operations recorded as failed.\n# TYPE ${f} counter\n`
      : `# HELP ${f}_total Operations recorded as failed.\n# TYPE ${f}_total counter\n`;
    for (const op of operations) s += `${f}_total{${this.opLabel(op.operation)}} ${op.failureCount}\n`;

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
