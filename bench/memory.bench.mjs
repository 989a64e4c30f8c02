// Memory probe and sampler benchmark (`npm run bench -- memory`):
//   - readMemory() against process.memoryUsage() and systeminformation mem(),
//     in the same run (targets: <= 1 us, >= 8x faster than process.memoryUsage());
//   - the cost of draining 1,000 sampler records (Sampler.drain());
//   - the sampler's CPU cost at 1 kHz: process CPU time over 10 s with the
//     sampler on vs off, in two child processes run side by side, as % of one
//     core (target <= 2 %).
// Imports the library from ../dist (run `npx tsc -p tsconfig.json` first).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const require = createRequire(import.meta.url);
const dist = join(root, 'dist', 'index.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** ns per call: median of 7 rounds of n calls. */
function nsPerCall(fn, n) {
  for (let i = 0; i < Math.min(n, 10000); i++) fn(); // warm up
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t) / n);
  }
  return median(rounds);
}

async function nsPerAsyncCall(fn, n) {
  await fn();
  const rounds = [];
  for (let r = 0; r < 3; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn();
    rounds.push(Number(process.hrtime.bigint() - t) / n);
  }
  return median(rounds);
}

/** CPU time (user + system, us) of a child that runs `code` for `seconds`. */
function childCpu(code, seconds) {
  const script = `
    const pp = require(${JSON.stringify(dist)});
    ${code}
    const before = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      const cpu = process.cpuUsage(before);
      const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
      if (typeof stop === 'function') stop();
      console.log(JSON.stringify({ cpuUs: cpu.user + cpu.system, wallUs, info: pp.probeInfo().memory.backend, extra: typeof extra === 'function' ? extra() : null }));
    }, ${seconds * 1000});`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PERFPROBE_NO_WARNINGS: '1' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`child exited ${code}: ${out}`))));
  });
}

export default async function bench() {
  const pp = require(dist);
  const si = require('systeminformation');
  const rows = [];
  const backend = pp.probeInfo().memory.backend;

  // 1. readMemory() vs its peers.
  const readNs = nsPerCall(() => pp.readMemory(), 200000);
  const muNs = nsPerCall(() => process.memoryUsage(), 50000);
  const rssNs = nsPerCall(() => process.memoryUsage.rss(), 50000);
  const siNs = await nsPerAsyncCall(() => si.mem(), 30);
  rows.push({
    section: 'memory',
    name: `readMemory() (${backend}) vs process.memoryUsage()`,
    value: readNs / 1000,
    unit: 'us/call',
    peer: { name: 'process.memoryUsage()', value: muNs / 1000 },
    target: '<= 1 us and >= 8x faster',
    pass: readNs <= 1000 && muNs / readNs >= 8,
  });
  rows.push({
    section: 'memory',
    name: `readMemory() (${backend}) vs process.memoryUsage.rss()`,
    value: readNs / 1000,
    unit: 'us/call',
    peer: { name: 'process.memoryUsage.rss()', value: rssNs / 1000 },
  });
  rows.push({
    section: 'memory',
    name: `readMemory() (${backend}) vs systeminformation mem()`,
    value: readNs / 1000,
    unit: 'us/call',
    peer: { name: 'systeminformation mem()', value: siNs / 1000 },
  });

  // 2. Draining 1,000 sampler records (ring filled at 1 kHz, capacity 1,000).
  const drains = [];
  const drainsInto = [];
  let drainedCount = 0;
  const reused = new Float64Array(1000 * 11);
  for (let r = 0; r < 3; r++) {
    const s = new pp.Sampler({ intervalMs: 1, capacity: 2000, gpu: false }).start();
    await sleep(2100); // 2,000 records waiting: two drains of 1,000
    s.stop();
    let t = process.hrtime.bigint();
    const into = s.drain(reused);
    drainsInto.push(Number(process.hrtime.bigint() - t) / 1000);
    t = process.hrtime.bigint();
    const batch = s.drain();
    drains.push(Number(process.hrtime.bigint() - t) / 1000);
    drainedCount = Math.min(batch.count, into.count);
  }
  const ringName = pp.probeInfo().memory.backend === 'native' ? 'native ring' : 'timer fallback';
  rows.push({
    section: 'sampler',
    name: `drain() of ${drainedCount} records into a new Float64Array (${ringName})`,
    value: median(drains),
    unit: 'us',
  });
  rows.push({
    section: 'sampler',
    name: `drain(out) of ${drainedCount} records into a reused Float64Array (${ringName})`,
    value: median(drainsInto),
    unit: 'us',
  });

  // 3. Sampler CPU at 1 kHz: 10 s with the sampler on vs off, side by side.
  const seconds = 10;
  const [off, on] = await Promise.all([
    childCpu('', seconds),
    childCpu(`const s = new pp.Sampler({ intervalMs: 1, capacity: 20000, gpu: false }).start();
      let drained = 0; const t = setInterval(() => { drained += s.drain().count; }, 1000);
      function stop() { clearInterval(t); drained += s.drain().count; s.stop(); }
      function extra() { return { drained, dropped: s.stats().dropped }; }`, seconds),
  ]);
  const percent = ((on.cpuUs - off.cpuUs) / on.wallUs) * 100;
  rows.push({
    section: 'sampler',
    name: `CPU of the sampler at 1 kHz, memory only (${on.info}; ${on.extra?.drained ?? '?'} records in ${seconds} s, drained each second)`,
    value: percent,
    unit: '% of one core',
    target: '<= 2 %',
    pass: percent <= 2,
  });
  rows.push({
    section: 'sampler',
    name: 'CPU per sample at 1 kHz',
    value: (on.cpuUs - off.cpuUs) / Math.max(1, on.extra?.drained ?? seconds * 1000),
    unit: 'us/sample',
  });
  return rows;
}
