/**
 * watchGpuEvents(): Xid, ECC and clock events of every GPU from the addon's
 * native event thread (native/gpu/gpu_events.h), handed to this thread's
 * event loop; the event shape and its meanings are in ./gpu-events.ts.
 */
import { WarningCode, typeError } from '../errors.js';
import { GPU_EVENT_BITS, gpuEventFromNative, type GpuEvent, type GpuEventType } from './gpu-events.js';
import type { NvmlDeviceStatic } from './gpu-nvml.js';
import { openNvml } from './gpu.js';

/** A running watchGpuEvents(): stop it with close(). */
export interface GpuEventWatcher {
  /** True while the native thread waits for events (false when no GPU could register, and after close()). */
  readonly running: boolean;
  /** The GPUs watched and the event types each registered. */
  readonly registered: ReadonlyArray<{ gpuId: number; uuid: string | null; eventTypes: GpuEventType[] }>;
  /** The GPUs that could not register, with NVML's reason (each reported once by a PERFPROBE_GPU_EVENTS_UNAVAILABLE warning). */
  readonly unregistered: ReadonlyArray<{ gpuId: number; uuid: string | null; errorName: string }>;
  /** Events handed over, dropped (the listener fell more than 4,096 events behind), and failed waits. */
  stats(): { delivered: number; dropped: number; waitErrors: number };
  /** Keep the process (or worker) alive while watching; by default a watcher never does. */
  ref(): this;
  unref(): this;
  /** Stops and joins the native thread (within ~20 ms, even while it is blocked in NVML). Idempotent. */
  close(): void;
}

const warnedEvents = new Set<string>();

function warnUnregistered(list: ReadonlyArray<{ gpuId: number; uuid: string | null; errorName: string }>, devices: NvmlDeviceStatic[]): void {
  const fresh = list.filter((u) => {
    const key = u.uuid ?? `#${u.gpuId}`;
    if (warnedEvents.has(key)) return false;
    warnedEvents.add(key);
    return true;
  });
  if (fresh.length === 0) return;
  const what = fresh
    .map((u) => {
      const name = devices[u.gpuId]?.name;
      return `GPU ${u.gpuId}${name ? ` (${name}${u.uuid ? `, ${u.uuid}` : ''})` : ''}: ${u.errorName}`;
    })
    .join('; ');
  process.emitWarning(
    `perfprobe: ${fresh.length === 1 ? 'a GPU cannot' : `${fresh.length} GPUs cannot`} report NVML events (Xid, ECC, clock changes), so ` +
      `${fresh.length === 1 ? 'its events are' : 'their events are'} not watched (the other GPUs are): ${what}`,
    { code: WarningCode.gpuEventsUnavailable },
  );
}

function eventTypesOf(mask: number): GpuEventType[] {
  const out: GpuEventType[] = [];
  for (const [bit, type] of GPU_EVENT_BITS) if (Math.floor(mask / bit) % 2 === 1) out.push(type);
  return out;
}

/**
 * Calls `listener` for every Xid error, single- and double-bit ECC error
 * and (where the GPU supports it) clock-event change of every GPU: a native
 * thread blocks in nvmlEventSetWait and hands each event to this thread's
 * event loop; nothing polls. A GPU that cannot register is reported once
 * (a PERFPROBE_GPU_EVENTS_UNAVAILABLE warning), not thrown. The watcher
 * never keeps the process alive (ref() to make it). A listener that throws
 * raises 'uncaughtException', as an EventEmitter listener would. NVML only
 * (throws ERR_PERFPROBE_NVML_UNAVAILABLE otherwise).
 */
export function watchGpuEvents(listener: (event: GpuEvent) => void): GpuEventWatcher {
  if (typeof listener !== 'function') throw typeError('listener', 'a function', listener);
  const b = openNvml();
  const native = b.fns.nvmlWatchEvents((e) => listener(gpuEventFromNative(e)));
  const unregistered = Object.freeze(native.unregistered.map((u) => Object.freeze({ gpuId: u.gpuId, uuid: u.uuid, errorName: u.errorName })));
  warnUnregistered(unregistered, b.devices);
  const registered = Object.freeze(
    native.registered.map((r) => Object.freeze({ gpuId: r.gpuId, uuid: r.uuid, eventTypes: eventTypesOf(r.eventTypes) })),
  );
  const watcher: GpuEventWatcher = {
    get running() {
      return native.running;
    },
    registered,
    unregistered,
    stats() {
      const s = native.stats();
      return { delivered: s.delivered, dropped: s.dropped, waitErrors: s.waitErrors };
    },
    ref() {
      native.ref();
      return watcher;
    },
    unref() {
      native.unref();
      return watcher;
    },
    close() {
      native.close();
    },
  };
  return watcher;
}
