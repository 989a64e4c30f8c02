/**
 * `/api/metrics/stream`: Server-Sent Events for the dashboard. On connect one
 * `snapshot` event (the recent history), then one `samples` event per batch
 * of new memory/GPU records (and the operation statistics), a heartbeat
 * comment when nothing is new, and a `retry` hint so EventSource reconnects
 * quickly after a server restart. close() ends every open stream so the
 * server can shut down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compile } from '../schema/compile.js';
import { GPU_STREAM_KEYS } from '../schema/gpu.js';
import { MEMORY_STREAM_KEYS } from '../schema/memory.js';
import type { GpuUsageMetric, MemoryUsageMetric, OperationSummary, ProcessingTimeStats, RecordQuery } from '../types.js';
import { gpuDeviceReader, gpuEventRows, type GpuDeviceRow, type GpuEventRow, type GpuStreamSource } from './stream-gpu.js';

/** The collector methods the stream reads (structural, so any collector instance fits). */
export interface StreamSource extends GpuStreamSource {
  memoryRecords(query?: RecordQuery): Iterable<MemoryUsageMetric>;
  gpuRecords(query?: RecordQuery & { gpuId?: number }): Iterable<GpuUsageMetric>;
  getOperationSummary(query?: { durationMinutes?: number }): OperationSummary[];
  getProcessingTimeStats(query?: { operation?: string; durationMinutes?: number }): ProcessingTimeStats;
}

export interface StreamOptions {
  /** How often new records are looked for and sent (default 1000 ms). */
  intervalMs?: number;
  /** Heartbeat comment when nothing is new (default 15 s). */
  heartbeatMs?: number;
  /** History sent on connect (default 10 minutes), at most `maxSnapshotPoints` per kind. */
  snapshotMinutes?: number;
  maxSnapshotPoints?: number;
  /** Operations sent per event (the busiest first; default 20). */
  maxOperations?: number;
  /** EventSource reconnect delay sent to the browser (default 1000 ms). */
  retryMs?: number;
}

export interface StreamHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Open streams now. */
  readonly clients: number;
  /** Ends every open stream and stops their timers. */
  close(): void;
}

/** [timestampMs, ...MEMORY_STREAM_KEYS]: [timestampMs, usedMb, totalMb, percent, processMemoryMb] */
type MemoryRow = [number, ...Array<number | null>];
/** [timestampMs, ...GPU_STREAM_KEYS]: [timestampMs, gpuId, loadPercent, memoryUsedMb, memoryTotalMb, temperatureCelsius, powerWatts] */
type GpuRow = [number, ...Array<number | null>];

export interface OperationRow {
  operation: string;
  count: number;
  successRate: number | null;
  avgMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Over the last minute (what the latency chart plots). */
  recentP50Ms: number | null;
  recentP95Ms: number | null;
  recentP99Ms: number | null;
  recentCount: number;
}

export interface StreamEvent {
  /** Server time of the event (epoch ms). */
  now: number;
  memory: MemoryRow[];
  gpus: GpuRow[];
  operations: OperationRow[];
  /** Each GPU now: P-state, throttle reasons, ECC, PCIe, MIG, top processes (./stream-gpu.ts); [] without NVML. */
  gpuDevices: GpuDeviceRow[];
  /** GPU events recorded while monitoring: the snapshot's newest, then each new one once. */
  gpuEvents: GpuEventRow[];
}

/** GPU events sent per event at most. */
const MAX_GPU_EVENTS = 100;

const r2 = (v: number | null | undefined): number | null => (v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v * 100) / 100);

// Rows compiled from the schema's stream key lists (the dashboard reads them by position).
const memoryRow: (m: MemoryUsageMetric) => MemoryRow = compile('memoryRow', ['m'], `return [m.timestamp, ${MEMORY_STREAM_KEYS.map((k) => `r2(m.${k})`).join(', ')}];`, { r2 });
const gpuRow: (g: GpuUsageMetric) => GpuRow = compile('gpuRow', ['g'], `return [g.timestamp, ${GPU_STREAM_KEYS.map((k) => `r2(g.${k})`).join(', ')}];`, { r2 });

function tail<T>(it: Iterable<T>, max: number): T[] {
  const out: T[] = [];
  for (const x of it) {
    out.push(x);
    if (out.length > 2 * max) out.splice(0, out.length - max);
  }
  return out.length > max ? out.slice(out.length - max) : out;
}

export function operationRows(source: StreamSource, max: number): OperationRow[] {
  const summary = [...source.getOperationSummary()].sort((a, b) => b.count - a.count).slice(0, max);
  return summary.map((op) => {
    const all = source.getProcessingTimeStats({ operation: op.operation });
    const recent = source.getProcessingTimeStats({ operation: op.operation, durationMinutes: 1 });
    return {
      operation: op.operation,
      count: all.count,
      successRate: r2(all.successRate),
      avgMs: r2(all.avgDurationMs),
      p50Ms: r2(all.p50DurationMs),
      p95Ms: r2(all.p95DurationMs),
      p99Ms: r2(all.p99DurationMs),
      recentP50Ms: r2(recent.p50DurationMs),
      recentP95Ms: r2(recent.p95DurationMs),
      recentP99Ms: r2(recent.p99DurationMs),
      recentCount: recent.count,
    };
  });
}

export function createStreamHandler(source: StreamSource, options: StreamOptions = {}): StreamHandler {
  const intervalMs = options.intervalMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const snapshotMinutes = options.snapshotMinutes ?? 10;
  const maxPoints = options.maxSnapshotPoints ?? 3600;
  const maxOps = options.maxOperations ?? 20;
  const retryMs = options.retryMs ?? 1000;
  const open = new Set<() => void>();

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    let lastMemory = -Infinity;
    let lastGpu = -Infinity;
    let lastGpuEvent: number | undefined;
    const gpuDevices = gpuDeviceReader(source);
    let lastOpsKey = '';
    let lastWrite = Date.now();

    const send = (event: string, data: unknown) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      lastWrite = Date.now();
    };
    const collect = (snapshot: boolean): StreamEvent => {
      const window = snapshot ? { durationMinutes: snapshotMinutes } : { since: lastMemory };
      const memory = tail(source.memoryRecords(window), maxPoints).map(memoryRow);
      const gwindow = snapshot ? { durationMinutes: snapshotMinutes } : { since: lastGpu };
      const gpus = tail(source.gpuRecords(gwindow), maxPoints * 8).map(gpuRow);
      if (memory.length) lastMemory = memory[memory.length - 1]![0];
      if (gpus.length) lastGpu = gpus[gpus.length - 1]![0];
      const gpuEvents = gpuEventRows(source, snapshot ? undefined : lastGpuEvent, MAX_GPU_EVENTS);
      if (gpuEvents.length) lastGpuEvent = gpuEvents[gpuEvents.length - 1]!.timestamp;
      return { now: Date.now(), memory, gpus, operations: operationRows(source, maxOps), gpuDevices: gpuDevices(), gpuEvents };
    };

    let timer: NodeJS.Timeout | null = null;
    const stop = () => {
      if (timer) clearInterval(timer);
      timer = null;
      open.delete(stop);
      if (!res.writableEnded) res.end();
    };
    open.add(stop);
    req.on('close', stop);
    res.on('error', stop);

    try {
      res.write(`retry: ${retryMs}\n\n`);
      const first = collect(true);
      lastOpsKey = first.operations.map((o) => `${o.operation}:${o.count}`).join('|');
      send('snapshot', first);
    } catch (err) {
      send('error', { message: (err as Error).message });
    }
    timer = setInterval(() => {
      try {
        const ev = collect(false);
        const opsKey = ev.operations.map((o) => `${o.operation}:${o.count}`).join('|');
        if (ev.memory.length || ev.gpus.length || ev.gpuEvents.length || opsKey !== lastOpsKey) {
          lastOpsKey = opsKey;
          send('samples', ev);
        } else if (Date.now() - lastWrite >= heartbeatMs) {
          res.write(`: heartbeat ${Date.now()}\n\n`);
          lastWrite = Date.now();
        }
      } catch (err) {
        send('error', { message: (err as Error).message });
      }
    }, intervalMs);
    timer.unref();
  }) as StreamHandler;

  Object.defineProperty(handler, 'clients', { get: () => open.size });
  handler.close = () => {
    for (const stop of [...open]) stop();
  };
  return handler;
}
