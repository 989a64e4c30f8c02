// The public Sampler and the addon's Sampler class: sampling through a
// blocked event loop, overflow, bad input, lifecycles, and exit while
// sampling. No test depends on the machine being idle: a test that needs n
// records waits (bounded in polls) until the sampler has written them, and
// the only wall-clock limit is a hang detector far beyond any loaded run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { addonStatus, getAddon } from '../../src/native/binding.js';
import { HeaderSlot, MemorySlot, RECORD_MEMORY_OFFSET, recordSlots } from '../../src/schema/layout.js';
import { Sampler, createSamplerBackend } from '../../src/probes/sampler.js';

const root = join(__dirname, '..', '..');
const addon = getAddon();
const noAddon = addon ? false : `addon not loaded: ${addonStatus().error}`;
if (!addon && process.env.CI === 'true') throw new Error(`addon must load in CI: ${addonStatus().error}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}
/** Blocks the event loop until `done()` (polled every 1 ms, at most 300,000 times). */
function blockUntil(done: () => boolean): void {
  for (let i = 0; i < 300_000 && !done(); i++) blockFor(1);
}
/** Waits (the event loop turning) until `done()`, polled every 5 ms, at most 60,000 times. */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 60_000 && !done(); i++) await sleep(5);
}
// A child that has not finished after this long has hung: a hang detector,
// not a time limit (the work is bounded; at load 60 a child takes seconds).
const HANG_MS = 300_000;

test('native sampler keeps sampling while the event loop is blocked (41 records at 10 ms)', { skip: noAddon }, () => {
  const s = new Sampler({ intervalMs: 10, gpu: false });
  assert.equal(s.backend, 'native');
  s.start();
  const startNs = Number(process.hrtime.bigint());
  blockUntil(() => s.stats().written >= 41); // the loop never turns: only the thread can write them
  const batch = s.drain(); // still inside the same synchronous block
  const endNs = Number(process.hrtime.bigint());
  s.stop();
  assert.ok(batch.count >= 40, `${batch.count} records during a 500 ms block`);
  const first = batch.data[HeaderSlot.monotonicNs]!;
  const last = batch.data[(batch.count - 1) * batch.recordSlots + HeaderSlot.monotonicNs]!;
  assert.ok(last - first >= 390e6, `records span ${(last - first) / 1e6} ms`);
  assert.ok(first >= startNs - 50e6 && last <= endNs, 'records lie inside the blocked stretch');
});

test('timer fallback cannot sample while the loop is blocked (documented limit)', () => {
  const s = new Sampler({ intervalMs: 10 }, createSamplerBackend('timer'));
  assert.equal(s.backend, 'timer');
  s.start();
  blockFor(200);
  const batch = s.drain();
  s.stop();
  assert.equal(batch.count, 1, 'only the record taken by start() itself');
});

test('overflow drops the oldest records and counts the drops', { skip: noAddon }, async () => {
  const startNs = Number(process.hrtime.bigint());
  const s = new Sampler({ intervalMs: 1, capacity: 5, gpu: false }).start();
  await waitUntil(() => s.stats().written >= 20);
  s.stop();
  const st = s.stats();
  const batch = s.drain();
  assert.equal(batch.count, 5);
  assert.ok(st.written >= 20, `written ${st.written}`);
  assert.equal(st.dropped, st.written - 5);
  assert.equal(batch.droppedTotal, st.dropped);
  // The survivors are the newest: record k is never taken before start + k
  // ms (absolute deadlines), and the oldest kept is record written - 5.
  const oldestKept = batch.data[HeaderSlot.monotonicNs]!;
  assert.ok(oldestKept >= startNs + (st.written - 5) * 1e6 - 1e5, 'the oldest kept is record written - 5, not an earlier one');
  for (let i = 1; i < 5; i++) assert.ok(batch.data[i * batch.recordSlots + HeaderSlot.monotonicNs]! > batch.data[(i - 1) * batch.recordSlots + HeaderSlot.monotonicNs]!);
});

test('bad intervals: TypeError or RangeError naming intervalMs', () => {
  for (const bad of [0, -1, NaN, Infinity, 24 * 3600 * 1000 + 1, 0.5]) {
    assert.throws(() => new Sampler({ intervalMs: bad }), (e: Error) => e instanceof RangeError && /^intervalMs must be/.test(e.message), String(bad));
  }
  for (const bad of ['10', null, undefined, {}, 10n]) {
    assert.throws(() => new Sampler({ intervalMs: bad as never }), (e: Error) => e instanceof TypeError && /^intervalMs must be/.test(e.message), String(bad));
  }
  assert.throws(() => new Sampler({ intervalMs: 10, capacity: 0 }), /capacity must be an integer/);
  assert.throws(() => new Sampler({ intervalMs: 10, gpu: 'yes' as never }), TypeError);
  assert.throws(() => new Sampler({ intervalMs: 10, watchPid: -1 }), RangeError);
  assert.throws(() => new Sampler(null as never), TypeError);
  // Limits themselves are fine.
  new Sampler({ intervalMs: 1 });
  new Sampler({ intervalMs: 24 * 3600 * 1000 });
});

test('the addon validates its own arguments (direct misuse cannot crash)', { skip: noAddon }, () => {
  const a = addon!;
  const s = new a.Sampler();
  const call = (...args: unknown[]) => () => (s.start as (...x: unknown[]) => boolean)(...args);
  assert.throws(call(0, 10, false, 0), { name: 'RangeError', message: /^intervalMs must be/ });
  assert.throws(call(NaN, 10, false, 0), { name: 'RangeError', message: /^intervalMs/ });
  assert.throws(call(86400001, 10, false, 0), { name: 'RangeError', message: /^intervalMs/ });
  assert.throws(call('10', 10, false, 0), { name: 'TypeError', message: /^intervalMs/ });
  assert.throws(call(), { name: 'TypeError', message: /^intervalMs/ });
  assert.throws(call(10, 0, false, 0), { name: 'RangeError', message: /^capacityRecords/ });
  assert.throws(call(10, 1.5, false, 0), { name: 'RangeError', message: /^capacityRecords/ });
  assert.throws(call(10, 16777216, false, 0), { name: 'RangeError', message: /^capacityRecords must keep the ring under 1 GiB/ });
  assert.throws(call(10, 10, 1, 0), { name: 'TypeError', message: /^gpu/ });
  assert.throws(call(10, 10, false, -1), { name: 'RangeError', message: /^watchPid/ });
  assert.throws(() => (s.drain as (x: unknown) => number)([1, 2]), { name: 'TypeError', message: /^out must be a Float64Array/ });
  assert.throws(() => (s.drain as (x: unknown) => number)(new Float32Array(20)), TypeError);
  assert.throws(() => (a.readMemory as (x: unknown) => void)(undefined), { name: 'TypeError', message: /^out/ });
  assert.throws(() => a.readMemory(new Float64Array(3)), { name: 'RangeError', message: /^out must hold at least 7/ });
  assert.equal(s.stats().running, false);
  // A buffer too small for one record copies nothing and loses nothing.
  assert.equal(s.start(86400000, 4, false, 0), true);
  blockUntil(() => s.stats().written >= 1); // the thread takes its first record at once
  assert.equal(s.drain(new Float64Array(3)), 0);
  assert.equal(s.drain(new Float64Array(recordSlots(0))), 1);
  s.stop();
});

test('start twice and stop twice are harmless no-ops', async () => {
  for (const backend of addon ? (['native', 'timer'] as const) : (['timer'] as const)) {
    const s = new Sampler({ intervalMs: 5, gpu: false }, createSamplerBackend(backend));
    s.stop(); // stopped: nothing happens
    assert.equal(s.running, false);
    assert.equal(s.start(), s);
    s.start(); // running: nothing changes, counters keep going
    await waitUntil(() => s.stats().written >= 2);
    assert.equal(s.running, true);
    const mid = s.stats().written;
    assert.ok(mid >= 2, `${backend}: written ${mid}`);
    s.stop();
    s.stop();
    assert.equal(s.running, false);
    const batch = s.drain();
    assert.equal(batch.count, s.stats().written, `${backend}: records stay drainable after stop`);
    // A fresh start clears the counters: no more records than its own time allows.
    const restarted = performance.now();
    s.start();
    const written = s.stats().written;
    assert.ok(written <= 2 + (performance.now() - restarted) / 5, `${backend}: ${written} records after a restart`);
    assert.equal(s.stats().dropped, 0);
    s.stop();
  }
});

test('a stopped sampler holds no file descriptors (many samplers started and stopped, all kept)', { skip: noAddon || (!existsSync('/proc/self/fd') && 'no /proc/self/fd') }, () => {
  const fds = () => readdirSync('/proc/self/fd').length;
  const kept: Sampler[] = []; // referenced: the garbage collector cannot be what frees them
  const before = fds();
  for (let i = 0; i < 200; i++) kept.push(new Sampler({ intervalMs: 1000, capacity: 1, gpu: false }).start().stop());
  const after = fds();
  assert.ok(after - before < 10, `${after - before} more descriptors open after 200 stopped samplers`);
  // They still work: a restart samples again and its descriptors go with the stop.
  const s = kept[0]!.start();
  blockFor(20);
  s.stop();
  const batch = s.drain();
  assert.equal(batch.count >= 1, true);
  assert.ok(batch.data[RECORD_MEMORY_OFFSET + MemorySlot.processRssBytes]! > 0, 'RSS read by the restarted sampler');
  assert.ok(fds() - before < 10);
});

function runChild(code: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: HANG_MS,
    env: { ...process.env, ...env },
  });
}

test('a process exits while sampling and does not hang', () => {
  const mod = JSON.stringify(join(root, 'src', 'probes', 'index.ts'));
  const cases: Array<[string, string, number]> = [
    ['loop ends with the sampler running', `const p = require(${mod}); new p.Sampler({ intervalMs: 1, gpu: false }).start(); setTimeout(() => console.log('done'), 50);`, 0],
    ['process.exit() mid-sampling', `const p = require(${mod}); const s = new p.Sampler({ intervalMs: 1, gpu: false }).start(); setTimeout(() => { console.log('done'); process.exit(3); }, 50);`, 3],
    ['uncaught exception mid-sampling', `const p = require(${mod}); new p.Sampler({ intervalMs: 1, gpu: false }).start(); setTimeout(() => { console.log('done'); throw new Error('boom'); }, 50);`, 1],
    ['many samplers, never stopped', `const p = require(${mod}); for (let i = 0; i < 20; i++) new p.Sampler({ intervalMs: 1, capacity: 8, gpu: false }).start(); console.log('done');`, 0],
  ];
  for (const [name, code, status] of cases) {
    const started = Date.now();
    const r = runChild(code);
    assert.equal(r.error, undefined, `${name}: ${r.error?.message} after ${Date.now() - started} ms`);
    assert.equal(r.status, status, `${name}: exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
    assert.match(r.stdout, /done/, name);
  }
});

test('abandoned stopped samplers are collected: the native ring counts as memory to V8', { skip: noAddon }, () => {
  // 150 samplers at the default capacity (65536 records x 88 bytes = 5.5 MiB of
  // ring each, 825 MiB together) started, stopped and dropped, with the event
  // loop turning between them as in a real program. V8 sees only small objects
  // unless it is told about the rings, and then never collects them.
  const mod = JSON.stringify(join(root, 'src', 'probes', 'index.ts'));
  const r = runChild(`const p = require(${mod});
    (async () => {
      const base = process.memoryUsage.rss();
      for (let i = 0; i < 150; i++) {
        new p.Sampler({ intervalMs: 1000, gpu: false }).start().stop();
        if (i % 5 === 4) await new Promise((res) => setImmediate(res));
      }
      console.log(JSON.stringify({ grownMb: (process.memoryUsage.rss() - base) / 1048576 }));
    })();`);
  assert.equal(r.status, 0, r.stderr);
  const { grownMb } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(grownMb < 400, `RSS grew by ${grownMb.toFixed(0)} MiB after 150 abandoned samplers (825 MiB of rings)`);
});

test('workers terminated in the middle of sampler calls do not abort the process', { skip: noAddon }, () => {
  // worker.terminate() makes every Node-API call in flight fail; the addon's
  // calls (stats() builds an object, drain() checks its argument) must give
  // up quietly, not turn the failure into a C++ exception nothing can catch.
  // (The addon binary is loaded directly, by the path this process loaded:
  // tsx's hooks, which the TypeScript wrappers would run under here, are not
  // what is tested, and without them a worker starts in milliseconds, so 48
  // of them stay cheap on a loaded machine.)
  // The path travels as workerData: pasted into the worker's source (a
  // template literal inside this child's code) a Windows path would lose its
  // backslashes.
  const paths = JSON.stringify({ addon: addonStatus().path });
  const r = runChild(`const { Worker } = require('node:worker_threads');
    const paths = ${paths};
    const src = \`const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.addon);
      const s = new addon.Sampler();
      s.start(1, 64, false, 0);
      const out = new Float64Array(64 * addon.layout.memorySlots * 2);
      parentPort.postMessage('busy');
      for (;;) { s.stats(); s.drain(out); }\`;
    (async () => {
      for (let round = 0; round < 8; round++) {
        const ws = Array.from({ length: 6 }, () => new Worker(src, { eval: true, workerData: paths }));
        await Promise.all(ws.map((w) => new Promise((res) => w.once('message', res))));
        await new Promise((res) => setTimeout(res, 5 + round * 3));
        await Promise.all(ws.map((w) => w.terminate()));
      }
      console.log('survived');
    })();`);
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(-300)}`);
  assert.equal(r.status, 0, r.stderr.slice(-300));
  assert.match(r.stdout, /survived/);
});

test('records carry one GPU block per device when NVML is available (stand-in NVML)', { skip: noAddon }, (t) => {
  // NVML is process-wide: a child opens the stand-in library (built by the GPU issue's script).
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build-fake-nvml.mjs')], { cwd: root, encoding: 'utf8', timeout: HANG_MS });
  if (built.status !== 0) {
    if (process.env.CI === 'true') assert.fail(`stand-in NVML did not build: ${built.stderr}`);
    t.skip('stand-in NVML did not build (no C compiler?)');
    return;
  }
  const lib: string = JSON.parse(built.stdout).full; // PERFPROBE_FAKE_NVML_DIR (emulated runs) or build/fake-nvml/
  const mod = JSON.stringify(join(root, 'src', 'probes', 'index.ts'));
  const r = runChild(
    `const p = require(${mod}); const s = new p.Sampler({ intervalMs: 5, watchPid: process.pid }).start();
     const wait = (i) => (s.stats().written >= 2 || i > 60000 ? done() : setTimeout(() => wait(i + 1), 5)); wait(0);
     function done() { s.stop(); const b = s.drain(); console.log(JSON.stringify({ backend: p.probeInfo().gpu.backend, count: b.count, gpuCount: b.gpuCount, slots: b.recordSlots, rec: Array.from(b.data.subarray(0, b.recordSlots), (x) => Number.isNaN(x) ? null : x) })); }`,
    { PERFPROBE_NVML_LIBRARY: lib },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(out.backend, 'nvml');
  assert.ok(out.gpuCount >= 1);
  assert.equal(out.slots, recordSlots(out.gpuCount));
  assert.ok(out.count >= 2);
  assert.equal(out.rec[HeaderSlot.gpuCount], out.gpuCount);
  assert.ok(out.rec[HeaderSlot.treeRssBytes] > 1048576, 'tree RSS of the watched pid (this child)');
  const gpu0 = out.rec.slice(11, 11 + 16);
  assert.equal(gpu0[0], 0, 'status ok');
  assert.ok(gpu0[3] > 0, 'memory total of device 0');
});
