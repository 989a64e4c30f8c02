/**
 * Bridge for OpenTelemetry users: registers perfprobe's metrics as
 * observable instruments on an `@opentelemetry/api` Meter, read from the
 * collector once per collection (one batch callback). @opentelemetry/api is
 * not imported: the bridge uses only the Meter object it is given.
 *
 * The OpenTelemetry API has no observable histogram, so operation durations
 * are exported as cumulative counters: `perfprobe.operation.count`,
 * `perfprobe.operation.duration` (sum, seconds) and
 * `perfprobe.operation.failures`, each with an `operation` attribute (rate and
 * mean follow; percentiles stay on the REST API and /metrics).
 *
 * Memory and GPUs follow OpenTelemetry's semantic conventions: system memory
 * as system.memory.usage (system.memory.state=used) / system.memory.limit /
 * system.memory.utilization (and system.linux.memory.available on Linux), this
 * process's RSS as process.memory.usage; the GPUs as GPU_OTEL_INSTRUMENTS
 * (hw.gpu.*, src/schema/gpu.ts) with hw.id = the GPU's UUID, hw.name,
 * hw.vendor, hw.type = gpu and gpu.index, and ECC and Xid errors as hw.errors
 * (error.type corrected / uncorrected / xid_<n>).
 */
import { getPerformanceMetricsCollector } from '../collector/index.js';
import { GPU_OTEL_INSTRUMENTS, type GpuGauges } from '../schema/gpu.js';
import { exporterFor, type MetricsSnapshot, type MetricsSnapshotSource } from './prometheus.js';

type Attributes = Record<string, string | number>;
/** The parts of @opentelemetry/api the bridge uses (structural). */
export type OtelObservableLike = object;
export interface OtelBatchResultLike {
  observe(observable: OtelObservableLike, value: number, attributes?: Attributes): void;
}
export interface OtelMeterLike {
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): OtelObservableLike;
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): OtelObservableLike;
  /** Used for the UpDownCounter instruments of the conventions (memory usage and limits); a gauge where absent. */
  createObservableUpDownCounter?(name: string, options?: { description?: string; unit?: string }): OtelObservableLike;
  addBatchObservableCallback(cb: (result: OtelBatchResultLike) => void, observables: OtelObservableLike[]): void;
  removeBatchObservableCallback(cb: (result: OtelBatchResultLike) => void, observables: OtelObservableLike[]): void;
}

export interface OpenTelemetryBridge {
  /** Instrument names registered. */
  readonly names: readonly string[];
  /** Stops reporting (removes the batch callback). */
  unregister(): void;
}

type Inst = {
  name: string;
  kind: 'gauge' | 'counter' | 'updowncounter';
  unit: string;
  description: string;
  observe: (s: MetricsSnapshot, emit: (value: number, attrs?: Attributes) => void) => void;
};

/** The attributes every GPU point carries (hw.id is required by the conventions: the UUID, else gpu-<index>). */
function gpuAttributes(g: GpuGauges): Attributes {
  return { 'hw.id': g.uuid || `gpu-${g.gpu}`, 'hw.name': g.name, 'hw.vendor': 'nvidia', 'hw.type': 'gpu', 'gpu.index': g.gpu };
}

/** The GPU instruments, one per name, each observing every row of GPU_OTEL_INSTRUMENTS with that name. */
function gpuInstruments(): Inst[] {
  const byName = new Map<string, Array<(typeof GPU_OTEL_INSTRUMENTS)[number]>>();
  for (const spec of GPU_OTEL_INSTRUMENTS) byName.set(spec.name, [...(byName.get(spec.name) ?? []), spec]);
  return [...byName.values()].map((specs) => ({
    name: specs[0]!.name,
    kind: specs[0]!.kind,
    unit: specs[0]!.unit,
    description: specs[0]!.description,
    observe: (s, emit) => {
      for (const g of s.gpus) {
        const base = gpuAttributes(g);
        for (const spec of specs) {
          const v = g[spec.gauge];
          if (v === null) continue;
          let value = v * spec.scale;
          if ('per' in spec) {
            const d = g[spec.per];
            if (d === null || !(d > 0)) continue;
            value = v / d;
          }
          emit(value, { ...base, ...spec.attributes });
        }
      }
    },
  }));
}

/** hw.errors of the GPUs: volatile ECC counts (corrected / uncorrected) and the Xid errors seen while monitoring. */
const GPU_ERRORS: Inst = {
  name: 'hw.errors',
  kind: 'counter',
  unit: '{error}',
  description: 'Errors the GPU reported: ECC (corrected, uncorrected; since the driver loaded) and Xid errors (xid_<n>) seen while monitoring.',
  observe: (s, emit) => {
    const byIndex = new Map(s.gpus.map((g) => [g.gpu, g]));
    for (const g of s.gpus) {
      const e = g.eccErrors;
      if (e === null) continue;
      if (e.correctedVolatile !== null) emit(e.correctedVolatile, { ...gpuAttributes(g), 'error.type': 'corrected' });
      if (e.uncorrectedVolatile !== null) emit(e.uncorrectedVolatile, { ...gpuAttributes(g), 'error.type': 'uncorrected' });
    }
    for (const x of s.gpuXidErrors) {
      const g = byIndex.get(x.gpuId);
      const attrs = g ? gpuAttributes(g) : { 'hw.id': x.uuid ?? `gpu-${x.gpuId}`, 'hw.type': 'gpu', 'gpu.index': x.gpuId };
      emit(x.count, { ...attrs, 'error.type': `xid_${x.xid}` });
    }
  },
};

/** System and process memory after the system and process semantic conventions (bytes, a 0-1 ratio). */
const MEMORY_INSTRUMENTS: Inst[] = [
  {
    name: 'system.memory.usage',
    kind: 'updowncounter',
    unit: 'By',
    description: 'System memory in use (total - available).',
    observe: (s, emit) => {
      const v = s.memory?.usedBytes ?? null;
      if (v !== null) emit(v, { 'system.memory.state': 'used' });
    },
  },
  {
    name: 'system.memory.limit',
    kind: 'updowncounter',
    unit: 'By',
    description: 'Total system memory.',
    observe: (s, emit) => {
      const v = s.memory?.totalBytes ?? null;
      if (v !== null) emit(v);
    },
  },
  {
    name: 'system.memory.utilization',
    kind: 'gauge',
    unit: '1',
    description: 'Fraction of system memory in use.',
    observe: (s, emit) => {
      const m = s.memory;
      if (m && m.usedBytes !== null && m.totalBytes !== null && m.totalBytes > 0) emit(m.usedBytes / m.totalBytes, { 'system.memory.state': 'used' });
    },
  },
  ...(process.platform === 'linux'
    ? [
        {
          name: 'system.linux.memory.available',
          kind: 'updowncounter',
          unit: 'By',
          description: 'Memory available for starting new work without swapping (MemAvailable).',
          observe: (s: MetricsSnapshot, emit: (value: number, attrs?: Attributes) => void) => {
            const v = s.memory?.availableBytes ?? null;
            if (v !== null) emit(v);
          },
        } satisfies Inst,
      ]
    : []),
  {
    name: 'process.memory.usage',
    kind: 'updowncounter',
    unit: 'By',
    description: 'Resident set size of this process.',
    observe: (s, emit) => {
      const v = s.memory?.processResidentBytes ?? null;
      if (v !== null) emit(v);
    },
  },
];

const INSTRUMENTS: Inst[] = [
  {
    name: 'perfprobe.operation.count',
    kind: 'counter',
    unit: '{operation}',
    description: 'Operations recorded.',
    observe: (s, emit) => s.operations.operations.forEach((o) => emit(o.count, { operation: o.operation })),
  },
  {
    name: 'perfprobe.operation.duration',
    kind: 'counter',
    unit: 's',
    description: 'Total duration of recorded operations.',
    observe: (s, emit) => s.operations.operations.forEach((o) => emit(o.sumMs / 1000, { operation: o.operation })),
  },
  {
    name: 'perfprobe.operation.failures',
    kind: 'counter',
    unit: '{operation}',
    description: 'Operations recorded as failed.',
    observe: (s, emit) => s.operations.operations.forEach((o) => emit(o.failureCount, { operation: o.operation })),
  },
  ...MEMORY_INSTRUMENTS,
  ...gpuInstruments(),
  GPU_ERRORS,
];

/** Registers perfprobe's metrics with `meter`; they are read on each collection. */
export function registerOpenTelemetry(meter: OtelMeterLike, collector?: MetricsSnapshotSource): OpenTelemetryBridge {
  if (!meter || typeof meter.addBatchObservableCallback !== 'function') {
    throw new TypeError('meter must be an @opentelemetry/api Meter (with addBatchObservableCallback())');
  }
  const source = collector ?? (getPerformanceMetricsCollector() as unknown as MetricsSnapshotSource);
  const exporter = exporterFor(source);
  const observables = INSTRUMENTS.map((i) => {
    const options = { description: i.description, unit: i.unit };
    if (i.kind === 'counter') return meter.createObservableCounter(i.name, options);
    if (i.kind === 'updowncounter' && typeof meter.createObservableUpDownCounter === 'function') return meter.createObservableUpDownCounter(i.name, options);
    return meter.createObservableGauge(i.name, options);
  });
  const callback = (result: OtelBatchResultLike): void => {
    const snap = exporter.snapshot();
    INSTRUMENTS.forEach((inst, k) => {
      const obs = observables[k]!;
      inst.observe(snap, (value, attrs) => result.observe(obs, value, attrs));
    });
  };
  meter.addBatchObservableCallback(callback, observables);
  return {
    names: INSTRUMENTS.map((i) => i.name),
    unregister: () => meter.removeBatchObservableCallback(callback, observables),
  };
}
