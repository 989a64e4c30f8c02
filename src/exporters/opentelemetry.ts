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
 */
import { getPerformanceMetricsCollector } from '../collector/index.js';
import { GPU_GAUGES } from '../schema/gpu.js';
import { MEMORY_GAUGES } from '../schema/memory.js';
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
  kind: 'gauge' | 'counter';
  unit: string;
  description: string;
  observe: (s: MetricsSnapshot, emit: (value: number, attrs?: Attributes) => void) => void;
};

const gpuInst = (name: string, unit: string, description: string, pick: (g: MetricsSnapshot['gpus'][number]) => number | null): Inst => ({
  name,
  kind: 'gauge',
  unit,
  description,
  observe: (s, emit) => {
    for (const g of s.gpus) {
      const v = pick(g);
      if (v !== null) emit(v, { gpu: g.gpu, uuid: g.uuid, name: g.name });
    }
  },
});
const memInst = (name: string, description: string, pick: (m: NonNullable<MetricsSnapshot['memory']>) => number | null): Inst => ({
  name,
  kind: 'gauge',
  unit: 'By',
  description,
  observe: (s, emit) => {
    const v = s.memory ? pick(s.memory) : null;
    if (v !== null) emit(v);
  },
});

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
  ...MEMORY_GAUGES.flatMap((g) => (g.otel ? [memInst(g.otel.name, g.otel.description, (m) => m[g.gauge])] : [])),
  ...GPU_GAUGES.map((g) => gpuInst(g.otel.name, g.otel.unit, g.otel.description, (v) => v[g.gauge])),
];

/** Registers perfprobe's metrics with `meter`; they are read on each collection. */
export function registerOpenTelemetry(meter: OtelMeterLike, collector?: MetricsSnapshotSource): OpenTelemetryBridge {
  if (!meter || typeof meter.addBatchObservableCallback !== 'function') {
    throw new TypeError('meter must be an @opentelemetry/api Meter (with addBatchObservableCallback())');
  }
  const source = collector ?? (getPerformanceMetricsCollector() as unknown as MetricsSnapshotSource);
  const exporter = exporterFor(source);
  const observables = INSTRUMENTS.map((i) =>
    i.kind === 'gauge'
      ? meter.createObservableGauge(i.name, { description: i.description, unit: i.unit })
      : meter.createObservableCounter(i.name, { description: i.description, unit: i.unit }),
  );
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
