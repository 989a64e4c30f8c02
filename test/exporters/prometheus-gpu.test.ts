/**
 * The GPU families of /metrics, read live through the stand-in NVML: the
 * gauges of the GPU-depth fields with their exact values, the per-reason
 * throttle gauge, the ECC counters, `promtool check metrics`; and the opt-in
 * dcgm-exporter naming (`gpuMetricNames: 'dcgm'`, serve(), the handler,
 * `perfprobe serve --gpu-metric-names`), checked against the list of
 * dcgm-exporter metrics in ./fixtures/dcgm-fields.csv (looked up in
 * NVIDIA/dcgm-exporter's etc/default-counters.csv and
 * etc/dcp-metrics-included.csv and DCGM's field identifiers; the file says
 * which each came from): names, types, labels and units.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetricsHandler } from '../../src/http/handler.js';
import { renderPrometheus } from '../../src/exporters/prometheus.js';
import { GPU_GAUGES, CLOCKS_EVENT_REASONS } from '../../src/schema/gpu.js';
import { gpuChild, standInNvml } from '../helpers/fake-nvml-helpers.js';
import { tool } from '../helpers/export-helpers.js';
import { runCli } from '../helpers/cli-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const MiB = 1048576;
const standIn = standInNvml();

const FIXTURE = readFileSync(join(__dirname, 'fixtures', 'dcgm-fields.csv'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => {
    const [name, type, unit, source] = l.split(',');
    return { name: name!, type: type!, unit: unit!, source: source! };
  });
const DCGM = new Map(FIXTURE.map((f) => [f.name, f]));

const SCRIPT = [
  'devices=2',
  'gpu0.name=NVIDIA H200', 'gpu0.uuid=GPU-11111111-2222-3333-4444-555555555555', 'gpu0.util=97', 'gpu0.memutil=41',
  `gpu0.mem_total=${143771 * MiB}`, `gpu0.mem_used=${20480 * MiB}`, `gpu0.mem_reserved=${615 * MiB}`, `gpu0.mem_free=${(143771 - 20480 - 615) * MiB}`,
  'gpu0.temp=56', 'gpu0.power_mw=690123', 'gpu0.power_limit_mw=700000', 'gpu0.sm_clock=1425', 'gpu0.mem_clock=2619', 'gpu0.fan=0',
  'gpu0.pstate=0', `gpu0.clocks_reasons=${0x4 + 2 ** 12}`, 'gpu0.mem_temp=71', 'gpu0.enc_util=5', 'gpu0.dec_util=6',
  'gpu0.pcie_gen=5', 'gpu0.pcie_width=16', 'gpu0.ecc=1', 'gpu0.ecc_cv=3', 'gpu0.ecc_uv=0', 'gpu0.ecc_ca=12', 'gpu0.ecc_ua=1',
  'gpu1.name=NVIDIA A100', 'gpu1.uuid=GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', 'gpu1.ecc=0', 'gpu1.unsupported=pstate,reasons,fan',
  'gpu1.mig=1', `gpu1.mig_devices=1:0:${10240 * MiB}:${1024 * MiB},2:0:${20480 * MiB}:0`,
].join('\n');

function scrape(t: { skip(m: string): void }): { perfprobe: string; dcgm: string; dcgmOm: string; om: string; http: string; hostname: string } | null {
  if (standIn.whyNot) {
    t.skip(standIn.whyNot);
    return null;
  }
  const { v } = gpuChild(`
    const { PerformanceMetricsCollector, renderPrometheus, serve } = src('index.ts');
    const c = new PerformanceMetricsCollector({ enableGpuTracking: true });
    const perfprobe = renderPrometheus(c);
    const dcgm = renderPrometheus(c, { gpuMetricNames: 'dcgm' });
    const dcgmOm = renderPrometheus(c, { gpuMetricNames: 'dcgm', openMetrics: true });
    const om = renderPrometheus(c, { openMetrics: true });
    const server = await serve({ port: 0, collector: c, gpuMetricNames: 'dcgm' });
    const http = await (await fetch(server.url + '/metrics')).text();
    await server.close();
    c.close();
    done({ perfprobe, dcgm, dcgmOm, om, http, hostname: require('node:os').hostname() });
  `, { lib: standIn.libs!.full, script: SCRIPT });
  return v;
}

/** sample line -> value, keyed by the whole `name{labels}`. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1]!, x[2]!]));
}

const L0 = 'gpu="0",uuid="GPU-11111111-2222-3333-4444-555555555555",name="NVIDIA H200"';
const L1 = 'gpu="1",uuid="GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",name="NVIDIA A100"';

test('perfprobe names: every GPU-depth gauge with its exact value, reasons 0/1, ECC counters; unsupported left out; promtool-clean', (t) => {
  const r = scrape(t);
  if (!r) return;
  const s = samples(r.perfprobe);
  const expect: Array<[string, number]> = [
    ['perfprobe_gpu_memory_utilization_percent', 41],
    ['perfprobe_gpu_memory_free_bytes', (143771 - 20480 - 615) * MiB],
    ['perfprobe_gpu_memory_reserved_bytes', 615 * MiB],
    ['perfprobe_gpu_memory_temperature_celsius', 71],
    ['perfprobe_gpu_power_limit_watts', 700],
    ['perfprobe_gpu_fan_speed_percent', 0],
    ['perfprobe_gpu_performance_state', 0],
    ['perfprobe_gpu_encoder_utilization_percent', 5],
    ['perfprobe_gpu_decoder_utilization_percent', 6],
    ['perfprobe_gpu_pcie_link_generation', 5],
    ['perfprobe_gpu_pcie_link_width', 16],
  ];
  for (const [name, value] of expect) assert.equal(s.get(`${name}{${L0}}`), value, name);
  for (const name of ['perfprobe_gpu_performance_state', 'perfprobe_gpu_fan_speed_percent']) {
    assert.equal(s.has(`${name}{${L1}}`), false, `${name}: unsupported on GPU 1, left out (never 0)`);
  }
  for (const { name } of CLOCKS_EVENT_REASONS) {
    assert.equal(s.get(`perfprobe_gpu_clocks_event_reason{${L0},reason="${name}"}`), name === 'sw_power_cap' ? 1 : 0, name);
  }
  assert.equal(s.get(`perfprobe_gpu_clocks_event_reason{${L0},reason="bit_12"}`), 1, 'an unknown bit that is set');
  assert.equal([...s.keys()].some((k) => k.startsWith(`perfprobe_gpu_clocks_event_reason{${L1}`)), false, 'reasons unsupported: no series');
  assert.equal(s.get(`perfprobe_gpu_ecc_errors_total{${L0},error="corrected",counter="volatile"}`), 3);
  assert.equal(s.get(`perfprobe_gpu_ecc_errors_total{${L0},error="uncorrected",counter="volatile"}`), 0);
  assert.equal(s.get(`perfprobe_gpu_ecc_errors_total{${L0},error="corrected",counter="aggregate"}`), 12);
  assert.equal(s.get(`perfprobe_gpu_ecc_errors_total{${L0},error="uncorrected",counter="aggregate"}`), 1);
  assert.equal([...s.keys()].some((k) => k.startsWith(`perfprobe_gpu_ecc_errors_total{${L1}`)), false, 'ECC off: no series');
  assert.equal(types(r.perfprobe).get('perfprobe_gpu_ecc_errors_total'), 'counter');
  // OpenMetrics: counters are declared without _total; the samples keep it.
  assert.match(r.om, /^# TYPE perfprobe_gpu_ecc_errors counter$/m);
  assert.match(r.om, /^perfprobe_gpu_ecc_errors_total\{gpu="0",.*\} 3$/m);
  assert.ok(r.om.endsWith('# EOF\n'));
  const promtool = tool('promtool');
  if (promtool) {
    const check = spawnSync(promtool, ['check', 'metrics'], { input: r.perfprobe, encoding: 'utf8', timeout: HANG_GUARD_MS });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  } else t.skip('promtool not installed (Debian package prometheus)');
});

test("dcgm names: every DCGM family is one of dcgm-exporter's, with its type, labels gpu/UUID/modelName/Hostname and its units (MiB, MHz, W)", (t) => {
  const r = scrape(t);
  if (!r) return;
  const ty = types(r.dcgm);
  const exposed = [...ty.keys()].filter((n) => n.startsWith('DCGM_'));
  for (const name of exposed) {
    const f = DCGM.get(name);
    assert.ok(f, `${name} is not a dcgm-exporter metric (fixtures/dcgm-fields.csv)`);
    assert.equal(ty.get(name), f.type, `${name} type`);
  }
  // Every listed metric that perfprobe has a figure for on this script is exposed.
  const expected = [...DCGM.keys()];
  assert.deepEqual(exposed.sort(), expected.sort(), 'every dcgm metric of the fixture is exposed (the stand-in supports each)');
  assert.equal([...ty.keys()].some((n) => n.startsWith('perfprobe_gpu_') && n !== 'perfprobe_gpu_xid_errors_total'), false, 'no perfprobe GPU names in dcgm mode');
  const host = r.hostname;
  const D0 = `gpu="0",UUID="GPU-11111111-2222-3333-4444-555555555555",modelName="NVIDIA H200",Hostname="${host}"`;
  const D1 = `gpu="1",UUID="GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",modelName="NVIDIA A100",Hostname="${host}"`;
  const s = samples(r.dcgm);
  const expect: Array<[string, number]> = [
    ['DCGM_FI_DEV_GPU_UTIL', 97],
    ['DCGM_FI_DEV_MEM_COPY_UTIL', 41],
    ['DCGM_FI_DEV_FB_USED', 20480],
    ['DCGM_FI_DEV_FB_FREE', 143771 - 20480 - 615],
    ['DCGM_FI_DEV_FB_RESERVED', 615],
    ['DCGM_FI_DEV_FB_TOTAL', 143771],
    ['DCGM_FI_DEV_GPU_TEMP', 56],
    ['DCGM_FI_DEV_MEMORY_TEMP', 71],
    ['DCGM_FI_DEV_POWER_USAGE', 690.123],
    ['DCGM_FI_DEV_ENFORCED_POWER_LIMIT', 700],
    ['DCGM_FI_DEV_SM_CLOCK', 1425],
    ['DCGM_FI_DEV_MEM_CLOCK', 2619],
    ['DCGM_FI_DEV_FAN_SPEED', 0],
    ['DCGM_FI_DEV_PSTATE', 0],
    ['DCGM_FI_DEV_ENC_UTIL', 5],
    ['DCGM_FI_DEV_DEC_UTIL', 6],
    ['DCGM_FI_DEV_PCIE_LINK_GEN', 5],
    ['DCGM_FI_DEV_PCIE_LINK_WIDTH', 16],
    ['DCGM_FI_DEV_CLOCKS_EVENT_REASONS', 0x4 + 2 ** 12],
    ['DCGM_FI_DEV_XID_ERRORS', 0],
    ['DCGM_FI_DEV_ECC_SBE_VOL_TOTAL', 3],
    ['DCGM_FI_DEV_ECC_DBE_VOL_TOTAL', 0],
    ['DCGM_FI_DEV_ECC_SBE_AGG_TOTAL', 12],
    ['DCGM_FI_DEV_ECC_DBE_AGG_TOTAL', 1],
  ];
  for (const [name, value] of expect) assert.equal(s.get(`${name}{${D0}}`), value, `${name} (${DCGM.get(name)?.unit})`);
  // MIG: the parent's series plus each MIG device's memory, labelled GPU_I_ID, in MiB.
  assert.equal(s.get(`DCGM_FI_DEV_FB_USED{${D1},GPU_I_ID="1"}`), 1024);
  assert.equal(s.get(`DCGM_FI_DEV_FB_FREE{${D1},GPU_I_ID="1"}`), 10240 - 1024);
  assert.equal(s.get(`DCGM_FI_DEV_FB_TOTAL{${D1},GPU_I_ID="2"}`), 20480);
  assert.equal(s.has(`DCGM_FI_DEV_PSTATE{${D1}}`), false, 'unsupported: left out');
  // Every sample carries exactly dcgm-exporter's labels.
  for (const key of s.keys()) {
    if (!key.startsWith('DCGM_')) continue;
    const names = [...key.matchAll(/([A-Za-z_]+)="/g)].map((x) => x[1]).join(',');
    assert.ok(names === 'gpu,UUID,modelName,Hostname' || names === 'gpu,UUID,modelName,Hostname,GPU_I_ID', `${key}: ${names}`);
  }
  // serve({ gpuMetricNames: 'dcgm' }) serves the same families.
  assert.deepEqual([...types(r.http).keys()].filter((n) => n.startsWith('DCGM_')).sort(), exposed.sort());
  // OpenMetrics: counters must end in _total there, which dcgm's do not: the ECC families are declared unknown.
  assert.match(r.dcgmOm, /^# TYPE DCGM_FI_DEV_ECC_SBE_VOL_TOTAL unknown$/m);
  assert.ok(r.dcgmOm.endsWith('# EOF\n'));
  // promtool parses it; its only complaints are the ones dcgm-exporter's own output gets (camelCase modelName,
  // counters named _TOTAL), nothing perfprobe added.
  const promtool = tool('promtool');
  if (!promtool) {
    t.skip('promtool not installed (Debian package prometheus)');
    return;
  }
  const check = spawnSync(promtool, ['check', 'metrics'], { input: r.dcgm, encoding: 'utf8', timeout: HANG_GUARD_MS });
  assert.notEqual(check.status, 1, `promtool could not parse it: ${check.stderr}`);
  const problems = `${check.stdout}${check.stderr}`.trim().split('\n').filter(Boolean);
  assert.ok(problems.length > 0);
  for (const p of problems) {
    assert.ok(
      /^DCGM_FI_\S+ label names should be written in 'snake_case' not 'camelCase'$/.test(p) ||
        /^DCGM_FI_DEV_ECC_(SBE|DBE)_(VOL|AGG)_TOTAL counter metrics should have "_total" suffix$/.test(p),
      `promtool: ${p}`,
    );
  }
});

test('gpuMetricNames is checked: renderPrometheus and createMetricsHandler name it; perfprobe serve refuses an unknown value', async () => {
  const c = { cumulativeOperationStats: () => ({ boundsMs: [], operations: [] }), memoryRecords: () => [], gpuRecords: () => [] };
  assert.throws(() => renderPrometheus(c as never, { gpuMetricNames: 'nvidia' as never }), /^TypeError: gpuMetricNames must be 'perfprobe' or 'dcgm', got "nvidia"$/);
  assert.throws(() => createMetricsHandler(c as never, { gpuMetricNames: 5 as never }), /gpuMetricNames must be 'perfprobe' or 'dcgm', got 5/);
  const r = await runCli(['serve', '--gpu-metric-names', 'prometheus', '--port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--gpu-metric-names must be perfprobe or dcgm, got "prometheus"/);
  assert.equal(GPU_GAUGES.every((g) => g.dcgm === null || DCGM.has(g.dcgm.name)), true, 'every dcgm name in the schema is in the fixture');
});
