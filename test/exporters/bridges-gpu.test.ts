/**
 * The bridges' GPU instruments with GPUs read live through the stand-in
 * NVML: the real OpenTelemetry SDK (MeterProvider, in-memory exporter) sees
 * the hardware semantic conventions (hw.gpu.utilization per task as a 0-1
 * ratio, hw.gpu.memory.* in bytes, hw.gpu.temperature per sensor, power,
 * clocks in MHz, hw.errors for ECC and Xid) with hw.id = the UUID, hw.name,
 * hw.vendor; the real prom-client Registry sees the labelled GPU families.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuChild, standInNvml } from '../helpers/fake-nvml-helpers.js';

const MiB = 1048576;
const standIn = standInNvml();

const SCRIPT = [
  'devices=1', 'gpu0.name=NVIDIA H200', 'gpu0.uuid=GPU-11111111-2222-3333-4444-555555555555',
  'gpu0.util=97', `gpu0.mem_total=${1024 * MiB}`, `gpu0.mem_used=${256 * MiB}`, `gpu0.mem_reserved=0`, `gpu0.mem_free=${768 * MiB}`,
  'gpu0.temp=56', 'gpu0.mem_temp=71', 'gpu0.power_mw=690500', 'gpu0.power_limit_mw=700000', 'gpu0.sm_clock=1425', 'gpu0.mem_clock=2619',
  'gpu0.enc_util=5', 'gpu0.dec_util=6', 'gpu0.pstate=2', 'gpu0.clocks_reasons=4',
  'gpu0.ecc=1', 'gpu0.ecc_cv=3', 'gpu0.ecc_uv=1', 'gpu0.events=xid:79@10,xid:79@5',
].join('\n');

test('OpenTelemetry SDK: hw.gpu.* after the semantic conventions, hw.errors for ECC and Xid, perfprobe.operation.* kept', (t) => {
  if (standIn.whyNot) return t.skip(standIn.whyNot);
  const { v } = gpuChild(`
    const { PerformanceMetricsCollector, registerOpenTelemetry } = src('index.ts');
    const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
    const c = new PerformanceMetricsCollector({ enableGpuTracking: true, memorySampleIntervalMs: 50 });
    c.recordProcessingTime('decode', 12);
    c.startMonitoring();
    const keep = setInterval(() => {}, 1000);
    await until(() => c.gpuXidCounts().length > 0 && c.gpuXidCounts()[0].count === 2, 'two Xid events');
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60000 });
    const provider = new MeterProvider({ readers: [reader] });
    const bridge = registerOpenTelemetry(provider.getMeter('t'), c);
    await reader.forceFlush();
    const points = [];
    for (const rm of exporter.getMetrics()) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) {
      for (const p of m.dataPoints) points.push({ name: m.descriptor.name, unit: m.descriptor.unit, type: m.dataPointType, kind: m.descriptor.type, attributes: p.attributes, value: p.value });
    }
    bridge.unregister();
    await provider.shutdown();
    c.close();
    clearInterval(keep);
    done({ points, names: bridge.names });
  `, { lib: standIn.libs!.full, script: SCRIPT });
  const find = (name: string, attrs: Record<string, unknown> = {}) =>
    v.points.filter((p: any) => p.name === name && Object.entries(attrs).every(([k, x]) => p.attributes[k] === x));
  const one = (name: string, attrs: Record<string, unknown> = {}) => {
    const got = find(name, attrs);
    assert.equal(got.length, 1, `${name} ${JSON.stringify(attrs)}: ${JSON.stringify(got)}`);
    return got[0];
  };
  const hw = { 'hw.id': 'GPU-11111111-2222-3333-4444-555555555555', 'hw.name': 'NVIDIA H200', 'hw.vendor': 'nvidia', 'hw.type': 'gpu', 'gpu.index': 0 };
  assert.deepEqual(one('hw.gpu.utilization', { 'hw.gpu.task': 'general' }).attributes, { ...hw, 'hw.gpu.task': 'general' });
  assert.equal(one('hw.gpu.utilization', { 'hw.gpu.task': 'general' }).value, 0.97);
  assert.equal(one('hw.gpu.utilization', { 'hw.gpu.task': 'encoder' }).value, 0.05);
  assert.equal(one('hw.gpu.utilization', { 'hw.gpu.task': 'decoder' }).value, 0.06);
  assert.equal(one('hw.gpu.utilization', { 'hw.gpu.task': 'general' }).unit, '1');
  const usage = one('hw.gpu.memory.usage', hw);
  assert.deepEqual([usage.value, usage.unit], [256 * MiB, 'By']);
  assert.equal(usage.kind, 'OBSERVABLE_UP_DOWN_COUNTER', 'an UpDownCounter, as the conventions say');
  assert.equal(one('hw.gpu.memory.limit', hw).value, 1024 * MiB);
  assert.equal(one('hw.gpu.memory.free', hw).value, 768 * MiB);
  assert.equal(one('hw.gpu.memory.utilization', hw).value, 0.25);
  assert.deepEqual([one('hw.gpu.temperature', { sensor: 'die' }).value, one('hw.gpu.temperature', { sensor: 'memory' }).value], [56, 71]);
  assert.equal(one('hw.gpu.temperature', { sensor: 'die' }).unit, 'Cel');
  assert.equal(one('hw.gpu.power.draw').value, 690.5);
  assert.equal(one('hw.gpu.power.limit').value, 700);
  assert.deepEqual([one('hw.gpu.clock.graphics').value, one('hw.gpu.clock.memory').value, one('hw.gpu.clock.memory').unit], [1425, 2619, 'MHz']);
  assert.equal(one('perfprobe.gpu.performance_state').value, 2);
  assert.equal(one('hw.errors', { 'error.type': 'corrected' }).value, 3);
  assert.equal(one('hw.errors', { 'error.type': 'uncorrected' }).value, 1);
  assert.deepEqual(one('hw.errors', { 'error.type': 'xid_79' }).attributes, { ...hw, 'error.type': 'xid_79' });
  assert.equal(one('hw.errors', { 'error.type': 'xid_79' }).value, 2);
  assert.equal(one('hw.errors', { 'error.type': 'xid_79' }).kind, 'OBSERVABLE_COUNTER');
  assert.equal(one('perfprobe.operation.count', { operation: 'decode' }).value, 1);
  assert.ok(one('system.memory.usage', { 'system.memory.state': 'used' }).value > 0);
});

test('prom-client Registry: the labelled GPU families (reasons, ECC, Xid) beside the gauges', (t) => {
  if (standIn.whyNot) return t.skip(standIn.whyNot);
  const { v } = gpuChild(`
    const { PerformanceMetricsCollector, registerPromClient } = src('index.ts');
    const { Registry } = require('prom-client');
    const c = new PerformanceMetricsCollector({ enableGpuTracking: true, memorySampleIntervalMs: 50 });
    c.startMonitoring();
    const keep = setInterval(() => {}, 1000);
    await until(() => c.gpuXidCounts().length > 0 && c.gpuXidCounts()[0].count === 2, 'two Xid events');
    const registry = new Registry();
    registerPromClient(registry, c);
    const text = await registry.metrics();
    c.close();
    clearInterval(keep);
    done(text);
  `, { lib: standIn.libs!.full, script: SCRIPT });
  const L = 'gpu="0",uuid="GPU-11111111-2222-3333-4444-555555555555",name="NVIDIA H200"';
  assert.match(v, new RegExp(`^perfprobe_gpu_clocks_event_reason\\{${L},reason="sw_power_cap"\\} 1$`, 'm'));
  assert.match(v, new RegExp(`^perfprobe_gpu_clocks_event_reason\\{${L},reason="gpu_idle"\\} 0$`, 'm'));
  assert.match(v, new RegExp(`^perfprobe_gpu_ecc_errors_total\\{${L},error="corrected",counter="volatile"\\} 3$`, 'm'));
  assert.match(v, /^perfprobe_gpu_xid_errors_total\{gpu="0",uuid="GPU-11111111-2222-3333-4444-555555555555",xid="79"\} 2$/m);
  assert.match(v, new RegExp(`^perfprobe_gpu_performance_state\\{${L}\\} 2$`, 'm'));
});
