/**
 * The GPU part of the dashboard's SSE payload that records do not carry:
 * each GPU as it is now (P-state, why the clocks are held down, memory
 * temperature, PCIe, ECC, MIG, the top processes: nvitop's table) read live
 * through the source's probes when NVML is the backend, and the GPU events
 * the collector recorded while monitoring, each with a short meaning.
 */
import { describedGpuEvent, type DescribedGpuEvent, type GpuEvent } from '../probes/gpu-events.js';
import type { GpuEccErrors, GpuProcessType, GpuReading } from '../schema/gpu.js';

/** What the stream reads for these (a collector has them; a bare StreamSource may not). */
export interface GpuStreamSource {
  readonly probes?: { readGpusSync(): GpuReading[] };
  readonly config?: { readonly enableGpuTracking?: boolean };
  getGpuEvents?(query?: { since?: number }): GpuEvent[];
}

/** A GPU as it is now (the dashboard's device cards). */
export interface GpuDeviceRow {
  gpuId: number;
  name: string | null;
  status: string;
  performanceState: number | null;
  clocksEventReasons: readonly string[] | null;
  memoryTemperatureCelsius: number | null;
  pcieLinkGeneration: number | null;
  pcieLinkWidth: number | null;
  eccErrors: GpuEccErrors | null;
  mig: { currentMode: boolean; devices: number } | null;
  /** The processes using the most GPU memory, at most DEVICE_PROCESSES of them; `more` counts the rest. */
  processes: Array<{ pid: number; name: string | null; type: GpuProcessType; usedMemoryMb: number | null; smUtilPercent: number | null }>;
  more: number;
}

/** A recorded GPU event, with its meaning (`Xid 79 (GPU fell off the bus: ...)`). */
export interface GpuEventRow extends DescribedGpuEvent {
  timestamp: number;
}

export const DEVICE_PROCESSES = 8;
/** How long a failed live read keeps the stream from trying again, ms (no NVML: it throws every time). */
const LIVE_RETRY_MS = 30_000;

export function gpuEventRows(source: GpuStreamSource, since: number | undefined, max: number): GpuEventRow[] {
  if (!source.getGpuEvents || source.config?.enableGpuTracking === false) return [];
  const events = source.getGpuEvents(since === undefined ? undefined : { since });
  return events.slice(-max).map((e) => ({ timestamp: e.timestamp, ...describedGpuEvent(e) }));
}

/** Live device rows for one stream (remembers a failed read, so a machine without NVML is not asked every second). */
export function gpuDeviceReader(source: GpuStreamSource): () => GpuDeviceRow[] {
  let failedAt = -Infinity;
  return () => {
    const read = source.probes?.readGpusSync;
    if (!read || source.config?.enableGpuTracking === false || Date.now() - failedAt < LIVE_RETRY_MS) return [];
    let readings: GpuReading[];
    try {
      readings = read.call(source.probes);
    } catch {
      failedAt = Date.now();
      return [];
    }
    return readings.map((g) => {
      const top = [...g.processes].sort((a, b) => (b.usedMemoryMb ?? -1) - (a.usedMemoryMb ?? -1)).slice(0, DEVICE_PROCESSES);
      return {
        gpuId: g.gpuId,
        name: g.name,
        status: g.status,
        performanceState: g.performanceState,
        clocksEventReasons: g.clocksEventReasons,
        memoryTemperatureCelsius: g.memoryTemperatureCelsius,
        pcieLinkGeneration: g.pcieLinkGeneration,
        pcieLinkWidth: g.pcieLinkWidth,
        eccErrors: g.eccErrors,
        mig: g.mig ? { currentMode: g.mig.currentMode, devices: g.mig.devices.length } : null,
        processes: top.map((p) => ({ pid: p.pid, name: p.name, type: p.type, usedMemoryMb: p.usedMemoryMb, smUtilPercent: p.smUtilPercent })),
        more: g.processes.length - top.length,
      };
    });
  };
}
