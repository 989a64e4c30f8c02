// Shared by the collector tests: stand-in probes, a GPU reading, an argument-error matcher, and a child process runner.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { CollectorProbes } from '../../src/index.js';
import type { GpuReading, SampleBatch, SamplerOptions } from '../../src/probes/index.js';
import { HANG_GUARD_MS } from './hang-guard.js';

export const root = join(__dirname, '..', '..');
/** Probes with no GPU backend (so no NVML is opened). */
export const noGpu = { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' as const }, gpu: { backend: 'none' as const } }) };
export const quiet = { probes: noGpu };

export function gpuReading(gpuId: number, over: Partial<GpuReading> = {}): GpuReading {
  return {
    timestamp: Date.now(), gpuId, name: 'Fake', uuid: null, loadPercent: 50 + gpuId, memoryUtilPercent: null,
    memoryTotalMb: 1000, memoryUsedMb: 250, memoryReservedMb: null, memoryFreeMb: null, memoryPercent: 25,
    temperatureCelsius: 60, powerWatts: 300, powerLimitWatts: null, smClockMhz: null, memoryClockMhz: null,
    fanPercent: null, performanceState: null, clocksEventReasons: null, memoryTemperatureCelsius: null, encoderUtilPercent: null,
    decoderUtilPercent: null, pcieLinkGeneration: null, pcieLinkWidth: null, eccErrors: null, processGpuMemoryMb: null, processes: [],
    mig: null, status: 'ok', ...over,
  };
}

export function expectArgError(fn: () => unknown, field: string, kind: typeof TypeError | typeof RangeError): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${String(e)}`);
    assert.equal((e as { field?: string }).field, field);
    assert.match((e as Error).message, new RegExp(`^${field.replace(/[[\].]/g, '\\$&')} must be`));
    return true;
  });
}

/** A stand-in sampler that hands out prepared batches. */
export function fakeSampler(batches: SampleBatch[], log: SamplerOptions[]): CollectorProbes['Sampler'] {
  return class {
    running = false;
    constructor(readonly options: SamplerOptions) { log.push(options); }
    start(): void { this.running = true; }
    stop(): void { this.running = false; }
    drain(): SampleBatch { return batches.shift() ?? { count: 0, gpuCount: 0, recordSlots: 0, data: new Float64Array(0), droppedTotal: 0 }; }
  };
}

export function runChild(code: string, env: Record<string, string> = {}, signal = false): { status: number | null; signal: string | null; stdout: string; stderr: string; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-child-'));
  const file = join(dir, 'child.mts');
  writeFileSync(file, code.replaceAll('@SRC@', JSON.stringify(join(root, 'src/index.ts'))));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root, env: { ...process.env, ...env, EXPORT_DIR: dir }, encoding: 'utf8', timeout: HANG_GUARD_MS, killSignal: 'SIGKILL',
  });
  const out = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0, dir };
  void signal;
  return out as never;
}
