/**
 * GPU fallback through systeminformation's graphics(), for when NVML is not
 * available. systeminformation runs nvidia-smi and lspci synchronously, so it
 * runs here in a worker thread (the event loop never blocks) under a timeout
 * (the worker is terminated when it runs over). Every field it does not give
 * is null: its values are taken one by one as numbers, never through its
 * truthy-only merge, never 0 for missing. Of the GPU-depth fields it gives only
 * the memory temperature (temperature.memory); the rest are null. Never call
 * this on a hot path.
 */
import { Worker } from 'node:worker_threads';
import type { GpuReading } from './types.js';

export const DEFAULT_FALLBACK_TIMEOUT_MS = 5000;

/** The subset of a systeminformation graphics controller this maps. */
export interface SiController {
  vendor?: unknown;
  model?: unknown;
  name?: unknown;
  vram?: unknown;
  memoryTotal?: unknown;
  memoryUsed?: unknown;
  memoryFree?: unknown;
  utilizationGpu?: unknown;
  utilizationMemory?: unknown;
  temperatureGpu?: unknown;
  temperatureMemory?: unknown;
  powerDraw?: unknown;
  powerLimit?: unknown;
  clockCore?: unknown;
  clockMemory?: unknown;
  fanSpeed?: unknown;
  driverVersion?: unknown;
}

function n(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function s(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/** NVIDIA controllers only: gpuId must number GPUs as nvidia-smi does, not display adapters. */
export function isNvidiaController(c: SiController): boolean {
  return /nvidia/i.test(`${s(c.vendor) ?? ''} ${s(c.model) ?? ''} ${s(c.name) ?? ''}`);
}

/**
 * systeminformation controllers into GpuReading (null for everything not
 * given). Only NVIDIA controllers are kept, numbered in the order listed.
 */
export function mapSiControllers(controllers: readonly SiController[], timestamp: number): GpuReading[] {
  return controllers.filter(isNvidiaController).map((c, gpuId) => {
    // memoryTotal comes from nvidia-smi (MiB); vram from lspci/others (MiB), 0 when unknown.
    const vram = n(c.vram);
    const total = n(c.memoryTotal) ?? (vram !== null && vram > 0 ? vram : null);
    const used = n(c.memoryUsed);
    return {
      timestamp,
      gpuId,
      name: s(c.model) ?? s(c.name),
      uuid: null,
      loadPercent: n(c.utilizationGpu),
      memoryUtilPercent: n(c.utilizationMemory),
      memoryTotalMb: total,
      memoryUsedMb: used,
      memoryReservedMb: null,
      memoryFreeMb: n(c.memoryFree),
      memoryPercent: used !== null && total !== null && total > 0 ? (used / total) * 100 : null,
      temperatureCelsius: n(c.temperatureGpu),
      powerWatts: n(c.powerDraw),
      powerLimitWatts: n(c.powerLimit),
      smClockMhz: n(c.clockCore),
      memoryClockMhz: n(c.clockMemory),
      fanPercent: n(c.fanSpeed),
      // nvidia-smi's query (as systeminformation runs it) has no P-state, throttle reasons, codecs, PCIe or ECC.
      performanceState: null,
      clocksEventReasons: null,
      memoryTemperatureCelsius: n(c.temperatureMemory),
      encoderUtilPercent: null,
      decoderUtilPercent: null,
      pcieLinkGeneration: null,
      pcieLinkWidth: null,
      eccErrors: null,
      processGpuMemoryMb: null,
      processes: [],
      mig: null,
      status: 'ok',
    };
  });
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const si = require(workerData.module);
si.graphics().then(
  (g) => parentPort.postMessage({ ok: true, controllers: g.controllers || [] }),
  (e) => parentPort.postMessage({ ok: false, error: String(e && e.message || e) }),
);
`;

/** Runs systeminformation graphics() in a worker; rejects on error or timeout. */
export function siGraphicsControllers(timeoutMs = DEFAULT_FALLBACK_TIMEOUT_MS): Promise<SiController[]> {
  let modulePath: string;
  try {
    modulePath = require.resolve('systeminformation');
  } catch {
    return Promise.reject(new Error('systeminformation is not installed'));
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: modulePath } });
    let settled = false;
    const finish = (err: Error | null, value?: SiController[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve(value ?? []);
    };
    const timer = setTimeout(
      () => finish(new Error(`systeminformation graphics() took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    worker.on('message', (m: { ok: boolean; controllers?: SiController[]; error?: string }) =>
      m.ok ? finish(null, m.controllers) : finish(new Error(`systeminformation graphics() failed: ${m.error}`)));
    worker.on('error', (e) => finish(e));
    worker.on('exit', (code) => finish(new Error(`systeminformation worker exited with code ${code}`)));
  });
}
