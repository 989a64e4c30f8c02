// A small in-memory stand-in with the collector's read side, used only where
// a test needs a failing or instrumented collector (the real one is used
// everywhere else). Statistics are computed exactly from the arrays.
import type {
  CumulativeOperationStats,
  GpuUsageMetric,
  GpuUsageStats,
  MemoryUsageMetric,
  MemoryUsageStats,
  MetricType,
  OperationSummary,
  ProcessingTimeMetric,
  ProcessingTimeStats,
  RecordQuery,
} from '../src/collector/types.js';

const BOUNDS = [1, 5, 10, 50, 100, 500, 1000];

export class FakeCollector {
  processing: ProcessingTimeMetric[] = [];
  memory: MemoryUsageMetric[] = [];
  gpu: GpuUsageMetric[] = [];
  monitoring = false;
  calls: string[] = [];
  config = { exportDirectory: 'data/metrics', enableGpuTracking: true, enableMemoryTracking: true };
  constructor(config: { exportDirectory?: string } = {}) {
    if (config.exportDirectory) this.config.exportDirectory = config.exportDirectory;
  }

  private win<T extends { timestamp: number }>(arr: T[], q: RecordQuery = {}): T[] {
    let out = arr;
    if (q.since !== undefined) out = out.filter((r) => r.timestamp > q.since!);
    if (q.durationMinutes !== undefined) {
      const from = Date.now() - q.durationMinutes * 60_000;
      out = out.filter((r) => r.timestamp >= from);
    }
    return out;
  }
  *processingRecords(q: RecordQuery & { operation?: string } = {}): IterableIterator<ProcessingTimeMetric> {
    for (const r of this.win(this.processing, q)) if (q.operation === undefined || r.operation === q.operation) yield { ...r };
  }
  *memoryRecords(q: RecordQuery = {}): IterableIterator<MemoryUsageMetric> {
    for (const r of this.win(this.memory, q)) yield { ...r };
  }
  *gpuRecords(q: RecordQuery & { gpuId?: number } = {}): IterableIterator<GpuUsageMetric> {
    for (const r of this.win(this.gpu, q)) if (q.gpuId === undefined || r.gpuId === q.gpuId) yield { ...r };
  }
  importRecords(r: { processing?: ProcessingTimeMetric[]; memory?: MemoryUsageMetric[]; gpu?: GpuUsageMetric[] }): void {
    this.processing.push(...(r.processing ?? []));
    this.memory.push(...(r.memory ?? []));
    this.gpu.push(...(r.gpu ?? []));
  }
  getProcessingTimeStats(q: { operation?: string; durationMinutes?: number } = {}): ProcessingTimeStats {
    this.calls.push(`processing:${JSON.stringify(q)}`);
    const rs = [...this.processingRecords(q)];
    const d = rs.map((r) => r.durationMs).sort((a, b) => a - b);
    const n = d.length;
    const pct = (p: number): number | null => (n ? d[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]! : null);
    const failures = rs.filter((r) => !r.success).length;
    return {
      count: n,
      avgDurationMs: n ? d.reduce((a, b) => a + b, 0) / n : null,
      minDurationMs: n ? d[0]! : null,
      maxDurationMs: n ? d[n - 1]! : null,
      p50DurationMs: pct(50),
      p90DurationMs: pct(90),
      p95DurationMs: pct(95),
      p99DurationMs: pct(99),
      successRate: n ? ((n - failures) / n) * 100 : null,
      failureCount: failures,
    };
  }
  getMemoryUsageStats(q: { durationMinutes?: number } = {}): MemoryUsageStats {
    this.calls.push(`memory:${JSON.stringify(q)}`);
    const rs = [...this.memoryRecords(q)];
    const n = rs.length;
    const last = rs[n - 1];
    return {
      count: n,
      currentUsedMb: last ? last.usedMb : null,
      avgUsedMb: n ? rs.reduce((a, r) => a + r.usedMb, 0) / n : null,
      maxUsedMb: n ? Math.max(...rs.map((r) => r.usedMb)) : null,
      currentPercent: last ? last.percent : null,
      currentProcessMb: last ? last.processMemoryMb : null,
      avgProcessMb: n ? rs.reduce((a, r) => a + r.processMemoryMb, 0) / n : null,
      maxProcessMb: n ? Math.max(...rs.map((r) => r.processMemoryMb)) : null,
    };
  }
  getGpuUsageStats(q: { gpuId?: number; durationMinutes?: number } = {}): GpuUsageStats {
    this.calls.push(`gpu:${JSON.stringify(q)}`);
    const rs = [...this.gpuRecords(q)];
    const n = rs.length;
    const last = rs[n - 1];
    const vals = (f: (r: GpuUsageMetric) => number | null): number[] => rs.map(f).filter((v): v is number => v !== null);
    const avg = (a: number[]): number | null => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : null);
    const max = (a: number[]): number | null => (a.length ? Math.max(...a) : null);
    return {
      count: n,
      currentLoadPercent: last?.loadPercent ?? null,
      avgLoadPercent: avg(vals((r) => r.loadPercent)),
      maxLoadPercent: max(vals((r) => r.loadPercent)),
      currentTemperature: last?.temperatureCelsius ?? null,
      avgTemperature: avg(vals((r) => r.temperatureCelsius)),
      currentMemoryUsedMb: last?.memoryUsedMb ?? null,
      maxMemoryUsedMb: max(vals((r) => r.memoryUsedMb)),
      avgPowerWatts: avg(vals((r) => r.powerWatts)),
    };
  }
  getOperationSummary(q: { durationMinutes?: number } = {}): OperationSummary[] {
    this.calls.push(`summary:${JSON.stringify(q)}`);
    const ops = [...new Set(this.processing.map((r) => r.operation))];
    return ops.map((operation) => {
      const s = this.getProcessingTimeStats({ operation, ...q });
      return {
        operation,
        count: s.count,
        avgDurationMs: s.avgDurationMs ?? 0,
        totalDurationMs: (s.avgDurationMs ?? 0) * s.count,
        successRate: s.successRate ?? 0,
        p95DurationMs: s.p95DurationMs ?? 0,
      };
    });
  }
  cumulativeOperationStats(): CumulativeOperationStats {
    const map = new Map<string, { count: number; sumMs: number; failureCount: number; buckets: number[] }>();
    for (const r of this.processing) {
      let e = map.get(r.operation);
      if (!e) map.set(r.operation, (e = { count: 0, sumMs: 0, failureCount: 0, buckets: BOUNDS.map(() => 0) }));
      e.count++;
      e.sumMs += r.durationMs;
      if (!r.success) e.failureCount++;
      BOUNDS.forEach((b, i) => {
        if (r.durationMs <= b) e!.buckets[i]!++;
      });
    }
    return {
      boundsMs: BOUNDS,
      operations: [...map].map(([operation, e]) => ({
        operation,
        count: e.count,
        sumMs: e.sumMs,
        failureCount: e.failureCount,
        bucketCounts: e.buckets,
      })),
    };
  }
  recordProcessingTime(operation: string, durationMs: number, meta: { photoId?: number; jobId?: string; stage?: string; success?: boolean; errorMessage?: string } = {}): void {
    this.processing.push({
      timestamp: Date.now(), operation, durationMs, photoId: meta.photoId ?? null, jobId: meta.jobId ?? null,
      stage: meta.stage ?? null, success: meta.success ?? true, errorMessage: meta.errorMessage ?? null,
    });
  }
  recordMemoryUsage(operation?: string): void {
    this.memory.push({ timestamp: Date.now(), totalMb: 1000, usedMb: 400, availableMb: 600, percent: 40, processMemoryMb: 50, operation: operation ?? null });
  }
  async exportToJson(): Promise<string> {
    const { exportJson } = await import('../src/exporters/files.js');
    return exportJson(this, this.config.exportDirectory);
  }
  async exportToCsv(type: MetricType): Promise<string> {
    const { exportCsv } = await import('../src/exporters/files.js');
    return exportCsv(this, type, this.config.exportDirectory);
  }
  async importFromJson(path: string): Promise<void> {
    const { importJson } = await import('../src/exporters/files.js');
    return importJson(this, path);
  }
  startMonitoring(): void {
    this.monitoring = true;
  }
  stopMonitoring(): void {
    this.monitoring = false;
  }
  clearMetrics(type?: MetricType): void {
    this.calls.push(`clear:${type ?? 'all'}`);
    if (!type || type === 'processing') this.processing = [];
    if (!type || type === 'memory') this.memory = [];
    if (!type || type === 'gpu') this.gpu = [];
  }
}
