#!/usr/bin/env node
// `npm run test:gpu`: checks perfprobe against nvidia-smi on a machine with a
// real NVIDIA GPU (docs: ../shared/GPU.md "What the check should show").
//
//  1. the addon loads and reports backend nvml with the driver version;
//  2. idle: every field agrees with nvidia-smi read at the same moment (names
//     and UUIDs equal, memory total equal, used within 1 %, temperature within
//     2 C, power within 10 %, power limit within 1 W);
//  3. under a PyTorch matmul load: the sampler reports utilization > 90 % and
//     power well above idle, the load's pid is in the process list with GPU
//     memory, and the fields agree with nvidia-smi again;
//  4. latency: one full sample of all devices (native and as objects), the
//     raw NVML calls it makes, and one nvidia-smi query, side by side.
// Prints a table, writes the figures as JSON ($OUT/test-gpu.json when $OUT is
// set, else build/test-gpu.json) and exits 1 on any disagreement.
//
// Runs from dist/ (npx tsc -p tsconfig.json) and build/Release/perfprobe.node
// with no node_modules, so a Node binary brought to the GPU machine is enough:
//   .gpu/node scripts/test-gpu.mjs
// Options: --no-load (skip step 3), --load-seconds=N (default 15).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const withLoad = !args.includes('--no-load');
const loadSeconds = Number(args.find((a) => a.startsWith('--load-seconds='))?.split('=')[1] ?? 15);

function fail(message) {
  console.error(`test:gpu: ${message}`);
  process.exit(1);
}

// ---- 0. preconditions ----
const smiProbe = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
if (smiProbe.error || smiProbe.status !== 0) {
  fail(`no NVIDIA GPU/nvidia-smi on this machine (${smiProbe.error ? smiProbe.error.message : (smiProbe.stderr || smiProbe.stdout).trim()}). ` +
    'Run this on a machine with an NVIDIA GPU and driver (see ../shared/GPU.md).');
}
// The addon by file name, so no node_modules (node-gyp-build) is needed.
const addonFile = [join(root, 'build', 'Release', 'perfprobe.node'), join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'perfprobe.node')]
  .find((file) => existsSync(file));
if (!process.env.PERFPROBE_ADDON && addonFile) process.env.PERFPROBE_ADDON = addonFile;
if (!existsSync(join(root, 'dist', 'probes', 'gpu.js'))) fail('dist/ is missing: run `npx tsc -p tsconfig.json` (or carry dist/ to this machine)');
const gpu = require(join(root, 'dist', 'probes', 'gpu.js'));
const { Sampler } = require(join(root, 'dist', 'probes', 'sampler.js'));
const layout = require(join(root, 'dist', 'probes', 'layout.js'));
const { decodeGpuBlock } = require(join(root, 'dist', 'probes', 'gpu-nvml.js'));

const rows = [];
let failures = 0;
function row(what, perfprobe, smi, tolerance, ok) {
  rows.push({ what, perfprobe, smi, tolerance, ok });
  if (ok === false) failures++;
}
const f = (v, d = 1) => (v == null || Number.isNaN(v) ? 'null' : typeof v === 'number' ? v.toFixed(d) : String(v));

// ---- 1. backend ----
const info = gpu.gpuBackendInfo();
const smiDriver = spawnSync('nvidia-smi', ['--query-gpu=driver_version', '--format=csv,noheader'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim();
row('backend', info.backend, 'nvml', 'equal', info.backend === 'nvml');
if (info.backend !== 'nvml') {
  print();
  fail(`NVML did not load: ${info.reason}`);
}
row('driver version', info.driverVersion, smiDriver, 'equal', info.driverVersion === smiDriver);

// ---- 2. fields vs nvidia-smi at the same moment ----
const QUERY = 'index,uuid,name,utilization.gpu,memory.total,memory.used,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.mem';
function smiQuery() {
  const r = spawnSync('nvidia-smi', [`--query-gpu=${QUERY}`, '--format=csv,noheader,nounits'], { encoding: 'utf8' });
  if (r.status !== 0) fail(`nvidia-smi --query-gpu failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((line) => {
    const c = line.split(',').map((s) => s.trim());
    const n = (s) => (s === '[N/A]' || s === 'N/A' || s === '' ? null : Number(s));
    return { index: n(c[0]), uuid: c[1], name: c[2], util: n(c[3]), memTotal: n(c[4]), memUsed: n(c[5]), temp: n(c[6]),
      power: n(c[7]), powerLimit: n(c[8]), sm: n(c[9]), mem: n(c[10]) };
  });
}
// perfprobe just before and just after nvidia-smi: a live value agrees when
// nvidia-smi's lies within [min, max] of the two, widened by the tolerance.
function compare(label) {
  const a = gpu.readGpusSync();
  const smi = smiQuery();
  const b = gpu.readGpusSync();
  row(`${label}: device count`, a.length, smi.length, 'equal', a.length === smi.length);
  for (let i = 0; i < Math.min(a.length, smi.length); i++) {
    const p = a[i], q = b[i], s = smi[i], tag = `${label} GPU ${i}`;
    const within = (x, y, v, tol) => x != null && y != null && v != null && v >= Math.min(x, y) - tol && v <= Math.max(x, y) + tol;
    row(`${tag} name`, p.name, s.name, 'equal', p.name === s.name);
    row(`${tag} uuid`, p.uuid, s.uuid, 'equal', p.uuid === s.uuid);
    row(`${tag} memory total MiB`, f(p.memoryTotalMb), f(s.memTotal), '< 1 MiB', p.memoryTotalMb != null && Math.abs(p.memoryTotalMb - s.memTotal) < 1);
    const usedTol = Math.max(0.01 * (s.memUsed ?? 0), 1);
    row(`${tag} memory used MiB (v2)`, f(p.memoryUsedMb), f(s.memUsed), '1 % (min 1 MiB)', within(p.memoryUsedMb, q.memoryUsedMb, s.memUsed, usedTol));
    row(`${tag} temperature C`, f(p.temperatureCelsius, 0), f(s.temp, 0), '2 C', within(p.temperatureCelsius, q.temperatureCelsius, s.temp, 2));
    row(`${tag} power W`, f(p.powerWatts), f(s.power), '10 %', within(p.powerWatts, q.powerWatts, s.power, 0.1 * (s.power ?? 0)));
    row(`${tag} power limit W`, f(p.powerLimitWatts), f(s.powerLimit), '1 W', p.powerLimitWatts != null && Math.abs(p.powerLimitWatts - s.powerLimit) <= 1);
    row(`${tag} utilization %`, f(p.loadPercent, 0), f(s.util, 0), 'info', undefined);
    row(`${tag} SM clock MHz`, f(p.smClockMhz, 0), f(s.sm, 0), 'info', undefined);
    row(`${tag} memory clock MHz`, f(p.memoryClockMhz, 0), f(s.mem, 0), 'info', undefined);
  }
  return { perfprobe: b, smi };
}
const idle = compare('idle');

// ---- 3. under load ----
let load = null;
if (withLoad) load = await underLoad();

async function underLoad() {
  const py = `
import torch, time
a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
t = time.time()
while time.time() - t < ${loadSeconds}:
    for _ in range(50): a @ a
    torch.cuda.synchronize()
`;
  const child = spawn('python3', ['-c', py], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => {
    child.on('exit', (code) => r(code));
    child.on('error', (err) => { stderr += String(err); r(-1); });
  });
  let childDone = false;
  exited.then(() => (childDone = true));
  // cuBLAS needs a few seconds: wait until nvidia-smi shows more than 50 %.
  const t0 = Date.now();
  while (!childDone && Date.now() - t0 < 60_000) {
    if ((smiQuery()[0]?.util ?? 0) > 50) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (childDone) {
    row('load: python3/torch matmul started', 'exited', 'running', '', false);
    console.error(stderr.slice(-2000));
    return null;
  }
  const sampler = new Sampler({ intervalMs: 10, gpu: true });
  sampler.start();
  await new Promise((r) => setTimeout(r, 2000));
  const batch = sampler.drain();
  sampler.stop();
  const loads = [], powers = [];
  for (let i = 0; i < batch.count; i++) {
    const off = i * batch.recordSlots + layout.RECORD_GPU_OFFSET;
    const r = decodeGpuBlock(batch.data, off, 0, 0);
    if (r.loadPercent != null) loads.push(r.loadPercent);
    if (r.powerWatts != null) powers.push(r.powerWatts);
  }
  const median = (xs) => (xs.length ? [...xs].sort((x, y) => x - y)[xs.length >> 1] : null);
  const idlePower = idle.perfprobe[0]?.powerWatts ?? null;
  row('load: sampler records in 2 s at 10 ms', batch.count, '~200', '>= 150', batch.count >= 150);
  row('load: sampler median utilization %', f(median(loads), 0), '> 90', '> 90 %', (median(loads) ?? 0) > 90);
  row('load: sampler median power W', f(median(powers)), `idle ${f(idlePower)}`, '> 1.5x idle', median(powers) != null && idlePower != null && median(powers) > 1.5 * idlePower);
  const procs = gpu.readGpusSync()[0]?.processes ?? [];
  const mine = procs.find((p) => p.pid === child.pid);
  row('load: torch pid in process list', mine ? `pid ${mine.pid}` : `not among ${procs.map((p) => p.pid).join(',') || 'none'}`, `pid ${child.pid}`, 'listed', !!mine);
  row('load: torch process GPU memory MiB', f(mine?.usedMemoryMb), '> 0', '> 0', (mine?.usedMemoryMb ?? 0) > 0);
  const cmp = compare('load');
  await exited;
  return { samples: batch.count, medianLoad: median(loads), medianPower: median(powers), idlePower, torchPid: child.pid, torchMemoryMb: mine?.usedMemoryMb ?? null, compare: cmp };
}

// ---- 4. latency ----
// The raw-call floor comes from the bench program (native/bench: not in the addon).
const { runGpuBench } = await import(pathToFileURL(join(root, 'scripts', 'build-gpu-bench.mjs')).href);
const bench = runGpuBench(gpu.gpuBackendInfo().library ?? '', 20000);
const N = 20000;
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) gpu.readGpusSync();
const objectsNs = Number(process.hrtime.bigint() - t) / N;
const smiTimes = [];
for (let i = 0; i < 5; i++) {
  t = process.hrtime.bigint();
  smiQuery();
  smiTimes.push(Number(process.hrtime.bigint() - t));
}
smiTimes.sort((a, b) => a - b);
const smiNs = smiTimes[2];
row('latency: raw NVML calls of one full sample us', f(bench.rawNsPerSample / 1000, 2), '', `${bench.callsPerSample} calls`, undefined);
row('latency: native full sample (sampler path) us', f(bench.fullNsPerSample / 1000, 2), '', '<= 1.5x raw', bench.fullNsPerSample <= 1.5 * bench.rawNsPerSample);
row('latency: readGpusSync() as objects us', f(objectsNs / 1000, 2), '', 'info', undefined);
row('latency: one nvidia-smi --query-gpu ms', f(smiNs / 1e6, 2), '', 'info', undefined);
row('latency: nvidia-smi / native full sample', `${f(smiNs / bench.fullNsPerSample, 0)}x`, '', '>= 1000x', smiNs / bench.fullNsPerSample >= 1000);

function print() {
  const head = ['check', 'perfprobe', 'nvidia-smi / expected', 'tolerance', 'ok'];
  const body = rows.map((r) => [r.what, String(r.perfprobe ?? ''), String(r.smi ?? ''), r.tolerance ?? '', r.ok === undefined ? '' : r.ok ? 'yes' : 'NO']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(w[i])).join(' | ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
  for (const b of body) console.log(line(b));
}
print();
const card = idle.smi.map((s) => s.name).join(', ');
const result = { date: new Date().toISOString(), card, driver: info.driverVersion, rows, bench: { ...bench, objectsNs, smiNs }, load };
const outDir = process.env.OUT || join(root, 'build');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'test-gpu.json'), JSON.stringify(result, null, 2));
console.log(`\n${card}, driver ${info.driverVersion}: ${failures === 0 ? 'all checks agree' : `${failures} check(s) disagree`}`);
process.exit(failures === 0 ? 0 : 1);
