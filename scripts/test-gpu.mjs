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
// The GPU depth (issue 13) in steps 2 and 3: P-state, clocks event (throttle)
// reasons, memory temperature, encoder/decoder, PCIe link, ECC mode and counts
// and MIG mode against nvidia-smi's query fields (ECC as `nvidia-smi -q -d ECC`
// shows it: the volatile and aggregate totals), the compute apps against
// perfprobe's process table, NVML events registering (watchGpuEvents) and
// readGpuPcieThroughput(); under load the load's process with its name (from
// /proc), type and SM % (nvidia-smi pmon beside it), and the throttle reasons.
// Prints a table, writes the figures as JSON ($OUT/test-gpu.json when $OUT is
// set, else build/test-gpu.json) and exits 1 on any disagreement.
//
// Runs from dist/ (npx tsc -p tsconfig.json) and build/Release/perfprobe.node
// with no node_modules, so a Node binary brought to the GPU machine is enough:
//   .gpu/node scripts/test-gpu.mjs
// Options: --no-load (skip step 3), --load-seconds=N (default 15),
// --latency-info (the latency rows are printed, not judged: how the suite runs
// it on the stand-in, where the machine's load, not perfprobe, sets the times).
// Without a GPU, test/probes/gpu-test-script.test.ts runs this script against
// the stand-in NVML with a stand-in nvidia-smi (test/helpers/fake-nvidia-smi.mjs)
// on PATH (--no-load), so it is known to run before it meets a GPU.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const withLoad = !args.includes('--no-load');
const judgeLatency = !args.includes('--latency-info');
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
// The GPU probe and its event watcher (dist/probes/gpu.js, gpu-watch.js) as one object.
const gpu = { ...require(join(root, 'dist', 'probes', 'gpu.js')), ...require(join(root, 'dist', 'probes', 'gpu-watch.js')) };
const { Sampler } = require(join(root, 'dist', 'probes', 'sampler.js'));
const layout = require(join(root, 'dist', 'schema', 'layout.js'));
const { clocksEventReasonMask, decodeGpuBlock } = require(join(root, 'dist', 'probes', 'decode.js'));

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
// The GPU depth. nvidia-smi before 535 calls the reasons clocks_throttle_reasons.
const DEPTH = ['index', 'pstate', 'clocks_event_reasons.active', 'temperature.memory', 'utilization.encoder', 'utilization.decoder',
  'pcie.link.gen.current', 'pcie.link.width.current', 'ecc.mode.current', 'ecc.errors.corrected.volatile.total',
  'ecc.errors.uncorrected.volatile.total', 'ecc.errors.corrected.aggregate.total', 'ecc.errors.uncorrected.aggregate.total',
  'mig.mode.current', 'mig.mode.pending'];
let reasonsField = 'clocks_event_reasons.active';
const na = (s) => s === undefined || s === '' || /^\[?N\/A\]?$/.test(s) || /^\[(Not Supported|Unknown Error)\]$/.test(s);
const num = (s) => (na(s) ? null : Number(s));
const mode = (s) => (na(s) ? null : s === 'Enabled');
function smiDepth() {
  const run = () => spawnSync('nvidia-smi', [`--query-gpu=${DEPTH.map((d) => (d === 'clocks_event_reasons.active' ? reasonsField : d)).join(',')}`, '--format=csv,noheader,nounits'], { encoding: 'utf8' });
  let r = run();
  if (r.status !== 0 && reasonsField === 'clocks_event_reasons.active') {
    reasonsField = 'clocks_throttle_reasons.active';
    r = run();
  }
  if (r.status !== 0) fail(`nvidia-smi --query-gpu (GPU depth) failed: ${r.stderr || r.stdout}`);
  return r.stdout.trim().split('\n').map((line) => {
    const c = line.split(',').map((x) => x.trim());
    return {
      pstate: na(c[1]) ? null : Number(c[1].replace(/^P/, '')),
      reasonsMask: na(c[2]) ? null : Number(BigInt(c[2])),
      memTemp: num(c[3]), enc: num(c[4]), dec: num(c[5]), pcieGen: num(c[6]), pcieWidth: num(c[7]),
      ecc: mode(c[8]), eccCv: num(c[9]), eccUv: num(c[10]), eccCa: num(c[11]), eccUa: num(c[12]),
      migCurrent: mode(c[13]), migPending: mode(c[14]),
    };
  });
}
function smiApps() {
  const r = spawnSync('nvidia-smi', ['--query-compute-apps=gpu_uuid,pid,used_memory', '--format=csv,noheader,nounits'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return r.stdout.trim().split('\n').filter(Boolean).map((line) => {
    const [uuid, pid, mem] = line.split(',').map((x) => x.trim());
    return { uuid, pid: Number(pid), usedMemoryMb: num(mem) };
  });
}
const reasonNames = (mask) => {
  const names = [];
  for (let bit = 0, m = mask; m > 0 && bit < 64; bit++, m = Math.floor(m / 2)) if (m % 2 === 1) names.push(bit);
  return names.length ? `bits ${names.join(',')}` : 'none';
};
/** A live depth field agrees when nvidia-smi's value equals (or lies within tol of) perfprobe's before or after. */
function depthRows(tag, p, q, d) {
  const either = (get, want, tol = 0) => [p, q].some((r) => {
    const v = get(r);
    return want === null ? v === null : v !== null && v !== undefined && Math.abs(v - want) <= tol;
  });
  row(`${tag} P-state`, f(p.performanceState, 0), f(d.pstate, 0), 'equal', either((r) => r.performanceState, d.pstate));
  const pm = clocksEventReasonMask(p.clocksEventReasons);
  row(`${tag} clocks event reasons`, (p.clocksEventReasons ?? ['null']).join(' ') || 'none', d.reasonsMask === null ? 'null' : reasonNames(d.reasonsMask),
    `same bits (${reasonsField})`, either((r) => clocksEventReasonMask(r.clocksEventReasons), d.reasonsMask));
  row(`${tag} memory temperature C`, f(p.memoryTemperatureCelsius, 0), f(d.memTemp, 0), '2 C', either((r) => r.memoryTemperatureCelsius, d.memTemp, 2));
  row(`${tag} encoder utilization %`, f(p.encoderUtilPercent, 0), f(d.enc, 0), '5 %', either((r) => r.encoderUtilPercent, d.enc, 5));
  row(`${tag} decoder utilization %`, f(p.decoderUtilPercent, 0), f(d.dec, 0), '5 %', either((r) => r.decoderUtilPercent, d.dec, 5));
  row(`${tag} PCIe link generation`, f(p.pcieLinkGeneration, 0), f(d.pcieGen, 0), 'equal', either((r) => r.pcieLinkGeneration, d.pcieGen));
  row(`${tag} PCIe link width`, f(p.pcieLinkWidth, 0), f(d.pcieWidth, 0), 'equal', either((r) => r.pcieLinkWidth, d.pcieWidth));
  const eccOn = d.ecc === true;
  row(`${tag} ECC`, p.eccErrors === null ? 'null (off or unsupported)' : 'counted', d.ecc === null ? 'N/A' : d.ecc ? 'Enabled' : 'Disabled',
    'null unless Enabled', eccOn ? p.eccErrors !== null || q.eccErrors !== null : p.eccErrors === null && q.eccErrors === null);
  if (eccOn) {
    for (const [k, smi] of [['correctedVolatile', d.eccCv], ['uncorrectedVolatile', d.eccUv], ['correctedAggregate', d.eccCa], ['uncorrectedAggregate', d.eccUa]]) {
      row(`${tag} ECC ${k}`, f(p.eccErrors?.[k], 0), f(smi, 0), 'equal', either((r) => r.eccErrors?.[k] ?? null, smi));
    }
  }
  row(`${tag} MIG mode current/pending`, p.mig === null ? 'null' : `${p.mig.currentMode}/${p.mig.pendingMode}`,
    d.migCurrent === null ? 'N/A' : `${d.migCurrent}/${d.migPending}`, 'null when N/A',
    d.migCurrent === null ? p.mig === null : p.mig !== null && p.mig.currentMode === d.migCurrent && p.mig.pendingMode === d.migPending);
}
/** Every compute app nvidia-smi lists is in perfprobe's process table (type with compute), with its memory. */
function appRows(tag, readings, apps) {
  if (apps === null) {
    row(`${tag} compute apps`, '', 'query failed', 'info', undefined);
    return;
  }
  for (const app of apps) {
    const g = readings.find((r) => r.uuid === app.uuid);
    const p = g?.processes.find((x) => x.pid === app.pid);
    row(`${tag} app pid ${app.pid} on ${app.uuid}`, p ? `${p.type} ${f(p.usedMemoryMb, 0)} MiB, ${p.name ?? 'name n/a'}` : 'not listed', `${f(app.usedMemoryMb, 0)} MiB`,
      'listed, compute, 1 % (min 2 MiB)', !!p && p.type.includes('compute') && (app.usedMemoryMb === null || (p.usedMemoryMb !== null && Math.abs(p.usedMemoryMb - app.usedMemoryMb) <= Math.max(2, 0.01 * app.usedMemoryMb))));
    if (p && existsSync(`/proc/${app.pid}/comm`)) {
      const comm = readFileSync(`/proc/${app.pid}/comm`, 'utf8').trim();
      row(`${tag} app pid ${app.pid} name`, p.name, comm, 'equal /proc comm', p.name === comm);
    }
  }
}

// perfprobe just before and just after nvidia-smi: a live value agrees when
// nvidia-smi's lies within [min, max] of the two, widened by the tolerance.
function compare(label) {
  const a = gpu.readGpusSync();
  const smi = smiQuery();
  const depth = smiDepth();
  const apps = smiApps();
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
    if (depth[i]) depthRows(tag, p, q, depth[i]);
  }
  appRows(label, b, apps);
  return { perfprobe: b, smi, depth, apps };
}
const idle = compare('idle');

// ---- 2c. on request: NVML events and PCIe throughput ----
const events = [];
const watcher = gpu.watchGpuEvents((e) => events.push(e));
row('events: watchGpuEvents native thread running', watcher.running, 'true', 'running', watcher.running);
for (const r of watcher.registered) row(`events: GPU ${r.gpuId} registered`, r.eventTypes.join(' '), 'xid among them', 'includes xid', r.eventTypes.includes('xid'));
for (const u of watcher.unregistered) row(`events: GPU ${u.gpuId} cannot register`, u.errorName, '', 'info', undefined);
await new Promise((r) => setTimeout(r, 200));
watcher.close();
row('events: after close()', `running ${watcher.running}, ${events.length} event(s) seen`, 'running false', 'stopped', watcher.running === false);
const pcie = await gpu.readGpuPcieThroughput();
row('PCIe throughput: GPUs answered', pcie.length, idle.perfprobe.length, 'equal', pcie.length === idle.perfprobe.length);
for (const t of pcie) {
  row(`PCIe throughput GPU ${t.gpuId} tx / rx KB/s`, `${f(t.txKBps, 0)} / ${f(t.rxKBps, 0)}`, '>= 0', 'numbers', t.txKBps !== null && t.rxKBps !== null && t.txKBps >= 0 && t.rxKBps >= 0);
}

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
  const comm = existsSync(`/proc/${child.pid}/comm`) ? readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() : null;
  row('load: torch process name', mine?.name ?? 'null', comm ?? 'not visible', 'equal /proc comm', !!mine && mine.name === comm);
  row('load: torch process type', mine?.type ?? 'null', 'compute', 'includes compute', !!mine && mine.type.includes('compute'));
  // nvidia-smi pmon's SM % of the pid beside perfprobe's (process utilization samples since the previous details read).
  const pmon = spawnSync('nvidia-smi', ['pmon', '-c', '1', '-s', 'u'], { encoding: 'utf8' });
  const pmonLine = (pmon.stdout ?? '').split('\n').map((l) => l.trim().split(/\s+/)).find((c) => Number(c[1]) === child.pid);
  row('load: torch process SM %', f(mine?.smUtilPercent, 0), pmonLine ? `pmon ${pmonLine[3]}` : 'pmon n/a', '> 0', (mine?.smUtilPercent ?? 0) > 0);
  const reasonsUnderLoad = gpu.readGpusSync()[0]?.clocksEventReasons;
  row('load: clocks event reasons under load', (reasonsUnderLoad ?? ['null']).join(' ') || 'none', '', 'info', undefined);
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
row('latency: native full sample (sampler path) us', f(bench.fullNsPerSample / 1000, 2), '', judgeLatency ? '<= 1.5x raw' : 'info', judgeLatency ? bench.fullNsPerSample <= 1.5 * bench.rawNsPerSample : undefined);
row('latency: readGpusSync() as objects us', f(objectsNs / 1000, 2), '', 'info', undefined);
row('latency: one nvidia-smi --query-gpu ms', f(smiNs / 1e6, 2), '', 'info', undefined);
row('latency: nvidia-smi / native full sample', `${f(smiNs / bench.fullNsPerSample, 0)}x`, '', judgeLatency ? '>= 1000x' : 'info', judgeLatency ? smiNs / bench.fullNsPerSample >= 1000 : undefined);

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
