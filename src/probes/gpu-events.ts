/**
 * GPU events as watchGpuEvents() hands them over: Xid critical errors,
 * single- and double-bit ECC errors and clock-event changes, from the
 * addon's native event thread (native/gpu/gpu_events.h). Here: the event
 * shape, the NVML event bits, and a short meaning for the Xids users meet
 * most (written for perfprobe from NVIDIA's Xid catalog,
 * docs.nvidia.com/deploy/xid-errors: the catalog is the reference, these
 * are reminders).
 */
import { clocksEventReasonNames } from './decode.js';
import type { NvmlEvent } from './gpu-nvml.js';

export type GpuEventType = 'xid' | 'ecc_single_bit' | 'ecc_double_bit' | 'clocks_event';

export interface GpuEvent {
  /** When the native thread received it, ms since the Unix epoch. */
  timestamp: number;
  gpuId: number;
  uuid: string | null;
  type: GpuEventType;
  /** Xid events: the Xid (999 = the driver did not say which). */
  xid?: number;
  /** clocks_event: the reasons now (CLOCKS_EVENT_REASONS names), null when unreadable. */
  reasons?: readonly string[] | null;
  /** MIG attribution of an Xid; null when none. */
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
}

/** Xid errors of one GPU and Xid, counted while monitoring (src/store/gpu-events.ts). */
export interface GpuXidCount {
  gpuId: number;
  uuid: string | null;
  xid: number;
  count: number;
  /** When the newest of them arrived, ms since the epoch. */
  lastTimestamp: number;
}

/** nvmlEventType bits of the events watched, and their names. */
export const GPU_EVENT_BITS: ReadonlyArray<readonly [number, GpuEventType]> = Object.freeze([
  [0x1, 'ecc_single_bit'],
  [0x2, 'ecc_double_bit'],
  [0x8, 'xid'],
  [0x10, 'clocks_event'],
] as const);

const nn = (x: number): number | null => (typeof x === 'number' && x === x ? x : null);

/** A native event as a GpuEvent. */
export function gpuEventFromNative(e: NvmlEvent): GpuEvent {
  const out: GpuEvent = { timestamp: e.timestamp, gpuId: e.gpuId, uuid: e.uuid, type: e.type, gpuInstanceId: nn(e.gpuInstanceId), computeInstanceId: nn(e.computeInstanceId) };
  if (e.type === 'xid') out.xid = e.xid ?? e.eventData;
  if (e.type === 'clocks_event') out.reasons = clocksEventReasonNames(e.reasons ?? NaN);
  return out;
}

/** Short meanings of the common Xids (NVIDIA's Xid catalog has them all, with what to do). */
export const XID_MEANINGS: Readonly<Record<number, string>> = Object.freeze({
  13: 'graphics engine exception: a kernel faulted (out-of-range access, illegal instruction); usually the application',
  31: 'GPU memory page fault: an invalid memory access, usually by the application',
  43: "GPU stopped processing: the faulting application's work was stopped; the GPU is fine",
  45: 'preemptive cleanup: the driver ended a context after an earlier error or a killed process',
  48: 'double-bit ECC error: uncorrectable memory error; reset the GPU',
  63: 'ECC page retirement or row remapping recorded: memory was repaired; watch for repeats',
  64: 'ECC page retirement or row remapping failed: the GPU needs service',
  74: 'NVLink error: a link between GPUs failed; check the link and reset the GPU',
  79: 'GPU fell off the bus: it no longer answers on PCIe; a reboot and hardware check are needed',
  92: 'high single-bit ECC error rate: memory is degrading',
  94: 'contained ECC error: an uncorrectable error hit only the affected applications; restart them',
  95: 'uncontained ECC error: every application on the GPU is affected; reset the GPU',
  119: 'GSP RPC timeout: the GPU System Processor stopped answering; reset the GPU or reload the driver',
});

/** The short meaning of an Xid, or null for the less common ones (look them up in NVIDIA's catalog). */
export function xidMeaning(xid: number): string | null {
  return XID_MEANINGS[xid] ?? null;
}

/** One line for an event: `Xid 79 (GPU fell off the bus: ...)`, `double-bit ECC error`, `clocks: sw_power_cap`. */
export function describeGpuEvent(e: Pick<GpuEvent, 'type' | 'xid' | 'reasons'>): string {
  switch (e.type) {
    case 'xid': {
      const meaning = e.xid === undefined ? null : xidMeaning(e.xid);
      return `Xid ${e.xid ?? '?'}${meaning ? ` (${meaning})` : ''}`;
    }
    case 'ecc_single_bit':
      return 'single-bit ECC error (corrected)';
    case 'ecc_double_bit':
      return 'double-bit ECC error (uncorrected)';
    case 'clocks_event':
      return `clock change: ${e.reasons == null ? 'reasons unknown' : e.reasons.length ? e.reasons.join(', ') : 'no reason (full clocks)'}`;
  }
}

/** An event as reports show it: nulls for what it lacks, and its one-line meaning. */
export interface DescribedGpuEvent {
  gpuId: number;
  uuid: string | null;
  type: GpuEventType;
  xid: number | null;
  reasons: readonly string[] | null;
  /** describeGpuEvent(): `Xid 79 (GPU fell off the bus: ...)`, `double-bit ECC error (uncorrected)`, ... */
  text: string;
}

/** The fields of `e` that perfprobe run's summary and the dashboard stream show. */
export function describedGpuEvent(e: GpuEvent): DescribedGpuEvent {
  return { gpuId: e.gpuId, uuid: e.uuid, type: e.type, xid: e.xid ?? null, reasons: e.reasons ?? null, text: describeGpuEvent(e) };
}
