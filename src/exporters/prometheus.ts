/**
 * Prometheus text exposition (0.0.4) and OpenMetrics 1.0 of the collector's
 * metrics. The cost of a scrape is O(operations + GPUs), independent of how
 * many records are stored:
 *   - operation durations and failures come from cumulativeOperationStats()
 *     (running totals, never a walk over records);
 *   - system and process memory are read live (readMemory()), else taken from
 *     the newest memory record;
 *   - GPU gauges are read live through NVML (readGpusSync()) when it is the
 *     backend, else taken from the newest GPU record per device. Records are
 *     followed with a `since` cursor, so each scrape reads only new records.
 */
import type { CumulativeOperationStats, GpuUsageMetric, MemoryUsageMetric, RecordQuery } from '../collector/types.js';
import type { GpuReading, MemoryReading } from '../probes/types.js';
import { readGpusSync, readMemory } from '../probes/index.js';

/** What the Prometheus exporter (and the bridges) read from a collector. */
export interface MetricsSnapshotSource {
  ingestSamples?(): unknown;
  cumulativeOperationStats(): CumulativeOperationStats;
  memoryRecords(query?: RecordQuery): Iterable<MemoryUsageMetric>;
  gpuRecords(query?: RecordQuery & { gpuId?: number }): Iterable<GpuUsageMetric>;
  readonly config?: { readonly enableGpuTracking?: boolean; readonly enableMemoryTracking?: boolean };
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** True when an Accept header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined | null): boolean {
  return typeof accept === 'string' && accept.includes('application/openmetrics-text');
}

/** Memory figures for the gauges, in bytes; null = unknown. */
export interface MemoryGauges {
  totalBytes: number | null;
  usedBytes: number | null;
  availableBytes: number | null;
  processResidentBytes: number | null;
  processPeakBytes: number | null;
}

/** One GPU's gauges; null = unknown or unsupported (the sample is left out). */
export interface GpuGauges {
  gpu: number;
  uuid: string;
  name: string;
  utilizationPercent: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
  smClockHertz: number | null;
  memoryClockHertz: number | null;
}

export interface MetricsSnapshot {
  operations: CumulativeOperationStats;
  memory: MemoryGauges | null;
  gpus: GpuGauges[];
}

const MIB = 1048576;
const bytes = (mb: number | null | undefined): number | null =>
  typeof mb === 'number' && Number.isFinite(mb) ? Math.round(mb * MIB) : null;
const fin = (n: number | null | undefined): number | null => (typeof n === 'number' && Number.isFinite(n) ? n : null);

function memoryFromReading(m: MemoryReading): MemoryGauges {
  return {
    totalBytes: bytes(m.totalMb),
    usedBytes: bytes(m.usedMb),
    availableBytes: bytes(m.availableMb),
    processResidentBytes: bytes(m.processMemoryMb),
    processPeakBytes: bytes(m.processPeakMb),
  };
}

function memoryFromRecord(m: MemoryUsageMetric): MemoryGauges {
  return {
    totalBytes: bytes(m.totalMb),
    usedBytes: bytes(m.usedMb),
    availableBytes: bytes(m.availableMb),
    processResidentBytes: bytes(m.processMemoryMb),
    processPeakBytes: null,
  };
}

function gpuFromReading(g: GpuReading): GpuGauges {
  return {
    gpu: g.gpuId,
    uuid: g.uuid ?? '',
    name: g.name ?? '',
    utilizationPercent: fin(g.loadPercent),
    memoryUsedBytes: bytes(g.memoryUsedMb),
    memoryTotalBytes: bytes(g.memoryTotalMb),
    temperatureCelsius: fin(g.temperatureCelsius),
    powerWatts: fin(g.powerWatts),
    smClockHertz: g.smClockMhz == null ? null : fin(g.smClockMhz * 1e6),
    memoryClockHertz: g.memoryClockMhz == null ? null : fin(g.memoryClockMhz * 1e6),
  };
}

function gpuFromRecord(g: GpuUsageMetric): GpuGauges {
  return {
    gpu: g.gpuId,
    uuid: '',
    name: '',
    utilizationPercent: fin(g.loadPercent),
    memoryUsedBytes: bytes(g.memoryUsedMb),
    memoryTotalBytes: bytes(g.memoryTotalMb),
    temperatureCelsius: fin(g.temperatureCelsius),
    powerWatts: fin(g.powerWatts),
    smClockHertz: null,
    memoryClockHertz: null,
  };
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

/** A Prometheus sample value. */
export function formatValue(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

const NVML_RETRY_MS = 30_000;
/** Records older than this are not "current" and are not used for gauges. */
const CURRENT_WINDOW_MS = 15 * 60_000;

export interface PrometheusExporterOptions {
  /** Read memory live with readMemory() (default true); false = newest record only. */
  liveMemory?: boolean;
  /** Read GPUs live through NVML when it is the backend (default true). */
  liveGpu?: boolean;
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
    return { operations, memory: this.memory(now), gpus: this.gpus(now) };
  }

  private memory(now: number): MemoryGauges | null {
    if (this.options.liveMemory !== false) {
      try {
        return memoryFromReading(readMemory());
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
        const live = readGpusSync();
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
  render(openMetrics = false): string {
    return this.format(this.snapshot(), openMetrics);
  }

  format(snap: MetricsSnapshot, openMetrics = false): string {
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
    if (m) {
      s += gauge('perfprobe_system_memory_total_bytes', 'Total system memory in bytes.', m.totalBytes, openMetrics);
      s += gauge('perfprobe_system_memory_used_bytes', 'System memory in use (total - available) in bytes.', m.usedBytes, openMetrics);
      s += gauge('perfprobe_system_memory_available_bytes', 'System memory available in bytes.', m.availableBytes, openMetrics);
      s += gauge('perfprobe_process_resident_memory_bytes', 'Resident set size of this process in bytes.', m.processResidentBytes, openMetrics);
      s += gauge('perfprobe_process_peak_resident_memory_bytes', 'Peak resident set size of this process in bytes.', m.processPeakBytes, openMetrics);
    }

    if (snap.gpus.length > 0) {
      const labels = snap.gpus.map(
        (g) => `{gpu="${g.gpu}",uuid="${escapeLabelValue(g.uuid)}",name="${escapeLabelValue(g.name)}"} `,
      );
      const fam = (name: string, help: string, unit: string, pick: (g: GpuGauges) => number | null): void => {
        let body = '';
        for (let i = 0; i < snap.gpus.length; i++) {
          const v = pick(snap.gpus[i]!);
          if (v !== null) body += `${name}${labels[i]}${formatValue(v)}\n`;
        }
        if (body === '') return;
        s += `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`;
        if (openMetrics && unit) s += `# UNIT ${name} ${unit}\n`;
        s += body;
      };
      fam('perfprobe_gpu_utilization_percent', 'GPU utilization in percent (0-100).', 'percent', (g) => g.utilizationPercent);
      fam('perfprobe_gpu_memory_used_bytes', 'GPU memory in use in bytes.', 'bytes', (g) => g.memoryUsedBytes);
      fam('perfprobe_gpu_memory_total_bytes', 'GPU memory in total in bytes.', 'bytes', (g) => g.memoryTotalBytes);
      fam('perfprobe_gpu_temperature_celsius', 'GPU temperature in degrees Celsius.', 'celsius', (g) => g.temperatureCelsius);
      fam('perfprobe_gpu_power_watts', 'GPU power draw in watts.', 'watts', (g) => g.powerWatts);
      fam('perfprobe_gpu_sm_clock_hertz', 'GPU SM clock in hertz.', 'hertz', (g) => g.smClockHertz);
      fam('perfprobe_gpu_memory_clock_hertz', 'GPU memory clock in hertz.', 'hertz', (g) => g.memoryClockHertz);
    }
    if (openMetrics) s += '# EOF\n';
    return s;
  }
}

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

/** One scrape of `source` in the Prometheus text format (OpenMetrics when asked). */
export function renderPrometheus(source: MetricsSnapshotSource, options: { openMetrics?: boolean } = {}): string {
  return exporterFor(source).render(options.openMetrics === true);
}
