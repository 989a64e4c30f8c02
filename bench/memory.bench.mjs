// Memory probe and sampler benchmark (`npm run bench -- memory`):
//   - readMemory() against process.memoryUsage() and systeminformation mem(),
//     in the same run (targets: <= 1 us, >= 8x faster than process.memoryUsage());
//   - readMemory() against its C floor, one pread of a kept-open
//     /proc/self/statm (bench/native/pread_floor.c), rounds alternated
//     (target: within 1.2x), and against the floor under any addon: that
//     pread from JS through the thinnest Node-API call
//     (bench/native/pread_call.c);
//   - the cost of draining 1,000 sampler records (Sampler.drain());
//   - the sampler's CPU cost at 1 kHz: process CPU time over 10 s with the
//     sampler on vs off, in two child processes run side by side, as % of one
//     core (target <= 2 %);
//   - the sampler THREAD's own CPU at 1 kHz (its on-CPU ns from
//     /proc/self/task/<tid>/schedstat), memory only and watching a command's
//     process tree, beside the C sampling-loop floor
//     (bench/native/sampling_floor.c, clock_nanosleep to absolute deadlines +
//     the same /proc reads, measured with CLOCK_THREAD_CPUTIME_ID), all
//     running at the same time.
// Imports the library from ../dist (run `npx tsc -p tsconfig.json` first).
import { spawn } from 'node:child_process';
import { buildFloor, buildFloorAddon, runFloor } from './floors.mjs';
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

/**
 * The native sampler thread's own CPU over `seconds` at `intervalMs` (drained
 * each second), in a child process: ns on CPU from the thread's schedstat.
 * The thread is found by its name (perfprobe-smplr), else as the one thread
 * start() created.
 */
function samplerThreadCpu({ seconds, intervalMs, watchPid = 0 }) {
  const script = `
    const fs = require('node:fs');
    const pp = require(${JSON.stringify(dist)});
    const tasks = () => fs.readdirSync('/proc/self/task');
    const before = new Set(tasks());
    const s = new pp.Sampler({ intervalMs: ${intervalMs}, gpu: false, watchPid: ${watchPid} }).start();
    const fresh = tasks().filter((t) => !before.has(t));
    const named = fresh.find((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim() === 'perfprobe-smplr');
    const tid = named ?? (fresh.length === 1 ? fresh[0] : null);
    if (!tid) throw new Error('sampler thread not found among ' + fresh);
    const onCpu = () => Number(fs.readFileSync('/proc/self/task/' + tid + '/schedstat', 'utf8').split(' ')[0]);
    let records = 0;
    const drainTimer = setInterval(() => { records += s.drain().count; }, 1000);
    setTimeout(() => {
      const c0 = onCpu(), w0 = process.hrtime.bigint(), r0 = s.stats().written;
      setTimeout(() => {
        const cpuNs = onCpu() - c0, wallNs = Number(process.hrtime.bigint() - w0), ticks = s.stats().written - r0;
        clearInterval(drainTimer); s.stop();
        console.log(JSON.stringify({ cpuNs, wallNs, ticks, percentOfCore: (100 * cpuNs) / wallNs, named: !!named }));
      }, ${seconds * 1000});
    }, 500);`;
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
  if (process.platform === 'linux' && backend === 'native') {
    // The C floor, readMemory(), the addon's own call and the two floors inside Node, in alternating rounds; medians.
    // The floors inside Node (bench/native/pread_call.c): the C floor's pread made from JS through the thinnest
    // Node-API function (no argument read, nothing returned), and the same preads in one native loop.
    buildFloor('pread_floor');
    const call = require(buildFloorAddon('pread_call'));
    const { getAddon } = require(join(root, 'dist', 'native', 'binding.js'));
    const slots = new Float64Array(pp.MEMORY_SLOTS ?? 7);
    const PER = 100000;
    const loopNs = () => {
      const t = process.hrtime.bigint();
      call.loop(PER);
      return Number(process.hrtime.bigint() - t) / PER;
    };
    const floorRounds = [];
    const readRounds = [readNs];
    const rawRounds = [];
    const callRounds = [];
    const objectRounds = [];
    const loopRounds = [];
    // The floor of any timestamped reading object: the pread and the wall clock in C into a Float64Array, then a
    // fresh object of readMemory()'s ten fields built from it in JS (the least any addon returning one must do).
    const out = new Float64Array(2);
    const timestampedObject = () => {
      call.preadClock(out);
      const v = out[1];
      return {
        timestamp: out[0],
        totalMb: v / 1048576,
        usedMb: v / 1048576,
        availableMb: v / 1048576,
        percent: v > 0 ? 100 / v : 0,
        processMemoryMb: v / 1048576,
        processPeakMb: v / 1048576,
        swapTotalMb: v / 1048576,
        swapUsedMb: v / 1048576,
        heapUsedMb: null,
      };
    };
    for (let r = 0; r < 5; r++) {
      floorRounds.push((await runFloor('pread_floor', [PER])).nsPerCall);
      readRounds.push(nsPerCall(() => pp.readMemory(), PER));
      rawRounds.push(nsPerCall(() => getAddon().readMemory(slots), PER));
      callRounds.push(nsPerCall(() => call.pread(), PER));
      objectRounds.push(nsPerCall(timestampedObject, PER));
      loopRounds.push(loopNs());
    }
    const floorNs = median(floorRounds);
    const ourNs = median(readRounds);
    const rawNs = median(rawRounds);
    const callNs = median(callRounds);
    const objectNs = median(objectRounds);
    rows.push({
      section: 'memory',
      name: `readMemory() (${backend}) vs the C floor: one pread of a kept-open /proc/self/statm (rounds alternated; process.memoryUsage() ${(muNs / 1000).toFixed(2)} us in the same run)`,
      value: ourNs / 1000,
      unit: 'us/call',
      peer: { name: 'C pread floor', value: floorNs / 1000 },
      target: '<= 1.2x the floor',
      pass: ourNs <= 1.2 * floorNs,
    });
    rows.push({
      section: 'memory',
      name: 'the addon call alone, readMemory(out) into a Float64Array (no object, no timestamp), vs the same C floor',
      value: rawNs / 1000,
      unit: 'us/call',
      peer: { name: 'C pread floor', value: floorNs / 1000 },
    });
    rows.push({
      section: 'memory',
      name: 'floor under any addon-based reading: the same pread made from JS, one per call of the thinnest Node-API function (no argument read, nothing returned; bench/native/pread_call.c), vs the C floor',
      value: callNs / 1000,
      unit: 'us/call',
      peer: { name: 'C pread floor', value: floorNs / 1000 },
    });
    rows.push({
      section: 'memory',
      name: 'floor of any timestamped reading object: that pread plus the wall clock in C into a Float64Array, and a fresh 10-field object built from it in JS (bench/native/pread_call.c preadClock), vs the C floor',
      value: objectNs / 1000,
      unit: 'us/call',
      peer: { name: 'C pread floor', value: floorNs / 1000 },
    });
    rows.push({
      section: 'memory',
      name: 'readMemory() vs that floor of any timestamped reading object (same rounds)',
      value: ourNs / 1000,
      unit: 'us/call',
      peer: { name: 'timestamped reading object floor', value: objectNs / 1000 },
    });
    rows.push({
      section: 'memory',
      name: 'the same preads in one native loop inside this Node process (no JS call between them), vs the C floor',
      value: median(loopRounds) / 1000,
      unit: 'us/call',
      peer: { name: 'C pread floor', value: floorNs / 1000 },
    });
    rows.push({
      section: 'memory',
      name: 'readMemory() vs that floor under any addon (same rounds)',
      value: ourNs / 1000,
      unit: 'us/call',
      peer: { name: 'one pread per thinnest addon call', value: callNs / 1000 },
    });
  }
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

  // 4. The sampler thread's own CPU at 1 kHz vs the C sampling-loop floor,
  //    memory only and with the tree walk of a live command (a Node process
  //    with its usual threads, like a `perfprobe run` command), all at once.
  if (process.platform === 'linux' && backend === 'native') {
    buildFloor('sampling_floor');
    const cmd = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await sleep(300); // its threads are up
    try {
      const threadSeconds = 6;
      const [mem, floor, tree, treeFloor] = await Promise.all([
        samplerThreadCpu({ seconds: threadSeconds, intervalMs: 1 }),
        runFloor('sampling_floor', [threadSeconds + 0.5, 1000]),
        samplerThreadCpu({ seconds: threadSeconds, intervalMs: 1, watchPid: cmd.pid }),
        runFloor('sampling_floor', [threadSeconds + 0.5, 1000, '--tree', cmd.pid]),
      ]);
      rows.push({
        section: 'sampler',
        name: `sampler thread CPU at 1 kHz, memory only (${mem.ticks} ticks; schedstat) vs the C sampling loop (clock_nanosleep absolute deadlines + the same /proc reads), run at the same time`,
        value: mem.percentOfCore,
        unit: '% of one core',
        peer: { name: 'C floor', value: floor.percentOfCore },
        target: '<= 1.2x the floor',
        pass: mem.percentOfCore <= 1.2 * floor.percentOfCore,
      });
      rows.push({
        section: 'sampler',
        name: `sampler thread CPU at 1 kHz watching a command's process tree (a Node process; ${tree.ticks} ticks) vs the C loop reading the same tree through ${treeFloor.treeFds} kept-open files (found once, never re-walked)`,
        value: tree.percentOfCore,
        unit: '% of one core',
        peer: { name: 'C floor with the tree', value: treeFloor.percentOfCore },
      });
      rows.push({
        section: 'sampler',
        name: 'sampler thread CPU at 1 kHz watching the tree vs memory only (same run)',
        value: tree.percentOfCore,
        unit: '% of one core',
        peer: { name: 'memory only', value: mem.percentOfCore },
      });
    } finally {
      cmd.kill('SIGKILL');
    }
  }
  return rows;
}
