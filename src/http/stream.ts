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
  /** A client that has this much sent but not read (a stuck reader) is dropped (default 4 MiB). */
  maxBufferedBytes?: number;
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

/** The records of `it` (oldest first) up to timestamp `t`. */
function* upTo<T extends { timestamp: number }>(it: Iterable<T>, t: number): Iterable<T> {
  for (const r of it) {
    if (r.timestamp > t) return;
    yield r;
  }
}

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
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1048576;

  // One payload per tick for every client (issue 10: each client used to
  // recompute the statistics every second; 30 clients over 1M records made a
  // trivial request wait 1.6 s). The cursors are the newest records every
  // open stream has been sent (in its snapshot or a batch).
  const clients = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null;
  let lastMemory = -Infinity;
  let lastGpu = -Infinity;
  /** The newest GPU event sent (undefined: none yet; the next batch sends the newest MAX_GPU_EVENTS). */
  let lastGpuEvent: number | undefined;
  let lastOpsKey = '';
  let lastWrite = 0;
  const gpuDevices = gpuDeviceReader(source);
  /** The snapshot frame, shared by the clients that connect between two ticks. */
  let snapshot: string | null = null;

  const frame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  const opsKey = (ops: OperationRow[]): string => ops.map((o) => `${o.operation}:${o.count}`).join('|');

  /** Writes to one client; one that has not read 4 MiB of what it was sent is dropped (a slow or stuck reader). */
  const deliver = (res: ServerResponse, text: string): void => {
    if (res.writableLength > maxBuffered) {
      drop(res);
      res.destroy();
      return;
    }
    res.write(text);
  };

  const snapshotFrame = (): string => {
    if (snapshot !== null) return snapshot;
    const first = clients.size === 0;
    try {
      // Streams already open have been sent everything up to the cursors, and
      // the next batch starts there: a new client's snapshot stops there too.
      const mem = source.memoryRecords({ durationMinutes: snapshotMinutes });
      const gpu = source.gpuRecords({ durationMinutes: snapshotMinutes });
      const memory = tail(first ? mem : upTo(mem, lastMemory), maxPoints).map(memoryRow);
      const gpus = tail(first ? gpu : upTo(gpu, lastGpu), maxPoints * 8).map(gpuRow);
      const operations = operationRows(source, maxOps);
      const events = gpuEventRows(source, undefined, MAX_GPU_EVENTS);
      const gpuEvents = first ? events : events.filter((e) => lastGpuEvent !== undefined && e.timestamp <= lastGpuEvent);
      if (first) {
        if (memory.length) lastMemory = memory[memory.length - 1]![0];
        if (gpus.length) lastGpu = gpus[gpus.length - 1]![0];
        if (gpuEvents.length) lastGpuEvent = gpuEvents[gpuEvents.length - 1]!.timestamp;
        lastOpsKey = opsKey(operations);
      }
      snapshot = frame('snapshot', { now: Date.now(), memory, gpus, operations, gpuDevices: gpuDevices(), gpuEvents } satisfies StreamEvent);
    } catch (err) {
      return frame('error', { message: (err as Error).message });
    }
    return snapshot;
  };

  const tick = (): void => {
    snapshot = null;
    if (clients.size === 0) return;
    let text: string | null = null;
    try {
      const memory = tail(source.memoryRecords({ since: lastMemory }), maxPoints).map(memoryRow);
      const gpus = tail(source.gpuRecords({ since: lastGpu }), maxPoints * 8).map(gpuRow);
      const operations = operationRows(source, maxOps);
      const gpuEvents = gpuEventRows(source, lastGpuEvent, MAX_GPU_EVENTS);
      const key = opsKey(operations);
      if (memory.length) lastMemory = memory[memory.length - 1]![0];
      if (gpus.length) lastGpu = gpus[gpus.length - 1]![0];
      if (gpuEvents.length) lastGpuEvent = gpuEvents[gpuEvents.length - 1]!.timestamp;
      if (memory.length || gpus.length || gpuEvents.length || key !== lastOpsKey) {
        lastOpsKey = key;
        text = frame('samples', { now: Date.now(), memory, gpus, operations, gpuDevices: gpuDevices(), gpuEvents } satisfies StreamEvent);
      } else if (Date.now() - lastWrite >= heartbeatMs) {
        text = `: heartbeat ${Date.now()}\n\n`;
      }
    } catch (err) {
      text = frame('error', { message: (err as Error).message });
    }
    if (text === null) return;
    lastWrite = Date.now();
    for (const res of [...clients]) deliver(res, text);
  };

  const drop = (res: ServerResponse): void => {
    if (!clients.delete(res) || clients.size > 0) return;
    // The last one left: stop ticking, and start afresh with the next client.
    if (timer) clearInterval(timer);
    timer = null;
    snapshot = null;
    lastMemory = -Infinity;
    lastGpu = -Infinity;
    lastGpuEvent = undefined;
    lastOpsKey = '';
  };

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const stop = () => {
      drop(res);
      if (!res.writableEnded) res.end();
    };
    req.on('close', stop);
    res.on('error', stop);
    res.write(`retry: ${retryMs}\n\n`);
    res.write(snapshotFrame());
    lastWrite = Date.now();
    clients.add(res);
    if (!timer) {
      timer = setInterval(tick, intervalMs);
      timer.unref();
    }
  }) as StreamHandler;

  Object.defineProperty(handler, 'clients', { get: () => clients.size });
  handler.close = () => {
    for (const res of [...clients]) {
      drop(res);
      if (!res.writableEnded) res.end();
    }
  };
  return handler;
}
