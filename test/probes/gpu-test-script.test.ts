// `npm run test:gpu` (scripts/test-gpu.mjs) is the check on a real GPU. Here it
// runs end to end (--no-load) against the stand-in NVML with a stand-in
// nvidia-smi on PATH that answers what the stand-in was scripted with, so the
// script is known to run, parse nvidia-smi's formats and catch disagreements
// before it meets a GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fakeNvmlOrSkip } from '../helpers/fake-nvml-helpers.js';

const root = resolve(__dirname, '..', '..');

// Two GPUs: GPU 0 with every depth field scripted, ECC on and MIG off; GPU 1 idle in P8, ECC off, MIG on.
const SCRIPT = `devices=2
gpu0.name=Fake H200
gpu0.uuid=GPU-test-0
gpu0.util=40
gpu0.mem_total=85899345920
gpu0.mem_used=4294967296
gpu0.mem_reserved=0
gpu0.temp=45
gpu0.power_mw=120000
gpu0.power_limit_mw=700000
gpu0.sm_clock=1980
gpu0.mem_clock=2619
gpu0.pstate=2
gpu0.clocks_reasons=68
gpu0.mem_temp=52
gpu0.enc_util=3
gpu0.dec_util=7
gpu0.ecc=1
gpu0.ecc_cv=3
gpu0.ecc_uv=0
gpu0.ecc_ca=12
gpu0.ecc_ua=1
gpu0.pcie_gen=4
gpu0.pcie_width=16
gpu0.pcie_tx_kbps=1000
gpu0.pcie_rx_kbps=2000
gpu0.procs=3999999:2147483648
gpu1.name=Fake H200
gpu1.uuid=GPU-test-1
gpu1.util=11
gpu1.mem_total=85899345920
gpu1.mem_used=2147483648
gpu1.mem_reserved=0
gpu1.temp=41
gpu1.power_mw=70000
gpu1.power_limit_mw=700000
gpu1.pstate=8
gpu1.clocks_reasons=1
gpu1.mem_temp=38
gpu1.ecc=0
gpu1.mig=1
gpu1.mig_devices=1:0:10737418240:1073741824
gpu1.pcie_width=8
`;

/** nvidia-smi's answers for SCRIPT, as nvidia-smi prints them with nounits. */
function answers(change: (g: Array<Record<string, string>>) => void = () => {}): object {
  const common = { name: 'Fake H200', 'driver_version': '580.65.06', 'memory.total': '81920', 'power.limit': '700.00', 'clocks.sm': '1980', 'clocks.mem': '2619' };
  const gpus: Array<Record<string, string>> = [
    {
      ...common, index: '0', uuid: 'GPU-test-0', 'utilization.gpu': '40', 'memory.used': '4096', 'temperature.gpu': '45', 'power.draw': '120.00',
      pstate: 'P2', 'clocks_event_reasons.active': '0x0000000000000044', 'clocks_throttle_reasons.active': '0x0000000000000044',
      'temperature.memory': '52', 'utilization.encoder': '3', 'utilization.decoder': '7', 'pcie.link.gen.current': '4', 'pcie.link.width.current': '16',
      'ecc.mode.current': 'Enabled', 'ecc.errors.corrected.volatile.total': '3', 'ecc.errors.uncorrected.volatile.total': '0',
      'ecc.errors.corrected.aggregate.total': '12', 'ecc.errors.uncorrected.aggregate.total': '1', 'mig.mode.current': 'Disabled', 'mig.mode.pending': 'Disabled',
    },
    {
      ...common, index: '1', uuid: 'GPU-test-1', 'utilization.gpu': '11', 'memory.used': '2048', 'temperature.gpu': '41', 'power.draw': '70.00',
      pstate: 'P8', 'clocks_event_reasons.active': '0x0000000000000001', 'clocks_throttle_reasons.active': '0x0000000000000001',
      'temperature.memory': '38', 'utilization.encoder': '[N/A]', 'utilization.decoder': '[N/A]', 'pcie.link.gen.current': '5', 'pcie.link.width.current': '8',
      'ecc.mode.current': 'Disabled', 'ecc.errors.corrected.volatile.total': '[N/A]', 'ecc.errors.uncorrected.volatile.total': '[N/A]',
      'ecc.errors.corrected.aggregate.total': '[N/A]', 'ecc.errors.uncorrected.aggregate.total': '[N/A]', 'mig.mode.current': 'Enabled', 'mig.mode.pending': 'Disabled',
    },
  ];
  change(gpus);
  return { gpus, apps: [{ gpu_uuid: 'GPU-test-0', pid: '3999999', used_memory: '2048' }], invalid: [] as string[] };
}

interface Row { what: string; perfprobe: unknown; smi: unknown; tolerance: string; ok: boolean | undefined }

function runTestGpu(lib: string, smiAnswers: object): { status: number | null; stdout: string; stderr: string; rows: Row[] } {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-test-gpu-'));
  try {
    const bin = join(dir, 'bin');
    spawnSync('mkdir', [bin]);
    const smi = join(bin, 'nvidia-smi');
    writeFileSync(smi, `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'test', 'helpers', 'fake-nvidia-smi.mjs')}" "$@"\n`);
    chmodSync(smi, 0o755);
    writeFileSync(join(dir, 'answers.json'), JSON.stringify(smiAnswers));
    writeFileSync(join(dir, 'script.txt'), SCRIPT);
    const env: Record<string, string | undefined> = { ...process.env };
    for (const k of ['PERFPROBE_NVML', 'PERFPROBE_ADDON', 'NODE_OPTIONS']) delete env[k];
    Object.assign(env, {
      PATH: `${bin}:${process.env.PATH}`,
      PERFPROBE_NVML_LIBRARY: lib,
      PERFPROBE_FAKE_NVML_SCRIPT: join(dir, 'script.txt'),
      FAKE_NVIDIA_SMI: join(dir, 'answers.json'),
      OUT: dir,
    });
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'test-gpu.mjs'), '--no-load', '--latency-info'], { cwd: root, env, encoding: 'utf8', timeout: 300_000 });
    let rows: Row[] = [];
    try {
      rows = JSON.parse(readFileSync(join(dir, 'test-gpu.json'), 'utf8')).rows;
    } catch {
      rows = [];
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rowOf = (rows: Row[], what: string): Row => {
  const r = rows.find((x) => x.what === what);
  assert.ok(r, `no row "${what}" among ${rows.map((x) => x.what).join(' | ')}`);
  return r;
};

test('test:gpu against the stand-in: every depth field agrees with nvidia-smi, events register, PCIe throughput answers, exit 0', async (t) => {
  const lib = await fakeNvmlOrSkip(t);
  if (!lib) return;
  const r = runTestGpu(lib, answers());
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const failed = r.rows.filter((x) => x.ok === false);
  assert.deepEqual(failed, []);
  // The depth rows are there, checked (not info), with the scripted values.
  const checked = (what: string, perfprobe: string, smi: string): void => {
    const row = rowOf(r.rows, what);
    assert.equal(row.ok, true, what);
    assert.deepEqual([row.perfprobe, row.smi], [perfprobe, smi], what);
  };
  checked('idle GPU 0 P-state', '2', '2');
  checked('idle GPU 1 P-state', '8', '8');
  checked('idle GPU 0 clocks event reasons', 'sw_power_cap hw_thermal_slowdown', 'bits 2,6');
  checked('idle GPU 0 memory temperature C', '52', '52');
  checked('idle GPU 0 encoder utilization %', '3', '3');
  checked('idle GPU 1 encoder utilization %', 'null', 'null');
  checked('idle GPU 0 PCIe link generation', '4', '4');
  checked('idle GPU 1 PCIe link width', '8', '8');
  checked('idle GPU 0 ECC', 'counted', 'Enabled');
  checked('idle GPU 1 ECC', 'null (off or unsupported)', 'Disabled');
  checked('idle GPU 0 ECC correctedAggregate', '12', '12');
  checked('idle GPU 0 ECC uncorrectedAggregate', '1', '1');
  checked('idle GPU 0 MIG mode current/pending', 'false/false', 'false/false');
  assert.equal(rowOf(r.rows, 'idle app pid 3999999 on GPU-test-0').ok, true);
  assert.equal(rowOf(r.rows, 'events: watchGpuEvents native thread running').ok, true);
  assert.equal(rowOf(r.rows, 'events: GPU 0 registered').ok, true);
  checked('PCIe throughput GPU 0 tx / rx KB/s', '1000 / 2000', '>= 0');
  // Latencies are reported, not judged, here (--latency-info): on a loaded machine the load sets them.
  for (const what of ['latency: native full sample (sampler path) us', 'latency: nvidia-smi / native full sample']) {
    const row = rowOf(r.rows, what);
    assert.deepEqual([row.tolerance, row.ok], ['info', undefined], what);
    assert.ok(Number.parseFloat(String(row.perfprobe)) > 0, `${what}: ${String(row.perfprobe)}`);
  }
  assert.match(r.stdout, /all checks agree/);
});

test('test:gpu against the stand-in: a P-state, ECC count or MIG mode nvidia-smi disagrees with fails the run; an older nvidia-smi\'s throttle field is used', async (t) => {
  const lib = await fakeNvmlOrSkip(t);
  if (!lib) return;
  const smi = answers((g) => {
    g[0]!.pstate = 'P3';
    g[0]!['ecc.errors.corrected.volatile.total'] = '4';
    g[1]!['mig.mode.pending'] = 'Enabled';
  }) as { invalid: string[] };
  smi.invalid = ['clocks_event_reasons.active'];
  const r = runTestGpu(lib, smi);
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  const failed = r.rows.filter((x) => x.ok === false).map((x) => x.what);
  assert.deepEqual(failed.sort(), ['idle GPU 0 ECC correctedVolatile', 'idle GPU 0 P-state', 'idle GPU 1 MIG mode current/pending']);
  const reasons = rowOf(r.rows, 'idle GPU 0 clocks event reasons');
  assert.equal(reasons.ok, true);
  assert.match(reasons.tolerance, /clocks_throttle_reasons\.active/);
  assert.match(r.stdout, /3 check\(s\) disagree/);
});
