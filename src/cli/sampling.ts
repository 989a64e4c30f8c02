/**
 * One sampling source for `perfprobe run`: the native Sampler (background
 * thread: system memory, the watched tree's RSS, every GPU and the tree's
 * GPU memory per tick), decoded by the probes' one decoder
 * (src/probes/decode.ts) into run samples, or, when the addon cannot start,
 * a JavaScript timer reading /proc and the GPU probe. The GPU figures of a
 * sample are GPU_RUN_SAMPLE_KEYS (src/schema/gpu.ts).
 */
import { readGpusSync } from '../probes/gpu.js';
import { readMemory } from '../probes/memory.js';
import { Sampler } from '../probes/sampler.js';
import type { GpuReading, SampleBatch } from '../probes/types.js';
import { MemoryRow, decodeBatch, gpuRunSampleFromRow, type BatchVisitor } from '../probes/decode.js';
import { compile, objectLiteral } from '../schema/compile.js';
import { GPU_RUN_SAMPLE_KEYS } from '../schema/gpu.js';
import { BYTES_PER_MB } from '../schema/layout.js';
import { osMemoryMb, processTree, treeRssBytes } from './proc.js';

/** One GPU in a run sample: the GpuReading fields GPU_RUN_SAMPLE_KEYS lists, and the watched tree's GPU memory. */
export type GpuTick = Pick<GpuReading, Exclude<(typeof GPU_RUN_SAMPLE_KEYS)[number], 'treeGpuMemoryMb'>> & {
  /** GPU memory of the watched process tree; null when unknown. */
  treeGpuMemoryMb: number | null;
};

export interface Tick {
  /** Epoch ms. */
  timestamp: number;
  systemTotalMb: number | null;
  systemUsedMb: number | null;
  systemAvailableMb: number | null;
  /** Summed RSS of the watched process tree; null when not watching or unknown. */
  treeRssMb: number | null;
  gpus: GpuTick[];
}

const nn = (x: number): number | null => (x === x ? x : null);

function tick(timestamp: number, totalMb: number | null, availableMb: number | null, usedMb: number | null, treeRssMb: number | null): Tick {
  return { timestamp, systemTotalMb: totalMb, systemAvailableMb: availableMb, systemUsedMb: usedMb, treeRssMb, gpus: [] };
}

/** Decodes a drained batch (every GPU block of every record, lost ones included). */
export function decodeBatchTicks(batch: SampleBatch): Tick[] {
  const out: Tick[] = [];
  const visit: BatchVisitor = {
    record(ts, m, treeRssMb) {
      out.push(tick(ts, nn(m[MemoryRow.totalMb]!), nn(m[MemoryRow.availableMb]!), nn(m[MemoryRow.usedMb]!), nn(treeRssMb)));
    },
    gpu(_ts, status, row) {
      out[out.length - 1]!.gpus.push(gpuRunSampleFromRow(row, status) as GpuTick);
    },
  };
  decodeBatch(batch, visit);
  return out;
}

/** A run sample's GPU entry from a reading (the fallback path), with the tree's GPU memory. */
const gpuTickFromReading: (g: GpuReading, tree: number | null) => GpuTick = compile(
  'gpuTickFromReading',
  ['g', 'tree'],
  `return ${objectLiteral(GPU_RUN_SAMPLE_KEYS.map((k) => [k, k === 'treeGpuMemoryMb' ? 'tree' : `g.${k}`] as const))};`,
);

/** GPU memory of the watched pids in a reading's process list: null when a listed pid's figure is unknown. */
function treeGpuMemoryMb(g: GpuReading, watched: Set<number> | null): number | null {
  if (!watched || !g.processes) return null;
  let tree = 0;
  for (const p of g.processes) {
    if (!watched.has(p.pid)) continue;
    if (p.usedMemoryMb === null) return null;
    tree += p.usedMemoryMb;
  }
  return tree;
}

export interface TickSourceOptions {
  intervalMs: number;
  /** Watch this pid's process tree (0 or undefined: none). */
  watchPid?: number;
}

/** Sampling with the native Sampler, or a JavaScript timer when it cannot start. */
export class TickSource {
  readonly backend: 'native' | 'js';
  /** Why the JavaScript fallback is in use. */
  readonly fallbackReason: string | undefined;
  private sampler: Sampler | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pending: Tick[] = [];
  private jsGpu = true;
  private hwmBytes: number | null = null;

  constructor(private readonly options: TickSourceOptions) {
    let reason: string | undefined;
    if (process.env.PERFPROBE_ADDON !== '0') {
      try {
        const s = new Sampler({ intervalMs: options.intervalMs, watchPid: options.watchPid || undefined });
        // The probes' own timer fallback has no tree RSS: use ours (below) instead.
        if ((s as { backend?: string }).backend === 'timer') reason = 'the perfprobe addon is not loaded';
        else {
          s.start();
          this.sampler = s;
        }
      } catch (err) {
        reason = (err as Error).message;
      }
    } else {
      reason = 'PERFPROBE_ADDON=0';
    }
    this.backend = this.sampler ? 'native' : 'js';
    this.fallbackReason = reason;
    if (!this.sampler) {
      this.sampleJs();
      this.timer = setInterval(() => this.sampleJs(), options.intervalMs);
      this.timer.unref();
    }
  }

  private sampleJs(): void {
    let total: number | null = null;
    let avail: number | null = null;
    try {
      const m = readMemory();
      total = m.totalMb;
      avail = m.availableMb;
    } catch {
      const m = osMemoryMb();
      total = m.totalMb;
      avail = m.availableMb;
    }
    const pid = this.options.watchPid;
    const rss = pid ? treeRssBytes(pid) : null;
    let gpus: GpuTick[] = [];
    if (this.jsGpu) {
      try {
        const readings = readGpusSync();
        const watched = pid && readings.some((g) => g.processes.length) ? new Set(processTree(pid)) : null;
        gpus = readings.map((g) => gpuTickFromReading(g, treeGpuMemoryMb(g, watched)));
      } catch {
        this.jsGpu = false; // NVML unavailable: no GPU readings in the fallback
      }
    }
    const t = tick(Date.now(), total, avail, total !== null && avail !== null ? total - avail : null, rss ? rss / BYTES_PER_MB : null);
    t.gpus = gpus;
    this.pending.push(t);
  }

  /** Takes one extra sample now (fallback only; the native thread samples on its own). */
  sampleNow(): void {
    if (!this.sampler) this.sampleJs();
  }

  /** Every sample taken since the last drain, oldest first. */
  drain(): Tick[] {
    if (this.sampler) return decodeBatchTicks(this.sampler.drain());
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /**
   * The largest VmHWM (kernel high-water mark) of any process of the watched
   * tree, bytes: native sampler on Linux only, else null. Kept after stop().
   */
  treeHwmBytes(): number | null {
    return this.sampler ? this.sampler.stats().treeHwmBytes : this.hwmBytes;
  }

  stop(): Tick[] {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const rest = this.drain();
    if (this.sampler) {
      this.sampler.stop();
      this.hwmBytes = this.sampler.stats().treeHwmBytes;
      try {
        rest.push(...decodeBatchTicks(this.sampler.drain()));
      } catch {
        /* a stopped sampler may refuse to drain: the drain above took everything */
      }
      this.sampler = null;
    }
    return rest;
  }
}
