// The Prometheus exposition: histogram and counter values equal to what the
// collector recorded, label escaping, GPU gauges, OpenMetrics framing,
// `promtool check metrics`, and a scrape that never walks stored records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  PrometheusExporter,
  escapeLabelValue,
  renderPrometheus,
  wantsOpenMetrics,
} from '../../src/exporters/index.js';
import { newCollector, tool } from '../helpers/export-helpers.js';
import { fakeNvmlOrSkip } from '../helpers/fake-nvml-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

/** Parses exposition lines into name{labels} -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    const v = line.slice(i + 1);
    out.set(line.slice(0, i), v === '+Inf' ? Infinity : Number(v));
  }
  return out;
}

function seeded() {
  const c = newCollector();
  const durations = [0.05, 0.3, 2, 7, 12, 40, 95, 240, 900, 3000, 12000];
  for (const d of durations) c.recordProcessingTime('decode', d);
  c.recordProcessingTime('decode', 5, { success: false, errorMessage: 'x' });
  c.recordProcessingTime('upload', 20, { success: false, errorMessage: 'y' });
  c.recordProcessingTime('upload', 30);
  return { c, durations: [...durations, 5] };
}

test('histogram buckets, sum, count and failures equal the recorded durations', () => {
  const { c, durations } = seeded();
  const text = renderPrometheus(c as never);
  const s = samples(text);
  const { boundsMs } = c.cumulativeOperationStats();
  assert.ok(boundsMs.length > 3);
  for (const b of boundsMs) {
    const expected = durations.filter((d) => d <= b).length;
    assert.equal(s.get(`perfprobe_operation_duration_seconds_bucket{operation="decode",le="${b / 1000}"}`), expected, `le=${b}`);
  }
  assert.equal(s.get('perfprobe_operation_duration_seconds_bucket{operation="decode",le="+Inf"}'), 12);
  assert.equal(s.get('perfprobe_operation_duration_seconds_count{operation="decode"}'), 12);
  const sum = s.get('perfprobe_operation_duration_seconds_sum{operation="decode"}')!;
  assert.ok(Math.abs(sum - durations.reduce((a, b) => a + b, 0) / 1000) < 1e-9, String(sum));
  assert.equal(s.get('perfprobe_operation_failures_total{operation="decode"}'), 1);
  assert.equal(s.get('perfprobe_operation_failures_total{operation="upload"}'), 1);
  assert.equal(s.get('perfprobe_operation_duration_seconds_count{operation="upload"}'), 2);
  assert.match(text, /^# TYPE perfprobe_operation_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE perfprobe_operation_failures_total counter$/m);
  // Buckets are cumulative (non-decreasing).
  let prev = -1;
  for (const b of boundsMs) {
    const v = s.get(`perfprobe_operation_duration_seconds_bucket{operation="decode",le="${b / 1000}"}`)!;
    assert.ok(v >= prev);
    prev = v;
  }
});

test('memory gauges are present and plausible; GPU gauges labelled gpu, uuid and name', () => {
  const c = newCollector({ enableGpuTracking: true });
  const now = Date.now();
  c.importRecords({
    gpu: [
      { timestamp: now - 10, gpuId: 0, loadPercent: 55, memoryUsedMb: 1024, memoryTotalMb: 81920, memoryPercent: 1.25, temperatureCelsius: 61, powerWatts: 250.5, operation: null },
      { timestamp: now - 5, gpuId: 1, loadPercent: 0, memoryUsedMb: 0, memoryTotalMb: 81920, memoryPercent: 0, temperatureCelsius: null, powerWatts: null, operation: null },
    ],
  });
  const exporter = new PrometheusExporter(c as never, { liveGpu: false });
  const text = exporter.render();
  const s = samples(text);
  const total = s.get('perfprobe_system_memory_total_bytes')!;
  const used = s.get('perfprobe_system_memory_used_bytes')!;
  const rss = s.get('perfprobe_process_resident_memory_bytes')!;
  assert.ok(total > 0 && used > 0 && used <= total, `${used} / ${total}`);
  assert.ok(rss > 1024 * 1024 && rss < total);
  assert.equal(s.get('perfprobe_gpu_utilization_percent{gpu="0",uuid="",name=""}'), 55);
  assert.equal(s.get('perfprobe_gpu_utilization_percent{gpu="1",uuid="",name=""}'), 0, '0 % is a reading, not unknown');
  assert.equal(s.get('perfprobe_gpu_memory_used_bytes{gpu="0",uuid="",name=""}'), 1024 * 1048576);
  assert.equal(s.get('perfprobe_gpu_memory_total_bytes{gpu="1",uuid="",name=""}'), 81920 * 1048576);
  assert.equal(s.get('perfprobe_gpu_temperature_celsius{gpu="0",uuid="",name=""}'), 61);
  assert.equal(s.get('perfprobe_gpu_power_watts{gpu="0",uuid="",name=""}'), 250.5);
  assert.equal(s.has('perfprobe_gpu_temperature_celsius{gpu="1",uuid="",name=""}'), false, 'unknown is left out');
  // A newer record replaces the gauge value on the next scrape.
  c.importRecords({ gpu: [{ timestamp: Date.now() + 1, gpuId: 0, loadPercent: 77, memoryUsedMb: 1, memoryTotalMb: 81920, memoryPercent: 0, temperatureCelsius: 60, powerWatts: 200, operation: null }] });
  assert.equal(samples(exporter.render()).get('perfprobe_gpu_utilization_percent{gpu="0",uuid="",name=""}'), 77);
  // GPU tracking off: no GPU families.
  const off = newCollector({ enableGpuTracking: false });
  off.importRecords({ gpu: [{ timestamp: now, gpuId: 0, loadPercent: 1, memoryUsedMb: 1, memoryTotalMb: 2, memoryPercent: 50, temperatureCelsius: 1, powerWatts: 1, operation: null }] });
  assert.doesNotMatch(renderPrometheus(off as never), /perfprobe_gpu_/);
});

test('label values are escaped (backslash, quote, newline)', () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const c = newCollector();
  c.recordProcessingTime('say "hi"\\now', 1);
  const text = renderPrometheus(c as never);
  assert.match(text, /perfprobe_operation_duration_seconds_count\{operation="say \\"hi\\"\\\\now"\} 1/);
});

test('OpenMetrics: counter family without _total, UNIT lines, # EOF; Accept negotiation', () => {
  const { c } = seeded();
  const om = renderPrometheus(c as never, { openMetrics: true });
  assert.ok(om.endsWith('\n# EOF\n'));
  assert.match(om, /^# TYPE perfprobe_operation_failures counter$/m);
  assert.match(om, /^perfprobe_operation_failures_total\{operation="decode"\} 1$/m);
  assert.match(om, /^# UNIT perfprobe_operation_duration_seconds seconds$/m);
  assert.equal(wantsOpenMetrics('application/openmetrics-text;version=1.0.0,text/plain;q=0.5'), true);
  assert.equal(wantsOpenMetrics('text/plain'), false);
  assert.equal(wantsOpenMetrics(undefined), false);
});

test('promtool check metrics passes on the text format', (t) => {
  const promtool = tool('promtool');
  if (!promtool) {
    t.skip('promtool not installed (Debian package prometheus)');
    return;
  }
  const { c } = seeded();
  c.recordProcessingTime('weird "name"\\x', 3);
  c.importRecords({ gpu: [{ timestamp: Date.now(), gpuId: 0, loadPercent: 5, memoryUsedMb: 10, memoryTotalMb: 100, memoryPercent: 10, temperatureCelsius: 30, powerWatts: 50, operation: null }] });
  const text = new PrometheusExporter(c as never, { liveGpu: false }).render();
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: HANG_GUARD_MS });
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}\n${text}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint warnings');
});

test('a scrape reads running totals only: no record walk, no windowed statistics', () => {
  const { c } = seeded();
  const calls: string[] = [];
  const spy = new Proxy(c, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const exporter = new PrometheusExporter(spy as never, { liveGpu: false });
  exporter.render();
  for (let i = 0; i < 1000; i++) c.recordProcessingTime('decode', 1);
  calls.length = 0;
  const text = exporter.render();
  assert.ok(calls.includes('cumulativeOperationStats'));
  for (const banned of ['processingRecords', 'getProcessingTimeStats', 'getOperationSummary']) {
    assert.equal(calls.includes(banned), false, `${banned} called during a scrape: ${calls.join(',')}`);
  }
  assert.match(text, /perfprobe_operation_duration_seconds_count\{operation="decode"\} 1012/);
});

test('GPU gauges read live through NVML (the stand-in library): labels gpu, uuid, name and exact values', async (t) => {
  const { join, resolve } = await import('node:path');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const root = resolve(__dirname, '..', '..');
  const lib = await fakeNvmlOrSkip(t);
  if (!lib) return;
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-prom-nvml-'));
  try {
    const script = join(dir, 'nvml.txt');
    writeFileSync(
      script,
      [
        'devices=2',
        'gpu0.name=NVIDIA "H200"', 'gpu0.uuid=GPU-11111111-2222-3333-4444-555555555555', 'gpu0.util=97',
        'gpu0.mem_total=150754820096', 'gpu0.mem_used=21474836480', 'gpu0.temp=56', 'gpu0.power_mw=690123',
        'gpu0.sm_clock=1425', 'gpu0.mem_clock=2619',
        'gpu1.name=NVIDIA H100', 'gpu1.uuid=GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', 'gpu1.util=0',
        'gpu1.mem_total=85520809984', 'gpu1.mem_used=0', 'gpu1.temp=31', 'gpu1.power_mw=71500',
        'gpu1.sm_clock=345', 'gpu1.mem_clock=1593', '',
      ].join('\n'),
    );
    const env: Record<string, string | undefined> = { ...process.env, PERFPROBE_NVML_LIBRARY: lib, PERFPROBE_FAKE_NVML_SCRIPT: script };
    for (const k of ['PERFPROBE_NVML', 'PERFPROBE_ADDON', 'NODE_OPTIONS']) delete env[k];
    const body = `
      const { PerformanceMetricsCollector } = require(${JSON.stringify(join(root, 'src', 'collector', 'index.ts'))});
      const { renderPrometheus } = require(${JSON.stringify(join(root, 'src', 'exporters', 'prometheus.ts'))});
      const { probeInfo } = require(${JSON.stringify(join(root, 'src', 'probes', 'index.ts'))});
      const c = new PerformanceMetricsCollector({ enableGpuTracking: true });
      process.stdout.write('RESULT:' + JSON.stringify({ backend: probeInfo().gpu.backend, text: renderPrometheus(c) }) + '\\n');
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', body], { cwd: root, env, encoding: 'utf8', timeout: HANG_GUARD_MS });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT:'));
    assert.ok(line, `child failed (${r.status}): ${r.stderr}`);
    const { backend, text } = JSON.parse(line.slice(7)) as { backend: string; text: string };
    if (backend !== 'nvml') {
      if (process.env.CI === 'true') assert.fail(`NVML backend not in use with the stand-in library: ${backend}`);
      t.skip(`NVML backend not in use (addon not built?): ${backend}`);
      return;
    }
    const s = samples(text);
    const l0 = '{gpu="0",uuid="GPU-11111111-2222-3333-4444-555555555555",name="NVIDIA \\"H200\\""}';
    const l1 = '{gpu="1",uuid="GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",name="NVIDIA H100"}';
    assert.equal(s.get(`perfprobe_gpu_utilization_percent${l0}`), 97, text);
    assert.equal(s.get(`perfprobe_gpu_utilization_percent${l1}`), 0);
    assert.equal(s.get(`perfprobe_gpu_memory_used_bytes${l0}`), 21474836480);
    assert.equal(s.get(`perfprobe_gpu_memory_used_bytes${l1}`), 0);
    assert.equal(s.get(`perfprobe_gpu_memory_total_bytes${l0}`), 150754820096);
    assert.equal(s.get(`perfprobe_gpu_temperature_celsius${l1}`), 31);
    assert.equal(s.get(`perfprobe_gpu_power_watts${l0}`), 690.123);
    assert.equal(s.get(`perfprobe_gpu_sm_clock_hertz${l0}`), 1425e6);
    assert.equal(s.get(`perfprobe_gpu_memory_clock_hertz${l1}`), 1593e6);
    const promtool = tool('promtool');
    if (promtool) {
      const check = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: HANG_GUARD_MS });
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
