/**
 * One sampling source for `perfprobe run` and `watch`: the native Sampler
 * (background thread: system memory, the watched tree's RSS, every GPU and the
 * tree's GPU memory per tick) decoded into plain objects, or, when the addon
 * cannot start, a JavaScript timer reading /proc and the GPU probe.
 */
import {
  Sampler,
  readGpusSync,
  readMemory,
  BYTES_PER_MB,
  GPU_SLOTS,
  GpuSlot,
  GpuStatusCode,
  HeaderSlot,
  MemorySlot,
  RECORD_GPU_OFFSET,
  RECORD_MEMORY_OFFSET,
  type GpuReading,
  type SampleBatch,
} from '../probes/index.js';
import { osMemoryMb, processTree, treeRssBytes } from './proc.js';

export interface GpuTick {
  gpuId: number;
  status: 'ok' | 'lost' | 'error';
  loadPercent: number | null;
  memoryUtilPercent: number | null;
  memoryUsedMb: number | null;
  memoryTotalMb: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
  /** GPU memory of the watched process tree; null when unknown. */
  treeGpuMemoryMb: number | null;
}

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

const val = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : x);
const mb = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : x / BYTES_PER_MB);

/** A live process always has RSS > 0: a 0 comes from a tree whose root already exited (zombie), so unknown. */
const positiveMb = (x: number | undefined): number | null => (x === undefined || !(x > 0) ? null : x / BYTES_PER_MB);

/** Decodes a drained batch (layout in src/probes/layout.ts). */
export function decodeBatch(batch: SampleBatch): Tick[] {
  const out: Tick[] = [];
  const { data, recordSlots, count } = batch;
  for (let r = 0; r < count; r++) {
    const base = r * recordSlots;
    const total = data[base + RECORD_MEMORY_OFFSET + MemorySlot.totalBytes];
    const avail = data[base + RECORD_MEMORY_OFFSET + MemorySlot.availableBytes];
    const gpuCount = Math.min(val(data[base + HeaderSlot.gpuCount]) ?? 0, Math.floor((recordSlots - RECORD_GPU_OFFSET) / GPU_SLOTS));
    const gpus: GpuTick[] = [];
    for (let g = 0; g < gpuCount; g++) {
      const gb = base + RECORD_GPU_OFFSET + g * GPU_SLOTS;
      const status = data[gb + GpuSlot.status];
      const power = data[gb + GpuSlot.powerMilliwatts];
      gpus.push({
        gpuId: g,
        status: status === GpuStatusCode.ok ? 'ok' : status === GpuStatusCode.lost ? 'lost' : 'error',
        loadPercent: val(data[gb + GpuSlot.loadPercent]),
        memoryUtilPercent: val(data[gb + GpuSlot.memoryUtilPercent]),
        memoryUsedMb: mb(data[gb + GpuSlot.memoryUsedBytes]),
        memoryTotalMb: mb(data[gb + GpuSlot.memoryTotalBytes]),
        temperatureCelsius: val(data[gb + GpuSlot.temperatureC]),
        powerWatts: power === undefined || Number.isNaN(power) ? null : power / 1000,
        treeGpuMemoryMb: mb(data[gb + GpuSlot.watchedMemoryBytes]),
      });
    }
    const totalMb = mb(total);
    const availMb = mb(avail);
    out.push({
      timestamp: data[base + HeaderSlot.wallClockMs]!,
      systemTotalMb: totalMb,
      systemAvailableMb: availMb,
      systemUsedMb: totalMb !== null && availMb !== null ? totalMb - availMb : null,
      treeRssMb: positiveMb(data[base + HeaderSlot.treeRssBytes]),
      gpus,
    });
  }
  return out;
}

function gpuTickFromReading(g: GpuReading, watched: Set<number> | null): GpuTick {
  let tree: number | null = null;
  if (watched && g.processes) {
    tree = 0;
    for (const p of g.processes) {
      if (!watched.has(p.pid)) continue;
      if (p.usedMemoryMb === null) {
        tree = null;
        break;
      }
      tree += p.usedMemoryMb;
    }
  }
  return {
    gpuId: g.gpuId,
    status: g.status,
    loadPercent: g.loadPercent,
    memoryUtilPercent: g.memoryUtilPercent,
    memoryUsedMb: g.memoryUsedMb,
    memoryTotalMb: g.memoryTotalMb,
    temperatureCelsius: g.temperatureCelsius,
    powerWatts: g.powerWatts,
    treeGpuMemoryMb: tree,
  };
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
        gpus = readings.map((g) => gpuTickFromReading(g, watched));
      } catch {
        this.jsGpu = false; // NVML unavailable: no GPU readings in the fallback
      }
    }
    this.pending.push({
      timestamp: Date.now(),
      systemTotalMb: total,
      systemAvailableMb: avail,
      systemUsedMb: total !== null && avail !== null ? total - avail : null,
      treeRssMb: rss ? rss / BYTES_PER_MB : null,
      gpus,
    });
  }

  /** Takes one extra sample now (fallback only; the native thread samples on its own). */
  sampleNow(): void {
    if (!this.sampler) this.sampleJs();
  }

  /** Every sample taken since the last drain, oldest first. */
  drain(): Tick[] {
    if (this.sampler) return decodeBatch(this.sampler.drain());
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
        rest.push(...decodeBatch(this.sampler.drain()));
      } catch {
        /* a stopped sampler may refuse to drain: the drain above took everything */
      }
      this.sampler = null;
    }
    return rest;
  }
}
