/**
 * Bridge for apps that already use prom-client: registers perfprobe's
 * metrics in a prom-client Registry, computed on each scrape from the
 * collector (nothing is copied on the record path). prom-client itself is
 * never imported: the bridge hands the registry metric objects of the shape
 * prom-client's Registry reads (`name`, `help`, `type`, `get()`), so
 * perfprobe works without prom-client installed.
 *
 *   const { Registry } = require('prom-client');
 *   const registry = new Registry();
 *   registerPromClient(registry, collector);
 *   await registry.metrics(); // includes perfprobe_operation_duration_seconds ...
 */
import { getPerformanceMetricsCollector } from '../collector/index.js';
import { CLOCKS_EVENT_REASONS, GPU_ECC_COUNTERS, GPU_GAUGES } from '../schema/gpu.js';
import { MEMORY_GAUGES } from '../schema/memory.js';
import { exporterFor, type MetricsSnapshot, type MetricsSnapshotSource } from './prometheus.js';

/** The part of prom-client's Registry the bridge uses. */
export interface PromClientRegistryLike {
  registerMetric(metric: never): void;
  removeSingleMetric?(name: string): void;
}

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface PromMetricLike {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum' | 'average';
  get(): Promise<{ name: string; help: string; type: string; values: PromValue[]; aggregator: string }>;
  reset(): void;
}

export interface PromClientBridge {
  /** Metric names registered. */
  readonly names: readonly string[];
  /** Removes perfprobe's metrics from the registry. */
  unregister(): void;
}

type Def = { name: string; help: string; type: PromMetricLike['type']; values: (s: MetricsSnapshot) => PromValue[] };

function gpuDef(name: string, help: string, pick: (g: MetricsSnapshot['gpus'][number]) => number | null): Def {
  return {
    name,
    help,
    type: 'gauge',
    values: (s) =>
      s.gpus.flatMap((g) => {
        const v = pick(g);
        return v === null ? [] : [{ value: v, labels: { gpu: g.gpu, uuid: g.uuid, name: g.name } }];
      }),
  };
}

function memDef(name: string, help: string, pick: (m: NonNullable<MetricsSnapshot['memory']>) => number | null): Def {
  return {
    name,
    help,
    type: 'gauge',
    values: (s) => {
      const v = s.memory ? pick(s.memory) : null;
      return v === null ? [] : [{ value: v, labels: {} }];
    },
  };
}

const KNOWN_REASONS: readonly string[] = CLOCKS_EVENT_REASONS.map((r) => r.name);

/** The labelled GPU families (as the Prometheus exporter's perfprobe naming, src/exporters/prometheus-gpu.ts). */
const GPU_LABELLED_DEFS: Def[] = [
  {
    name: 'perfprobe_gpu_clocks_event_reason',
    help: 'Why the GPU clocks are held down now: 1 for each reason that applies, else 0.',
    type: 'gauge',
    values: (s) =>
      s.gpus.flatMap((g) => {
        const now = g.clocksEventReasons;
        if (now === null) return [];
        const labels = { gpu: g.gpu, uuid: g.uuid, name: g.name };
        return [
          ...KNOWN_REASONS.map((reason) => ({ value: now.includes(reason) ? 1 : 0, labels: { ...labels, reason } })),
          ...now.filter((r) => !KNOWN_REASONS.includes(r)).map((reason) => ({ value: 1, labels: { ...labels, reason } })),
        ];
      }),
  },
  {
    name: 'perfprobe_gpu_ecc_errors_total',
    help: 'ECC memory errors: corrected (single-bit) or uncorrected (double-bit), since the driver loaded (volatile) or over the GPU lifetime (aggregate).',
    type: 'counter',
    values: (s) =>
      s.gpus.flatMap((g) =>
        g.eccErrors === null
          ? []
          : GPU_ECC_COUNTERS.flatMap((c) => {
              const v = g.eccErrors![c.key];
              return v === null ? [] : [{ value: v, labels: { gpu: g.gpu, uuid: g.uuid, name: g.name, error: c.error, counter: c.counter } }];
            }),
      ),
  },
  {
    name: 'perfprobe_gpu_xid_errors_total',
    help: 'Xid errors the GPU driver reported while perfprobe was monitoring, by Xid.',
    type: 'counter',
    values: (s) => s.gpuXidErrors.map((x) => ({ value: x.count, labels: { gpu: x.gpuId, uuid: x.uuid ?? '', xid: x.xid } })),
  },
];

const DEFS: Def[] = [
  {
    name: 'perfprobe_operation_duration_seconds',
    help: 'Duration of recorded operations in seconds.',
    type: 'histogram',
    values: (s) => {
      const out: PromValue[] = [];
      const { boundsMs, operations } = s.operations;
      for (const op of operations) {
        for (let i = 0; i < boundsMs.length; i++) {
          out.push({
            value: op.bucketCounts[i] ?? op.count,
            labels: { operation: op.operation, le: boundsMs[i]! / 1000 },
            metricName: 'perfprobe_operation_duration_seconds_bucket',
          });
        }
        out.push({ value: op.count, labels: { operation: op.operation, le: '+Inf' }, metricName: 'perfprobe_operation_duration_seconds_bucket' });
        out.push({ value: op.sumMs / 1000, labels: { operation: op.operation }, metricName: 'perfprobe_operation_duration_seconds_sum' });
        out.push({ value: op.count, labels: { operation: op.operation }, metricName: 'perfprobe_operation_duration_seconds_count' });
      }
      return out;
    },
  },
  {
    name: 'perfprobe_operation_failures_total',
    help: 'Operations recorded as failed.',
    type: 'counter',
    values: (s) => s.operations.operations.map((op) => ({ value: op.failureCount, labels: { operation: op.operation } })),
  },
  ...MEMORY_GAUGES.filter((g) => g.promClient).map((g) => memDef(g.prometheus, g.help, (m) => m[g.gauge])),
  ...GPU_GAUGES.map((g) => gpuDef(g.prometheus.name, g.prometheus.help, (v) => v[g.gauge])),
  ...GPU_LABELLED_DEFS,
];

/**
 * Registers perfprobe's metrics (operation histogram, failure counter,
 * memory and GPU gauges) in `registry`; each scrape reads the collector once.
 */
export function registerPromClient(registry: PromClientRegistryLike, collector?: MetricsSnapshotSource): PromClientBridge {
  if (!registry || typeof registry.registerMetric !== 'function') {
    throw new TypeError('registry must be a prom-client Registry (with registerMetric())');
  }
  const source = collector ?? (getPerformanceMetricsCollector() as unknown as MetricsSnapshotSource);
  const exporter = exporterFor(source);
  // One snapshot per scrape: Registry.metrics() and getMetricsAsJSON() call
  // every get() synchronously in one loop, so the snapshot is dropped at the
  // next microtask and the next scrape reads fresh figures.
  let cached: MetricsSnapshot | null = null;
  const snapshot = (): MetricsSnapshot => {
    if (cached === null) {
      cached = exporter.snapshot();
      queueMicrotask(() => {
        cached = null;
      });
    }
    return cached;
  };
  const metrics: PromMetricLike[] = DEFS.map((d) => ({
    name: d.name,
    help: d.help,
    type: d.type,
    aggregator: 'sum',
    async get() {
      return { name: this.name, help: d.help, type: d.type, values: d.values(snapshot()), aggregator: 'sum' };
    },
    reset() {},
  }));
  const registered: string[] = [];
  try {
    for (const m of metrics) {
      registry.registerMetric(m as never);
      registered.push(m.name);
    }
  } catch (err) {
    for (const n of registered) registry.removeSingleMetric?.(n);
    throw err;
  }
  return {
    names: registered,
    unregister() {
      for (const m of metrics) registry.removeSingleMetric?.(m.name);
    },
  };
}
