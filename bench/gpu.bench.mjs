// GPU probe benchmark: perfprobe's synchronous full sample of all devices
// against the raw NVML calls it makes (the native micro-benchmark program
// perfprobe_gpu_bench, built by scripts/build-gpu-bench.mjs: not part of the
// addon), one `nvidia-smi --query-gpu` process and systeminformation
// graphics(), on the same library and script. Targets: full sample <= 1.5x the raw calls, >= 1000x faster than
// one nvidia-smi query.
//
// NVML is process-wide, so each measurement set runs in a child process (this
// file with --child). With a real driver it measures the real GPUs; without
// one it uses the stand-in NVML (build/fake-nvml, scripts/build-fake-nvml.mjs)
// twice and says so in every row name:
//   - "H200 latencies simulated": the stand-in busy-waits per call for what
//     ../shared/ANCHORS.md measured on an H200 (0.25 us simple calls, 4.6 us
//     memory, 10 us process list), so the ratios mean what they would there;
//   - "no latency": calls return at once, so the figures are perfprobe's own
//     overhead around NVML.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const require = createRequire(import.meta.url);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function nsPerCall(fn, n) {
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t) / n);
  }
  return Math.min(...rounds);
}

/** Runs in the child: measures and prints one JSON line. */
async function child() {
  const gpu = require(join(root, 'dist', 'probes', 'gpu.js'));
  const { getAddon } = require(join(root, 'dist', 'native', 'binding.js'));
  const info = gpu.gpuBackendInfo();
  if (info.backend !== 'nvml') {
    process.stdout.write(`${JSON.stringify({ info })}\n`);
    return;
  }
  const addon = getAddon();
  const devices = gpu.gpuStaticInfo().length;
  const iterations = Number(process.env.BENCH_ITERATIONS || 20000);
  gpu.readGpusSync();
  const buf = new Float64Array(Math.max(1, devices) * 16);
  const nvmlReadNs = nsPerCall(() => addon.nvmlRead(buf), iterations / 5);
  const objectsNs = nsPerCall(() => gpu.readGpusSync(), iterations / 5);
  let smiNs = null;
  const smiTimes = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync('nvidia-smi', ['--query-gpu=index,uuid,name,utilization.gpu,memory.total,memory.used,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.mem', '--format=csv,noheader,nounits'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) break;
    smiTimes.push(Number(process.hrtime.bigint() - t));
  }
  if (smiTimes.length) smiNs = median(smiTimes);
  let siNs = null;
  try {
    const si = require('systeminformation');
    const times = [];
    for (let i = 0; i < 3; i++) {
      const t = process.hrtime.bigint();
      await si.graphics();
      times.push(Number(process.hrtime.bigint() - t));
    }
    siNs = median(times);
  } catch {
    siNs = null;
  }
  process.stdout.write(`${JSON.stringify({ info, devices, nvmlReadNs, objectsNs, smiNs, siNs })}\n`);
}

async function runChild(env) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child'], {
    cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000,
  });
  const line = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !line) throw new Error(`gpu bench child failed (${r.status}): ${r.stderr}`);
  const m = JSON.parse(line);
  if (m.info.backend === 'nvml') {
    // The raw calls and the native read, measured by the bench program on the same library and script.
    const { runGpuBench } = await import(pathToFileURL(join(root, 'scripts', 'build-gpu-bench.mjs')).href);
    m.bench = runGpuBench(m.info.library, Number(process.env.BENCH_ITERATIONS || 20000), env);
  }
  return m;
}

function rowsFor(m, label) {
  const us = (ns) => (ns == null ? NaN : ns / 1000);
  const n = m.devices;
  const rows = [
    { section: 'gpu', name: `raw NVML calls of one full sample, ${n} GPU(s), ${m.bench.callsPerSample} calls (${label})`, value: us(m.bench.rawNsPerSample), unit: 'us' },
    {
      section: 'gpu', name: `full sample of all GPUs, native (sampler path) (${label})`, value: us(m.bench.fullNsPerSample), unit: 'us',
      peer: { name: 'raw NVML calls', value: us(m.bench.rawNsPerSample) }, target: '<= 1.5x raw calls',
      pass: m.bench.fullNsPerSample <= 1.5 * m.bench.rawNsPerSample,
    },
    {
      section: 'gpu', name: `full sample, nvmlRead() from JS into a Float64Array (${label})`, value: us(m.nvmlReadNs), unit: 'us',
      peer: { name: 'raw NVML calls', value: us(m.bench.rawNsPerSample) }, target: '<= 1.5x raw calls',
      pass: m.nvmlReadNs <= 1.5 * m.bench.rawNsPerSample,
    },
    {
      section: 'gpu', name: `full sample, readGpusSync() as GpuReading objects (${label})`, value: us(m.objectsNs), unit: 'us',
      peer: { name: 'raw NVML calls', value: us(m.bench.rawNsPerSample) }, target: '<= 1.5x raw calls',
      pass: m.objectsNs <= 1.5 * m.bench.rawNsPerSample,
    },
  ];
  rows.push(m.smiNs == null
    ? { section: 'gpu', name: `readGpusSync() vs one nvidia-smi --query-gpu process: n/a, no nvidia-smi here (${label})`, value: us(m.objectsNs), unit: 'us', target: '>= 1000x faster' }
    : {
      section: 'gpu', name: `readGpusSync() vs one nvidia-smi --query-gpu process (${label})`, value: us(m.objectsNs), unit: 'us',
      peer: { name: 'nvidia-smi query', value: us(m.smiNs) }, target: '>= 1000x faster', pass: m.smiNs >= 1000 * m.objectsNs,
    });
  if (m.siNs != null) {
    rows.push({
      section: 'gpu', name: `readGpusSync() vs systeminformation graphics() (${label})`, value: us(m.objectsNs), unit: 'us',
      peer: { name: 'systeminformation graphics()', value: us(m.siNs) },
    });
  }
  return rows;
}

export default async function gpuBench() {
  const real = await runChild({});
  if (real.info.backend === 'nvml') return rowsFor(real, `real NVML, driver ${real.info.driverVersion}`);
  const { buildFakeNvml } = await import(pathToFileURL(join(root, 'scripts', 'build-fake-nvml.mjs')).href);
  const libs = buildFakeNvml();
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-gpu-bench-'));
  try {
    const base = 'devices=2\ngpu0.procs=self:1073741824,4242:2147483648\ngpu1.procs=5151:1048576\n';
    const simulated = join(dir, 'simulated.txt');
    writeFileSync(simulated, `${base}spin_simple_ns=250\nspin_memory_ns=4600\nspin_procs_ns=10000\n`);
    const zero = join(dir, 'zero.txt');
    writeFileSync(zero, base);
    const env = (script) => ({ PERFPROBE_NVML_LIBRARY: libs.full, PERFPROBE_FAKE_NVML_SCRIPT: script });
    return [
      ...rowsFor(await runChild(env(simulated)), 'stand-in NVML, H200 latencies simulated'),
      ...rowsFor(await runChild(env(zero)), 'stand-in NVML, no latency: perfprobe overhead'),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--child')) await child();
