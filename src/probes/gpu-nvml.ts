/**
 * The NVML functions the addon registers (native/gpu/gpu_exports.cc), and the
 * decoding of their raw blocks (bytes, mW, NaN = unsupported) into
 * GpuReading (MiB, W, null). Units and nulls are decided here, not in C++.
 */
import type { NativeAddon } from '../native/binding.js';
import { BYTES_PER_MB, GPU_SLOTS, GpuSlot } from './layout.js';
import type { GpuProcess, GpuReading, GpuStatus } from './types.js';

export interface NvmlOpenResult {
  ok: boolean;
  /** The library opened or tried. */
  path: string;
  deviceCount: number;
  error?: string;
  /** e.g. NVML_ERROR_LIBRARY_NOT_FOUND, NVML_ERROR_DRIVER_NOT_LOADED. */
  errorName?: string;
  errorCode?: number;
  driverVersion?: string | null;
  nvmlVersion?: string | null;
  /** nvmlInit_v2 or nvmlInit. */
  initSymbol?: string;
  /** 2 = nvmlDeviceGetMemoryInfo_v2, 1 = v1 only, 0 = none. */
  memoryApi?: number;
  /** Which nvmlDeviceGetComputeRunningProcesses (3, 2, 1; 0 = none). */
  processApi?: number;
  /** The 535.43-535.86 _v3 struct layout is in use. */
  processDrift?: boolean;
}

export interface NvmlDeviceStatic {
  index: number;
  name: string | null;
  uuid: string | null;
  memoryTotalBytes: number;
  powerLimitMilliwatts: number;
  /** NVML error name when no handle could be had for the device, else null. */
  handleError: string | null;
}

export interface NvmlFunctions {
  /** Opens `path` ('' = the platform's default name); a second open in this environment returns the open library's info. */
  nvmlOpen(path: string): NvmlOpenResult;
  nvmlClose(): void;
  nvmlDevices(): NvmlDeviceStatic[];
  nvmlRead(out: Float64Array, processes?: Array<Float64Array | null>): number;
  nvmlProcesses(index: number): Float64Array | null;
  nvmlEnergy(index: number): number;
  nvmlErrorName(code: number): string;
  nvmlLastError(index: number): string;
}

const NAMES = ['nvmlOpen', 'nvmlClose', 'nvmlDevices', 'nvmlRead', 'nvmlProcesses', 'nvmlEnergy', 'nvmlErrorName', 'nvmlLastError'] as const;

/** The addon's NVML functions, or null when this build lacks them. */
export function nvmlFunctions(addon: NativeAddon | null): NvmlFunctions | null {
  if (!addon) return null;
  for (const name of NAMES) if (typeof addon[name] !== 'function') return null;
  return addon as unknown as NvmlFunctions;
}

const STATUS: readonly GpuStatus[] = ['ok', 'lost', 'error'];

function num(v: number | undefined): number | null {
  return v === undefined || Number.isNaN(v) ? null : v;
}

function mb(bytes: number | undefined): number | null {
  return bytes === undefined || Number.isNaN(bytes) ? null : bytes / BYTES_PER_MB;
}

function watts(mw: number | undefined): number | null {
  return mw === undefined || Number.isNaN(mw) ? null : mw / 1000;
}

/** Status code of a kGpuStatus slot. */
export function gpuStatusOf(code: number): GpuStatus {
  return STATUS[code] ?? 'error';
}

/** [pid, bytes, pid, bytes, ...] into GpuProcess objects (MiB; null when NVML does not say). */
export function decodeProcesses(pairs: Float64Array | null | undefined): GpuProcess[] {
  const out: GpuProcess[] = [];
  if (!pairs) return out;
  for (let i = 0; i + 1 < pairs.length; i += 2) out.push({ pid: pairs[i]!, usedMemoryMb: mb(pairs[i + 1]) });
  return out;
}

/**
 * One GPU block (GPU_SLOTS doubles at `offset`, as the sampler records and
 * nvmlRead write them) into a GpuReading. `statics` gives name and uuid.
 */
export function decodeGpuBlock(
  data: Float64Array,
  offset: number,
  gpuId: number,
  timestamp: number,
  statics?: { name: string | null; uuid: string | null } | null,
  processes?: GpuProcess[],
): GpuReading {
  const used = mb(data[offset + GpuSlot.memoryUsedBytes]);
  const total = mb(data[offset + GpuSlot.memoryTotalBytes]);
  return {
    timestamp,
    gpuId,
    name: statics?.name ?? null,
    uuid: statics?.uuid ?? null,
    loadPercent: num(data[offset + GpuSlot.loadPercent]),
    memoryUtilPercent: num(data[offset + GpuSlot.memoryUtilPercent]),
    memoryTotalMb: total,
    memoryUsedMb: used,
    memoryReservedMb: mb(data[offset + GpuSlot.memoryReservedBytes]),
    memoryFreeMb: mb(data[offset + GpuSlot.memoryFreeBytes]),
    memoryPercent: used !== null && total !== null && total > 0 ? (used / total) * 100 : null,
    temperatureCelsius: num(data[offset + GpuSlot.temperatureC]),
    powerWatts: watts(data[offset + GpuSlot.powerMilliwatts]),
    powerLimitWatts: watts(data[offset + GpuSlot.powerLimitMilliwatts]),
    smClockMhz: num(data[offset + GpuSlot.smClockMhz]),
    memoryClockMhz: num(data[offset + GpuSlot.memoryClockMhz]),
    fanPercent: num(data[offset + GpuSlot.fanPercent]),
    processGpuMemoryMb: mb(data[offset + GpuSlot.processMemoryBytes]),
    processes: processes ?? [],
    status: gpuStatusOf(data[offset + GpuSlot.status] ?? 2),
  };
}

export { GPU_SLOTS };
