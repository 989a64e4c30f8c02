/**
 * GPU probe: every NVIDIA GPU through NVML (the addon dlopens it at run time)
 * and, when NVML is not available, systeminformation as a slow fallback.
 *
 * - readGpusSync(): NVML only, microseconds, for hot polling; throws
 *   ERR_PERFPROBE_NVML_UNAVAILABLE (naming the reason) otherwise. Every
 *   field: the cheap per-sample block on every call, the process table
 *   (names, types, per-process utilization) and MIG from a details read
 *   made at most once per GPU_DETAILS_REFRESH_MS (the first call makes it).
 * - readGpuPcieThroughput(): PCIe KB/s on request (NVML waits out a ~20 ms
 *   window per device: on the libuv pool, never on the event loop).
 * - watchGpuEvents(listener) (./gpu-watch.ts): Xid, ECC and clock events from a native thread.
 * - readGpus(): NVML when available, else systeminformation graphics() in a
 *   worker with a timeout, cached briefly (never on a hot path).
 * - gpuBackendInfo(): what probeInfo().gpu reports: the backend, and when NVML
 *   is not used, why (the library tried and the NVML error name).
 * - configureGpu({ nvmlLibrary, enabled }): another NVML file (same meaning as
 *   PERFPROBE_NVML_LIBRARY) or GPU probing off. PERFPROBE_NVML=0 turns NVML off.
 *   Both variables are read here and nowhere else (the addon never reads the
 *   environment): the library path is passed to every native open, the
 *   sampler's included (nvmlLibraryForSampler()).
 *
 * NVML is initialised once per process and shared by every thread (the
 * addon counts references); device names, UUIDs, memory totals and power
 * limits are read once and cached. A GPU lost mid-run reads status 'lost'
 * while the others keep reading, with ONE warning (code PERFPROBE_GPU_LOST).
 */
import { ErrorCode, WarningCode, codedError, typeError } from '../errors.js';
import { getAddon, addonStatus } from '../native/binding.js';
import type { GpuMig, GpuProcess } from '../schema/gpu.js';
import { BYTES_PER_MB, GPU_SLOTS, GpuStatusCode, HeaderSlot, RECORD_GPU_OFFSET } from '../schema/layout.js';
import { decodeGpuBlock, decodeMig, decodeProcesses } from './decode.js';
import { nvmlFunctions, type NvmlDeviceStatic, type NvmlFunctions, type NvmlOpenResult } from './gpu-nvml.js';
import { DEFAULT_FALLBACK_TIMEOUT_MS, mapSiControllers, siGraphicsControllers } from './gpu-si.js';
import type { GpuReading, ProbeInfo, SampleBatch } from './types.js';

export interface GpuConfig {
  /** Path of the NVML library to open instead of libnvidia-ml.so.1 (as PERFPROBE_NVML_LIBRARY). */
  nvmlLibrary?: string;
  /** false turns GPU probing off (backend 'none'). Default true. */
  enabled?: boolean;
  /** Timeout of the systeminformation fallback, ms (default 5000). */
  fallbackTimeoutMs?: number;
  /** How long a fallback reading is reused, ms (default 2000): it costs a process and ~1 s. */
  fallbackCacheMs?: number;
  /**
   * How long readGpusSync() reuses the process table and MIG it read, ms
   * (default GPU_DETAILS_REFRESH_MS = 1000; 0 reads them on every call, at
   * several NVML list calls and a /proc read per process each time).
   */
  detailsRefreshMs?: number;
}

export interface GpuStaticInfo {
  gpuId: number;
  name: string | null;
  uuid: string | null;
  memoryTotalMb: number | null;
  powerLimitWatts: number | null;
}

export interface GpuEnergyReading {
  gpuId: number;
  /** Energy since the driver loaded, mJ; null when unsupported or lost. */
  energyMillijoules: number | null;
}

/** How long readGpusSync() reuses a process table and MIG object by default, ms (configureGpu({ detailsRefreshMs })). */
export const GPU_DETAILS_REFRESH_MS = 1000;

/** The on-demand details of every device, decoded and frozen (shared by the readings until the next details read). */
interface Details {
  at: number;
  processes: GpuProcess[][];
  mig: Array<GpuMig | null>;
}

type Backend =
  | {
      kind: 'nvml';
      fns: NvmlFunctions;
      open: NvmlOpenResult;
      devices: NvmlDeviceStatic[];
      /** The blocks readGpusSync() decodes (nvmlRead). */
      buffer: Float64Array;
      /** The blocks nvmlReadDetailed writes beside its details (not used: the readings' blocks all come from nvmlRead). */
      detailsBuffer: Float64Array;
      details: Details | null;
    }
  | { kind: 'systeminformation' | 'none'; reason: string; library?: string };

let config: { nvmlLibrary?: string; enabled: boolean; fallbackTimeoutMs: number; fallbackCacheMs: number; detailsRefreshMs: number } = {
  enabled: true,
  fallbackTimeoutMs: DEFAULT_FALLBACK_TIMEOUT_MS,
  fallbackCacheMs: 2000,
  detailsRefreshMs: GPU_DETAILS_REFRESH_MS,
};
let backend: Backend | null = null;
let fallbackCache: { at: number; readings: Promise<GpuReading[]> } | null = null;
const warnedLost = new Set<string>();

/**
 * The NVML settings from the environment, read in this one place:
 * PERFPROBE_NVML=0 (or false, off) turns NVML off; PERFPROBE_NVML_LIBRARY
 * names the library (configureGpu({ nvmlLibrary }) takes precedence).
 */
function nvmlEnvironment(): { disabled: boolean; library: string | undefined } {
  const v = process.env.PERFPROBE_NVML;
  return { disabled: v === '0' || v === 'false' || v === 'off', library: process.env.PERFPROBE_NVML_LIBRARY || undefined };
}

function decide(): Backend {
  if (!config.enabled) return { kind: 'none', reason: 'GPU probing disabled by configureGpu({ enabled: false })' };
  const env = nvmlEnvironment();
  const library = config.nvmlLibrary ?? env.library;
  const fallback = (reason: string, lib?: string): Backend => ({
    kind: 'systeminformation',
    reason,
    ...(lib !== undefined ? { library: lib } : {}),
  });
  if (env.disabled) return fallback('NVML disabled by PERFPROBE_NVML=0');
  const addon = getAddon();
  const fns = nvmlFunctions(addon);
  if (!fns) {
    const s = addonStatus();
    return fallback(addon ? 'the loaded addon has no NVML functions' : `native addon not loaded (${s.error ?? 'unknown reason'})`);
  }
  // '' asks the addon for the platform's default name (libnvidia-ml.so.1, nvml.dll).
  const open = fns.nvmlOpen(library ?? '');
  if (!open.ok) {
    return fallback(`${open.errorName ?? 'NVML_ERROR_UNKNOWN'}: ${open.error ?? 'NVML could not be opened'}`, open.path);
  }
  const devices = fns.nvmlDevices();
  const slots = Math.max(1, devices.length) * GPU_SLOTS;
  return { kind: 'nvml', fns, open, devices, buffer: new Float64Array(slots), detailsBuffer: new Float64Array(slots), details: null };
}

function current(): Backend {
  if (!backend) backend = decide();
  return backend;
}

/**
 * Sets the NVML library path or turns GPU probing off. Takes effect at the
 * next read: this thread's NVML reference is given back and the backend
 * chosen again. NVML stays one per process: a thread that opens while
 * another already holds it gets the library already open.
 */
export function configureGpu(options: GpuConfig): void {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { nvmlLibrary, enabled, fallbackTimeoutMs, fallbackCacheMs, detailsRefreshMs } = options;
  if (nvmlLibrary !== undefined && (typeof nvmlLibrary !== 'string' || nvmlLibrary === '')) {
    throw typeError('nvmlLibrary', 'a non-empty path string', nvmlLibrary);
  }
  if (enabled !== undefined && typeof enabled !== 'boolean') throw typeError('enabled', 'a boolean', enabled);
  for (const [field, v] of [['fallbackTimeoutMs', fallbackTimeoutMs], ['fallbackCacheMs', fallbackCacheMs], ['detailsRefreshMs', detailsRefreshMs]] as const) {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw typeError(field, 'a number of milliseconds >= 0', v);
    }
  }
  closeGpu();
  config = {
    ...config,
    ...(nvmlLibrary !== undefined ? { nvmlLibrary } : {}),
    ...(enabled !== undefined ? { enabled } : {}),
    ...(fallbackTimeoutMs !== undefined ? { fallbackTimeoutMs } : {}),
    ...(fallbackCacheMs !== undefined ? { fallbackCacheMs } : {}),
    ...(detailsRefreshMs !== undefined ? { detailsRefreshMs } : {}),
  };
}

/** Gives back this thread's NVML reference (nvmlShutdown after the last one in the process). */
export function closeGpu(): void {
  if (backend?.kind === 'nvml') backend.fns.nvmlClose();
  backend = null;
  fallbackCache = null;
}

/** What probeInfo() reports for the GPU backend. Opens NVML on first use. */
export function gpuBackendInfo(): ProbeInfo['gpu'] {
  const b = current();
  if (b.kind === 'nvml') {
    return {
      backend: 'nvml',
      ...(b.open.driverVersion ? { driverVersion: b.open.driverVersion } : {}),
      library: b.open.path,
    };
  }
  return { backend: b.kind, reason: b.reason, ...(b.library !== undefined ? { library: b.library } : {}) };
}

/**
 * The NVML library the native sampler must open to share this thread's
 * NVML (the path this probe opened), or null when NVML is not the backend.
 */
export function nvmlLibraryForSampler(): string | null {
  const b = current();
  return b.kind === 'nvml' ? b.open.path : null;
}

/** NVML details (API versions in use) for diagnostics; null when NVML is not the backend. */
export function nvmlDetails(): NvmlOpenResult | null {
  const b = current();
  return b.kind === 'nvml' ? { ...b.open } : null;
}

function warnLost(gpuId: number, name: string | null, uuid: string | null): void {
  const key = uuid ?? `#${gpuId}`;
  if (warnedLost.has(key)) return;
  warnedLost.add(key);
  process.emitWarning(
    `perfprobe: GPU ${gpuId}${name ? ` (${name}${uuid ? `, ${uuid}` : ''})` : ''} was lost ` +
      '(NVML_ERROR_GPU_IS_LOST): its readings are null from now on; the other GPUs and the sampler keep running.',
    { code: WarningCode.gpuLost },
  );
}

/**
 * Warns once per lost GPU found in a sampler batch (status slot = lost).
 * The sampler's consumers call it on each drained batch; cheap (one slot per GPU per record).
 */
export function noteSampledGpuStatus(batch: SampleBatch): void {
  const { count, gpuCount, recordSlots, data } = batch;
  if (gpuCount === 0 || count === 0) return;
  const last = (count - 1) * recordSlots;
  const n = Math.min(gpuCount, data[last + HeaderSlot.gpuCount] ?? gpuCount);
  for (let g = 0; g < n; g++) {
    if (data[last + RECORD_GPU_OFFSET + g * GPU_SLOTS] === GpuStatusCode.lost) {
      const statics = backend?.kind === 'nvml' ? backend.devices[g] : undefined;
      warnLost(g, statics?.name ?? null, statics?.uuid ?? null);
    }
  }
}

function unavailable(reason: string): Error {
  return codedError(ErrorCode.nvmlUnavailable, `NVML is not available: ${reason}`, {});
}

/** The open NVML's functions and devices (for ./gpu-watch.ts); throws ERR_PERFPROBE_NVML_UNAVAILABLE when NVML is not in use. */
export function openNvml(): { fns: NvmlFunctions; devices: NvmlDeviceStatic[] } {
  const b = current();
  if (b.kind !== 'nvml') throw unavailable(b.reason);
  return b;
}

function deepFreeze<T extends object>(list: T[]): T[] {
  for (const x of list) {
    const devices = (x as { devices?: object[] }).devices;
    if (Array.isArray(devices)) deepFreeze(devices);
    Object.freeze(x);
  }
  return Object.freeze(list) as T[];
}

/**
 * Reads every device's process table and MIG now (nvmlReadDetailed). Several
 * NVML list calls and a /proc read per process: made at most once per
 * GPU_DETAILS_REFRESH_MS. Its blocks go to a scratch buffer: every reading's
 * block comes from nvmlRead, so processGpuMemoryMb always means the same
 * (this process on the compute list) whether or not a details read was due.
 */
function readDetails(b: Extract<Backend, { kind: 'nvml' }>, now: number): Details {
  const raw = b.fns.nvmlReadDetailed(b.detailsBuffer);
  const details: Details = {
    at: now,
    processes: raw.map((d) => deepFreeze(decodeProcesses(d.processes as never))),
    mig: raw.map((d) => {
      const m = decodeMig(d.mig as never);
      if (m) {
        deepFreeze(m.devices);
        Object.freeze(m);
      }
      return m;
    }),
  };
  b.details = details;
  return details;
}

/**
 * One reading per NVML device, synchronously (microseconds). NVML only.
 *
 * The per-sample fields are read on every call; `processes` and `mig` come
 * from a details read made on the first call and then at most once per
 * GPU_DETAILS_REFRESH_MS (like PCIe link and ECC, refreshed natively at most
 * once a second): a process that starts shows within a second, and
 * per-process utilization is the newest sample since the previous details
 * read. Between details reads the readings share the same frozen
 * `processes` arrays and `mig` objects.
 */
export function readGpusSync(): GpuReading[] {
  const b = current();
  if (b.kind !== 'nvml') throw unavailable(b.reason);
  // One clock read: the sample's time (its start) and the details' age.
  const timestamp = Date.now();
  let d = b.details;
  if (d === null || timestamp - d.at >= config.detailsRefreshMs || timestamp < d.at) d = readDetails(b, timestamp);
  const n = b.fns.nvmlRead(b.buffer);
  const out: GpuReading[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const reading = decodeGpuBlock(b.buffer, i * GPU_SLOTS, i, timestamp, b.devices[i] ?? null, d.processes[i] ?? null, d.mig[i] ?? null);
    if (reading.status === 'lost') warnLost(i, reading.name, reading.uuid);
    out[i] = reading;
  }
  return out;
}

export interface GpuPcieThroughput {
  gpuId: number;
  /** KB/s sent over PCIe in NVML's ~20 ms window; null when unsupported or lost. */
  txKBps: number | null;
  /** KB/s received. */
  rxKBps: number | null;
}

/**
 * PCIe throughput of every GPU (nvmlDeviceGetPcieThroughput), on request:
 * NVML waits out a ~20 ms window per counter, so the reads run on the libuv
 * thread pool and the event loop never waits. Never sampled. Rejects with
 * ERR_PERFPROBE_NVML_UNAVAILABLE without NVML.
 */
export async function readGpuPcieThroughput(): Promise<GpuPcieThroughput[]> {
  const b = current();
  if (b.kind !== 'nvml') throw unavailable(b.reason);
  const values = await b.fns.nvmlPcieThroughput();
  return values.map((v) => ({
    gpuId: v.index,
    txKBps: Number.isNaN(v.txKBps) ? null : v.txKBps,
    rxKBps: Number.isNaN(v.rxKBps) ? null : v.rxKBps,
  }));
}

/**
 * One reading per GPU: NVML when available, else systeminformation graphics()
 * (in a worker, with a timeout; cached for fallbackCacheMs). Resolves [] when
 * GPU probing is off; rejects only when the fallback fails or times out.
 */
export async function readGpus(): Promise<GpuReading[]> {
  const b = current();
  if (b.kind === 'nvml') return readGpusSync();
  if (b.kind === 'none') return [];
  const now = Date.now();
  if (fallbackCache && now - fallbackCache.at < config.fallbackCacheMs) return fallbackCache.readings;
  const readings = siGraphicsControllers(config.fallbackTimeoutMs).then((c) => mapSiControllers(c, Date.now()));
  fallbackCache = { at: now, readings };
  readings.catch(() => {
    if (fallbackCache?.readings === readings) fallbackCache = null;
  });
  return readings;
}

/** Static facts of each NVML device (read once at open). [] when NVML is not the backend. */
export function gpuStaticInfo(): GpuStaticInfo[] {
  const b = current();
  if (b.kind !== 'nvml') return [];
  return b.devices.map((d) => ({
    gpuId: d.index,
    name: d.name,
    uuid: d.uuid,
    memoryTotalMb: Number.isNaN(d.memoryTotalBytes) ? null : d.memoryTotalBytes / BYTES_PER_MB,
    powerLimitWatts: Number.isNaN(d.powerLimitMilliwatts) ? null : d.powerLimitMilliwatts / 1000,
  }));
}

/**
 * Total energy of each GPU since the driver loaded (nvmlDeviceGetTotalEnergyConsumption).
 * Costs ~4 ms per GPU on real drivers: read it at the start and the end of a
 * run (the difference is the run's exact energy), never per sample.
 */
export function readGpuEnergy(): GpuEnergyReading[] {
  const b = current();
  if (b.kind !== 'nvml') throw unavailable(b.reason);
  return b.devices.map((d) => {
    const mj = b.fns.nvmlEnergy(d.index);
    return { gpuId: d.index, energyMillijoules: Number.isNaN(mj) ? null : mj };
  });
}
