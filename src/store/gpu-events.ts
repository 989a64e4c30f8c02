/**
 * The GPU events a collector records while monitoring (watchGpuEvents():
 * Xid, ECC, clock changes): a bounded history of the newest
 * GPU_EVENT_HISTORY_SIZE events (the oldest is dropped, and counted, when a
 * new one arrives), and cumulative Xid counts per GPU and Xid that no
 * eviction touches (Prometheus' perfprobe_gpu_xid_errors_total), bounded at
 * MAX_XID_COUNTERS distinct (GPU, Xid) pairs.
 */
import type { GpuEvent, GpuXidCount } from '../probes/gpu-events.js';

/** Events a collector keeps (the newest; ~200 bytes each). */
export const GPU_EVENT_HISTORY_SIZE = 1000;
/** Distinct (GPU, Xid) pairs counted; Xids of a pair beyond it are counted in `uncountedXids` only. */
export const MAX_XID_COUNTERS = 4096;

export interface GpuEventQuery {
  /** Events after this time (ms since the epoch, exclusive). */
  since?: number;
  gpuId?: number;
}

export class GpuEventLog {
  private readonly ring: Array<GpuEvent | undefined>;
  private head = 0;
  private size = 0;
  private readonly counts = new Map<string, GpuXidCount>();
  /** Events dropped from the history to make room (still counted when Xids). */
  dropped = 0;
  /** Xid events of pairs beyond MAX_XID_COUNTERS. */
  uncountedXids = 0;

  constructor(readonly capacity = GPU_EVENT_HISTORY_SIZE) {
    this.ring = new Array<GpuEvent | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(e: GpuEvent): void {
    const event = Object.freeze({ ...e });
    if (this.size === this.capacity) {
      this.ring[this.head] = event;
      this.head = (this.head + 1) % this.capacity;
      this.dropped++;
    } else {
      this.ring[(this.head + this.size) % this.capacity] = event;
      this.size++;
    }
    if (e.type === 'xid' && e.xid !== undefined) {
      const key = `${e.gpuId}\u0000${e.uuid ?? ''}\u0000${e.xid}`;
      const c = this.counts.get(key);
      if (c) {
        c.count++;
        c.lastTimestamp = Math.max(c.lastTimestamp, e.timestamp);
      } else if (this.counts.size < MAX_XID_COUNTERS) {
        this.counts.set(key, { gpuId: e.gpuId, uuid: e.uuid, xid: e.xid, count: 1, lastTimestamp: e.timestamp });
      } else {
        this.uncountedXids++;
      }
    }
  }

  /** The events held, oldest first. */
  events(query: GpuEventQuery = {}): GpuEvent[] {
    const out: GpuEvent[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.ring[(this.head + i) % this.capacity]!;
      if (query.since !== undefined && !(e.timestamp > query.since)) continue;
      if (query.gpuId !== undefined && e.gpuId !== query.gpuId) continue;
      out.push(e);
    }
    return out;
  }

  /** Xid counts since the start (or the last clear()), by GPU then Xid. */
  xidCounts(): GpuXidCount[] {
    return [...this.counts.values()].map((c) => ({ ...c })).sort((a, b) => a.gpuId - b.gpuId || a.xid - b.xid);
  }

  clear(): void {
    this.ring.fill(undefined);
    this.head = this.size = this.dropped = this.uncountedXids = 0;
    this.counts.clear();
  }
}
