/**
 * The NVML functions the addon registers (native/gpu/gpu_exports.cc). They
 * hand over raw blocks (bytes, mW, NaN = unsupported); ./decode.ts turns
 * them into GpuReading (MiB, W, null).
 */
import type { NativeAddon } from '../native/binding.js';

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
  /** Opens `path` ('' = the platform's default library name); a second open in this environment returns the open library's info. */
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

