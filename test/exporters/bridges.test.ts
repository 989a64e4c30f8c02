// The prom-client and OpenTelemetry bridges, each with the real library:
// prom-client's Registry.metrics() (text and OpenMetrics) and the
// OpenTelemetry SDK's MeterProvider + PeriodicExportingMetricReader +
// InMemoryMetricExporter, asserting the values perfprobe recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, Counter } from 'prom-client';
import { metrics as otelApi } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
} from '@opentelemetry/sdk-metrics';
import { registerOpenTelemetry, registerPromClient } from '../../src/exporters/index.js';
import { newCollector } from '../helpers/export-helpers.js';
import { GPU_GAUGES } from '../../src/schema/gpu.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

function seeded() {
  const c = newCollector({ enableGpuTracking: true });
  for (const d of [1, 2, 3, 40, 500]) c.recordProcessingTime('decode', d);
  c.recordProcessingTime('decode', 7, { success: false, errorMessage: 'bad' });
  c.recordProcessingTime('encode', 11);
  c.importRecords({
    gpu: [{ timestamp: Date.now(), gpuId: 0, loadPercent: 42, memoryUsedMb: 2048, memoryTotalMb: 16384, memoryPercent: 12.5, temperatureCelsius: 55, powerWatts: 90, operation: null }],
  });
  return c;
}

test('prom-client: perfprobe metrics appear in a Registry beside the app\'s own, collected on scrape', async () => {
  const c = seeded();
  const registry = new Registry();
  const appCounter = new Counter({ name: 'app_requests_total', help: 'app', registers: [registry] });
  appCounter.inc(3);
  const bridge = registerPromClient(registry, c as never);
  let text = await registry.metrics();
  assert.match(text, /^app_requests_total 3$/m);
  assert.match(text, /^# TYPE perfprobe_operation_duration_seconds histogram$/m);
  assert.match(text, /^perfprobe_operation_duration_seconds_count\{operation="decode"\} 6$/m);
  assert.match(text, /^perfprobe_operation_duration_seconds_bucket\{operation="decode",le="\+Inf"\} 6$/m);
  assert.match(text, /^perfprobe_operation_duration_seconds_sum\{operation="decode"\} 0\.553$/m);
  assert.match(text, /^perfprobe_operation_failures_total\{operation="decode"\} 1$/m);
  assert.match(text, /^perfprobe_gpu_utilization_percent\{gpu="0",uuid="",name=""\} 42$/m);
  assert.match(text, /^perfprobe_system_memory_total_bytes \d+$/m);
  // Collected on scrape: a new record shows on the next metrics() call.
  c.recordProcessingTime('decode', 1);
  text = await registry.metrics();
  assert.match(text, /^perfprobe_operation_duration_seconds_count\{operation="decode"\} 7$/m);
  // The JSON form works as well.
  const json = await registry.getMetricsAsJSON();
  const fails = json.find((m) => m.name === 'perfprobe_operation_failures_total');
  assert.deepEqual(fails?.values.map((v) => [v.labels.operation, v.value]).sort(), [['decode', 1], ['encode', 0]]);
  // Double registration is refused by prom-client; unregister removes ours only.
  assert.throws(() => registerPromClient(registry, c as never), /already been registered/);
  bridge.unregister();
  text = await registry.metrics();
  assert.doesNotMatch(text, /perfprobe_/);
  assert.match(text, /^app_requests_total 3$/m);
});

test('prom-client: OpenMetrics registry', async () => {
  const c = seeded();
  const registry = new (Registry as unknown as new (t: string) => Registry)(Registry.OPENMETRICS_CONTENT_TYPE);
  registerPromClient(registry, c as never);
  const text = await registry.metrics();
  assert.ok(text.endsWith('# EOF\n'));
  assert.match(text, /^perfprobe_operation_failures_total\{operation="decode"\} 1$/m);
});

test('OpenTelemetry: observable instruments read by the real SDK and its in-memory exporter', async () => {
  const c = seeded();
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  try {
    const meter = provider.getMeter('perfprobe-test');
    const bridge = registerOpenTelemetry(meter, c as never); // a real Meter type-checks as OtelMeterLike
    assert.ok(bridge.names.includes('perfprobe.operation.count'));
    await reader.forceFlush();
    const found = new Map<string, DataPoint<number>[]>();
    for (const rm of exporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) found.set(m.descriptor.name, m.dataPoints as DataPoint<number>[]);
      }
    }
    const point = (name: string, attrs: Record<string, unknown>) =>
      found.get(name)?.find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))?.value;
    assert.equal(point('perfprobe.operation.count', { operation: 'decode' }), 6);
    assert.equal(point('perfprobe.operation.count', { operation: 'encode' }), 1);
    assert.equal(point('perfprobe.operation.failures', { operation: 'decode' }), 1);
    assert.ok(Math.abs(point('perfprobe.operation.duration', { operation: 'decode' })! - 0.553) < 1e-12);
    // The hardware semantic conventions: a 0-1 ratio, bytes, hw.* attributes (hw.id falls back to gpu-<index> without a UUID).
    const gpu0 = { 'hw.id': 'gpu-0', 'hw.type': 'gpu', 'hw.vendor': 'nvidia', 'gpu.index': 0 };
    assert.equal(point('hw.gpu.utilization', { ...gpu0, 'hw.gpu.task': 'general' }), 0.42);
    assert.equal(point('hw.gpu.memory.usage', gpu0), 2048 * 1048576);
    assert.equal(point('hw.gpu.memory.limit', gpu0), 16384 * 1048576);
    assert.equal(point('hw.gpu.memory.utilization', gpu0), 0.125);
    assert.equal(point('hw.gpu.temperature', { ...gpu0, sensor: 'die' }), 55);
    assert.equal(point('hw.gpu.power.draw', gpu0), 90);
    assert.equal(found.get('hw.gpu.power.limit'), undefined, 'not in the record: no point, never 0');
    // The system and process memory conventions.
    const total = point('system.memory.limit', {})!;
    const used = point('system.memory.usage', { 'system.memory.state': 'used' })!;
    assert.ok(total > 0 && used > 0 && used <= total);
    assert.ok(Math.abs(point('system.memory.utilization', { 'system.memory.state': 'used' })! - used / total) < 1e-12);
    assert.ok(point('process.memory.usage', {})! > 0);
    if (process.platform === 'linux') assert.ok(point('system.linux.memory.available', {})! > 0);
    for (const name of bridge.names) assert.ok(!/^perfprobe\.(gpu\.(utilization|memory|temperature|power|clock)|system|process)/.test(name), name);
    // Unregistered: the next collection has no new perfprobe points.
    c.recordProcessingTime('decode', 2);
    await reader.forceFlush();
    const latest = exporter.getMetrics().at(-1)!;
    const count = latest.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'perfprobe.operation.count');
    assert.equal((count?.dataPoints as DataPoint<number>[]).find((p) => p.attributes.operation === 'decode')?.value, 7);
    bridge.unregister();
  } finally {
    await provider.shutdown();
  }
  // The global API meter (no SDK registered) is a no-op meter: registering on it must not throw.
  registerOpenTelemetry(otelApi.getMeter('noop'), c as never).unregister();
});

test('perfprobe loads and exports without prom-client or @opentelemetry installed (neither is imported)', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join, resolve } = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-noprom-'));
  try {
    writeFileSync(
      join(dir, 'block.cjs'),
      `const M = require('module'); const r = M._resolveFilename;
       M._resolveFilename = function (req, ...a) {
         if (/^(prom-client|@opentelemetry\\/)/.test(req)) throw Object.assign(new Error('blocked ' + req), { code: 'MODULE_NOT_FOUND' });
         return r.call(this, req, ...a);
       };`,
    );
    writeFileSync(
      join(dir, 'main.cjs'),
      `const lib = require(${JSON.stringify(resolve('src/index.ts'))});
       const c = new lib.PerformanceMetricsCollector({ enableGpuTracking: false });
       c.recordProcessingTime('x', 1);
       const got = [];
       lib.registerPromClient({ registerMetric: (m) => got.push(m.name) }, c);
       let blocked = false; try { require('prom-client'); } catch { blocked = true; }
       console.log(JSON.stringify({ blocked, text: lib.renderPrometheus(c).includes('operation="x"'), names: got.length }));`,
    );
    const r = spawnSync(process.execPath, ['--require', join(dir, 'block.cjs'), '--import', 'tsx', join(dir, 'main.cjs')], {
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
    });
    assert.equal(r.status, 0, r.stderr);
    // 2 operation families, 4 memory gauges, the GPU_GAUGES and 3 labelled GPU families (reasons, ECC, Xid).
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), { blocked: true, text: true, names: 2 + 4 + GPU_GAUGES.length + 3 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
