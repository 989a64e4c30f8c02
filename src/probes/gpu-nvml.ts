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
  /** Which nvmlDeviceGetGraphicsRunningProcesses (3, 2, 1; 0 = none). */
  graphicsProcessApi?: number;
  /** 'nvmlDeviceGetTemperatureV', 'nvmlDeviceGetTemperature' or '' (none). */
  temperatureApi?: string;
  /** 'nvmlDeviceGetCurrentClocksEventReasons', the older '...ClocksThrottleReasons', or ''. */
  clocksReasonsSymbol?: string;
  /** 2 = nvmlEventSetWait_v2, 1 = nvmlEventSetWait, 0 = none. */
  eventWaitApi?: number;
}

/** One entry of a native process table (nvmlReadDetailed): NVML units, NaN = unknown. */
export interface NvmlProcessDetail {
  pid: number;
  usedBytes: number;
  type: 'compute' | 'graphics' | 'compute+graphics';
  name: string | null;
  smUtil: number;
  memUtil: number;
  encUtil: number;
  decUtil: number;
  utilTimestampUs: number;
  gpuInstanceId: number;
  computeInstanceId: number;
}

/** A native MIG object (nvmlReadDetailed). */
export interface NvmlMig {
  currentMode: boolean;
  pendingMode: boolean;
  devices: Array<{ index: number; uuid: string | null; gpuInstanceId: number; computeInstanceId: number; memoryTotalBytes: number; memoryUsedBytes: number }>;
}

/** What nvmlReadDetailed gives per device besides the block. `*Error`: NVML error names, null when that read succeeded. */
export interface NvmlDetails {
  /** null when neither process list is supported. */
  processes: NvmlProcessDetail[] | null;
  computeError: string | null;
  graphicsError: string | null;
  /** NVML_ERROR_NOT_FOUND: no utilization sample since the previous read. */
  utilError: string | null;
  /** null on GPUs without MIG. */
  mig: NvmlMig | null;
  migError: string | null;
}

/** A native GPU event (gpu_event_exports.cc). */
export interface NvmlEvent {
  /** ms since the epoch. */
  timestamp: number;
  gpuId: number;
  uuid: string | null;
  type: 'xid' | 'ecc_single_bit' | 'ecc_double_bit' | 'clocks_event';
  eventType: number;
  eventData: number;
  xid?: number;
  /** clocks_event only: the reasons bitmask at delivery, NaN when unreadable. */
  reasons?: number;
  gpuInstanceId: number;
  computeInstanceId: number;
}

/** The native watcher (NvmlEventWatcher). */
export interface NvmlEventWatcherHandle {
  readonly running: boolean;
  readonly registered: Array<{ gpuId: number; uuid: string | null; eventTypes: number }>;
  readonly unregistered: Array<{ gpuId: number; uuid: string | null; errorName: string; errorCode: number }>;
  readonly waitApi: string;
  readonly openError?: string;
  stats(): { running: boolean; delivered: number; dropped: number; waitErrors: number };
  ref(): void;
  unref(): void;
  close(): void;
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
  /** Fills the blocks as nvmlRead does, plus each device's process table and MIG (several list calls per device: on request only). */
  nvmlReadDetailed(out: Float64Array): NvmlDetails[];
  /** KB/s per device over NVML's ~20 ms window, read on the libuv pool; NaN when unsupported. */
  nvmlPcieThroughput(): Promise<Array<{ index: number; txKBps: number; rxKBps: number }>>;
  /** A native thread blocked in nvmlEventSetWait; the listener runs on this thread's event loop. */
  nvmlWatchEvents(listener: (event: NvmlEvent) => void): NvmlEventWatcherHandle;
}

const NAMES = [
  'nvmlOpen',
  'nvmlClose',
  'nvmlDevices',
  'nvmlRead',
  'nvmlProcesses',
  'nvmlEnergy',
  'nvmlErrorName',
  'nvmlLastError',
  'nvmlReadDetailed',
  'nvmlPcieThroughput',
  'nvmlWatchEvents',
] as const;

/** The addon's NVML functions, or null when this build lacks them. */
export function nvmlFunctions(addon: NativeAddon | null): NvmlFunctions | null {
  if (!addon) return null;
  for (const name of NAMES) if (typeof addon[name] !== 'function') return null;
  return addon as unknown as NvmlFunctions;
}

