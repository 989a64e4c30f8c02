/**
 * The addon's raw GPU-depth exports against the stand-in NVML: the new block
 * slots (nvmlRead and sampler records), nvmlReadDetailed's process table and
 * MIG objects, nvmlPcieThroughput, and nvmlWatchEvents delivering scripted
 * events to a JavaScript listener on the main thread and in a worker. Values
 * are NVML's own units (bytes, percent, degrees C, KB/s, bitmasks); NaN is
 * "unknown". One child process per scenario (NVML is process-wide); every
 * wait is bounded by an event count and a deadline.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonStatus, getAddon } from '../../src/native/binding.js';
import { GPU_SLOTS, GpuSlot, RECORD_GPU_OFFSET } from '../../src/schema/layout.js';
import { fakeNvmlLibraries, type FakeNvmlLibraries } from '../helpers/fake-nvml-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const CI = process.env.CI === 'true';
const MiB = 1048576;
let libs: FakeNvmlLibraries | null = null;
let whyNot = '';
const dir = mkdtempSync(join(tmpdir(), 'perfprobe-gpu-native-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  try {
    libs = await fakeNvmlLibraries();
  } catch (err) {
    whyNot = `cannot build the stand-in NVML: ${(err as Error).message}`;
  }
  if (libs && !getAddon()) whyNot = `the perfprobe addon is not loaded: ${addonStatus().error}`;
  if (whyNot && CI) throw new Error(whyNot);
});

function needs(t: { skip(msg: string): void }): boolean {
  if (whyNot) t.skip(whyNot);
  return !whyNot;
}

let n = 0;
/**
 * Runs `body` in a child node: `a` is the addon, `lib` the stand-in's path,
 * `L` the slot layout, `done(v)` reports v (NaN survives as the string "NaN").
 */
function child(body: string, opts: { script: string; lib?: keyof FakeNvmlLibraries; env?: Record<string, string> }): { v: any; status: number | null; stderr: string } {
  const script = join(dir, `script-${++n}.txt`);
  writeFileSync(script, opts.script);
  const env: Record<string, string | undefined> = { ...process.env, PERFPROBE_FAKE_NVML_SCRIPT: script, ...opts.env };
  for (const k of ['PERFPROBE_NVML', 'PERFPROBE_NVML_LIBRARY', 'NODE_OPTIONS']) delete env[k];
  const prelude = `
    const a = require(${JSON.stringify(addonStatus().path)});
    const lib = ${JSON.stringify(libs![opts.lib ?? 'full'])};
    const L = ${JSON.stringify({ GpuSlot, GPU_SLOTS, RECORD_GPU_OFFSET })};
    const addonPath = ${JSON.stringify(addonStatus().path)};
    function done(v) {
      const text = JSON.stringify(v, (k, x) => (typeof x === 'number' && Number.isNaN(x) ? 'NaN' : x));
      process.stdout.write('RESULT:' + text + '\\n');
    }
    function until(pred, what) {
      return new Promise((res, rej) => {
        const end = Date.now() + 20000;
        const tick = () => (pred() ? res() : Date.now() > end ? rej(new Error('timed out waiting for ' + what)) : setTimeout(tick, 5));
        tick();
      });
    }
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', `${prelude}\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(3); });`], {
    env, encoding: 'utf8', timeout: HANG_GUARD_MS,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  return { v: line ? JSON.parse(line.slice('RESULT:'.length)) : undefined, status: r.status, stderr: r.stderr };
}

function result(r: { v: any; status: number | null; stderr: string }): any {
  assert.ok(r.v !== undefined, `child produced no result (status ${r.status}):\n${r.stderr}`);
  assert.equal(r.status, 0, `child exited with ${r.status}:\n${r.stderr}`);
  return r.v;
}

const DEPTH = [
  'devices=2',
  'gpu0.temp=56', 'gpu0.pstate=2', 'gpu0.clocks_reasons=0x44', 'gpu0.mem_temp=81', 'gpu0.enc_util=12', 'gpu0.dec_util=34',
  'gpu0.pcie_gen=4', 'gpu0.pcie_width=8', 'gpu0.ecc=1', 'gpu0.ecc_pending=0',
  'gpu0.ecc_cv=5', 'gpu0.ecc_uv=1', 'gpu0.ecc_ca=123', 'gpu0.ecc_ua=7',
  'gpu1.pstate=32', 'gpu1.ecc=0', 'gpu1.unsupported=enc,mem_temp',
].join('\n');

/** What both devices of DEPTH must read, slot by slot, in NVML's units. */
function expectDepth(block: number[], gpu: 0 | 1): void {
  const s = GpuSlot;
  const v = (k: keyof typeof GpuSlot) => block[s[k]];
  if (gpu === 0) {
    assert.deepEqual(
      [v('temperatureC'), v('performanceState'), v('clocksEventReasons'), v('memoryTemperatureC'), v('encoderUtilPercent'), v('decoderUtilPercent'),
        v('pcieLinkGeneration'), v('pcieLinkWidth'), v('eccModeCurrent'), v('eccModePending'),
        v('eccCorrectedVolatile'), v('eccUncorrectedVolatile'), v('eccCorrectedAggregate'), v('eccUncorrectedAggregate')],
      [56, 2, 0x44, 81, 12, 34, 4, 8, 1, 0, 5, 1, 123, 7],
    );
  } else {
    assert.deepEqual(
      [v('performanceState'), v('memoryTemperatureC'), v('encoderUtilPercent'), v('decoderUtilPercent'), v('eccModeCurrent'),
        v('eccCorrectedVolatile'), v('eccUncorrectedVolatile'), v('eccCorrectedAggregate'), v('eccUncorrectedAggregate')],
      ['NaN', 'NaN', 'NaN', 0, 0, 'NaN', 'NaN', 'NaN', 'NaN'],
      'P-state unknown, unsupported fields NaN (never 0), ECC off: mode 0 and counters unknown',
    );
  }
}

describe('GPU depth: raw addon exports (stand-in NVML)', () => {
  test('nvmlRead fills every new slot as scripted; nvmlOpen names the API variants', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      const open = a.nvmlOpen(lib);
      const out = new Float64Array(2 * a.layout.gpuSlots);
      const count = a.nvmlRead(out);
      done({ open, count, gpuSlots: a.layout.gpuSlots, blocks: [Array.from(out.subarray(0, L.GPU_SLOTS)), Array.from(out.subarray(L.GPU_SLOTS))] });
    `, { script: DEPTH }));
    assert.equal(v.gpuSlots, GPU_SLOTS);
    assert.equal(v.count, 2);
    assert.equal(v.open.temperatureApi, 'nvmlDeviceGetTemperatureV');
    assert.equal(v.open.clocksReasonsSymbol, 'nvmlDeviceGetCurrentClocksEventReasons');
    assert.equal(v.open.eventWaitApi, 2);
    assert.equal(v.open.graphicsProcessApi, 3);
    expectDepth(v.blocks[0], 0);
    expectDepth(v.blocks[1], 1);
  });

  test('an old driver: the deprecated temperature and throttle-reasons calls and the unversioned wait', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      const open = a.nvmlOpen(lib);
      const out = new Float64Array(a.layout.gpuSlots);
      a.nvmlRead(out);
      done({ open, temp: out[L.GpuSlot.temperatureC], reasons: out[L.GpuSlot.clocksEventReasons] });
    `, { script: 'gpu0.temp=47\ngpu0.clocks_reasons=0x1\n', lib: 'old' }));
    assert.equal(v.open.temperatureApi, 'nvmlDeviceGetTemperature');
    assert.equal(v.open.clocksReasonsSymbol, 'nvmlDeviceGetCurrentClocksThrottleReasons');
    assert.equal(v.open.eventWaitApi, 1);
    assert.equal(v.temp, 47);
    assert.equal(v.reasons, 1);
  });

  test('sampler records carry the new slots', (t) => {
    if (!needs(t)) return;
    const log = join(dir, `sampler-${process.pid}.log`);
    const v = result(child(`
      a.nvmlOpen(lib);
      const s = new a.Sampler();
      s.start(1, 256, true, 0, lib);
      const slots = s.stats().recordSlots;
      const out = new Float64Array(256 * slots);
      let got = 0;
      await until(() => (got += s.drain(out.subarray(got * slots))) >= 3, '3 records');
      s.stop();
      const base = (got - 1) * slots + L.RECORD_GPU_OFFSET;
      done({ slots, blocks: [Array.from(out.subarray(base, base + L.GPU_SLOTS)), Array.from(out.subarray(base + L.GPU_SLOTS, base + 2 * L.GPU_SLOTS))] });
    `, { script: `${DEPTH}\ngpu0.gprocs=self:1048576\ngpu0.putil=self:1:1:1:1@5\n`, env: { PERFPROBE_FAKE_NVML_LOG: log } }));
    assert.equal(v.slots, RECORD_GPU_OFFSET + 2 * GPU_SLOTS);
    expectDepth(v.blocks[0], 0);
    expectDepth(v.blocks[1], 1);
  });

  test('nvmlReadDetailed: compute and graphics merged by pid with names and per-process utilization; MIG devices', (t) => {
    if (!needs(t)) return;
    const { v, ...rest } = child(`
      a.nvmlOpen(lib);
      const out = new Float64Array(3 * a.layout.gpuSlots);
      const first = a.nvmlReadDetailed(out);
      const selfMemory = out[L.GpuSlot.processMemoryBytes];
      const second = a.nvmlReadDetailed(out);
      done({ first, second, selfMemory, pid: process.pid });
    `, {
      script: [
        'devices=3',
        `gpu0.procs=self:${MiB},2147480001:${2 * MiB}:1:0`,
        `gpu0.gprocs=self:${4 * MiB},2147480003:${3 * MiB}`,
        'gpu0.putil=self:50:20:3:4@1000,self:70:25:6:8@3000',
        'gpu0.putil_insufficient_first=1',
        'gpu1.mig=1', 'gpu1.mig_pending=1', 'gpu1.mig_devices=1:0:10737418240:1073741824,2:0:21474836480:0:MIG-abcd',
        'gpu2.unsupported=procs,gprocs,mig',
      ].join('\n'),
    });
    const r = result({ v, ...rest });
    const [d0, d1, d2] = r.first;
    assert.equal(d0.computeError, null);
    assert.equal(d0.graphicsError, null);
    assert.equal(d0.utilError, null);
    assert.deepEqual(d0.processes.map((p: any) => [p.pid, p.type, p.usedBytes]).sort((x: any, y: any) => x[0] - y[0]), [
      [r.pid, 'compute+graphics', 4 * MiB],
      [2147480001, 'compute', 2 * MiB],
      [2147480003, 'graphics', 3 * MiB],
    ].sort((x, y) => (x[0] as number) - (y[0] as number)));
    const self = d0.processes.find((p: any) => p.pid === r.pid);
    assert.equal(self.name, 'node');
    assert.deepEqual([self.smUtil, self.memUtil, self.encUtil, self.decUtil, self.utilTimestampUs], [70, 25, 6, 8, 3000]);
    assert.deepEqual([self.gpuInstanceId, self.computeInstanceId], ['NaN', 'NaN']);
    const migProc = d0.processes.find((p: any) => p.pid === 2147480001);
    assert.deepEqual([migProc.name, migProc.smUtil, migProc.gpuInstanceId, migProc.computeInstanceId], [null, 'NaN', 1, 0]);
    assert.equal(r.selfMemory, 4 * MiB, 'this process over both lists');
    assert.deepEqual(d0.mig, { currentMode: false, pendingMode: false, devices: [] });
    assert.equal(d1.utilError, 'NVML_ERROR_NOT_SUPPORTED', 'process utilization is not supported under MIG');
    assert.deepEqual(d1.mig, {
      currentMode: true, pendingMode: true, devices: [
        { index: 0, uuid: 'MIG-fake-1-0', gpuInstanceId: 1, computeInstanceId: 0, memoryTotalBytes: 10737418240, memoryUsedBytes: 1073741824 },
        { index: 1, uuid: 'MIG-abcd', gpuInstanceId: 2, computeInstanceId: 0, memoryTotalBytes: 21474836480, memoryUsedBytes: 0 },
      ],
    });
    assert.equal(d2.processes, null, 'neither list supported: null, not []');
    assert.equal(d2.computeError, 'NVML_ERROR_NOT_SUPPORTED');
    assert.equal(d2.mig, null);
    assert.equal(d2.migError, 'NVML_ERROR_NOT_SUPPORTED');
    // The second read: no utilization sample newer than the first read's.
    const again = r.second[0];
    assert.equal(again.utilError, 'NVML_ERROR_NOT_FOUND');
    assert.equal(again.processes.find((p: any) => p.pid === r.pid).smUtil, 'NaN');
  });

  test('nvmlPcieThroughput resolves KB/s per device from the thread pool (a Promise), NaN when unsupported', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      a.nvmlOpen(lib);
      const p = a.nvmlPcieThroughput();
      done({ isPromise: p instanceof Promise, values: await p });
    `, { script: 'devices=2\ngpu0.pcie_tx_kbps=1234\ngpu0.pcie_rx_kbps=5678\ngpu1.unsupported=pcie_throughput\n' }));
    assert.equal(v.isPromise, true);
    assert.deepEqual(v.values, [{ index: 0, txKBps: 1234, rxKBps: 5678 }, { index: 1, txKBps: 'NaN', rxKBps: 'NaN' }]);
  });

  test('nvmlErrorName knows nvml.h 13\'s NVML_ERROR_RESET_TYPE_NOT_SUPPORTED (30)', (t) => {
    if (!needs(t)) return;
    const v = result(child(`done([a.nvmlErrorName(30), a.nvmlErrorName(29), a.nvmlErrorName(31)])`, { script: '' }));
    assert.deepEqual(v, ['NVML_ERROR_RESET_TYPE_NOT_SUPPORTED', 'NVML_ERROR_INVALID_STATE', 'NVML_ERROR_UNRECOGNIZED']);
  });
});

const EVENTS = [
  'devices=3',
  'gpu0.uuid=GPU-aaaa', 'gpu0.events=xid:79@20,sbe@5,dbe@5',
  'gpu1.uuid=GPU-bbbb', 'gpu1.supported_events=0x1f', 'gpu1.clocks_reasons=0x4', 'gpu1.events=clock@10,xid:13:1:2@5',
  'gpu2.register_error=3',
].join('\n');

function expectEvents(events: any[]): void {
  const byKey = new Map(events.map((e) => [`${e.gpuId}:${e.type}`, e]));
  assert.equal(events.length, 5, JSON.stringify(events));
  const xid = byKey.get('0:xid');
  assert.deepEqual([xid.uuid, xid.xid, xid.eventData, xid.eventType, xid.gpuInstanceId], ['GPU-aaaa', 79, 79, 8, 'NaN']);
  assert.equal(typeof xid.timestamp, 'number');
  assert.ok(Math.abs(xid.timestamp - Date.now()) < 120_000);
  assert.equal(xid.reasons, undefined, 'reasons only on clocks events');
  assert.equal(byKey.get('0:ecc_single_bit').eventType, 1);
  assert.equal(byKey.get('0:ecc_double_bit').xid, undefined);
  const clock = byKey.get('1:clocks_event');
  assert.deepEqual([clock.uuid, clock.reasons], ['GPU-bbbb', 4]);
  const mig = byKey.get('1:xid');
  assert.deepEqual([mig.xid, mig.gpuInstanceId, mig.computeInstanceId], [13, 1, 2]);
}

describe('GPU events: nvmlWatchEvents (stand-in NVML)', () => {
  test('events reach a main-thread listener; the GPU that cannot register is listed once; close() stops', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      a.nvmlOpen(lib);
      const events = [];
      const w = a.nvmlWatchEvents((e) => events.push(e));
      w.ref();  // unref'd by default; keep this process up while waiting
      const shape = { running: w.running, registered: w.registered, unregistered: w.unregistered, waitApi: w.waitApi };
      await until(() => events.length >= 5, '5 events');
      w.close();
      const stats = w.stats();
      w.close();  // idempotent
      done({ shape, events, stats, runningAfter: w.running });
    `, { script: EVENTS }));
    assert.equal(v.shape.running, true);
    assert.equal(v.shape.waitApi, 'nvmlEventSetWait_v2');
    assert.deepEqual(v.shape.registered, [
      { gpuId: 0, uuid: 'GPU-aaaa', eventTypes: 0xb },
      { gpuId: 1, uuid: 'GPU-bbbb', eventTypes: 0x1b },
    ]);
    assert.deepEqual(v.shape.unregistered, [
      { gpuId: 2, uuid: 'GPU-fake-0000-0000-0000-000000000002', errorName: 'NVML_ERROR_NOT_SUPPORTED', errorCode: 3 },
    ]);
    expectEvents(v.events);
    assert.deepEqual(v.stats, { running: false, delivered: 5, dropped: 0, waitErrors: 0 });
    assert.equal(v.runningAfter, false);
  });

  test('events reach a listener in a worker; workers that end or are terminated with a watcher running exit cleanly', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      const { Worker } = require('node:worker_threads');
      const code = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const a = require(workerData.addonPath);
        a.nvmlOpen(workerData.lib);
        const events = [];
        const w = a.nvmlWatchEvents((e) => {
          events.push(e);
          if (events.length === 5) {
            parentPort.postMessage(events);
            if (workerData.mode === 'close') w.close();
            if (workerData.mode === 'leave') w.unref();  // the worker ends with its watcher running
          }
        });
        w.ref();
      \`;
      const run = (mode) => new Promise((res, rej) => {
        const wk = new Worker(code, { eval: true, workerData: { addonPath, lib, mode } });
        let events;
        wk.on('message', (m) => { events = m; if (mode === 'terminate') wk.terminate(); });
        wk.on('error', rej);
        wk.on('exit', (exitCode) => res({ exitCode, events }));
      });
      const results = await Promise.all(['close', 'leave', 'terminate', 'close'].map(run));
      done(results);
    `, { script: EVENTS }));
    assert.equal(v.length, 4);
    for (const r of v) {
      assert.ok(r.exitCode === 0 || r.exitCode === 1, `worker exit code ${r.exitCode}`);
      expectEvents(r.events);
    }
    assert.deepEqual(v.map((r: any) => r.exitCode), [0, 0, 1, 0], 'terminate() reports 1; the others end normally');
  });

  test('a listener that throws raises uncaughtException, as an EventEmitter listener would (not a swallowed warning)', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      a.nvmlOpen(lib);
      const seen = [];
      process.on('uncaughtException', (e) => {
        seen.push(e.message);
        if (seen.length === 2) { w.close(); done(seen); }
      });
      const w = a.nvmlWatchEvents((e) => { throw new Error('listener failed on ' + e.type); });
      w.ref();
    `, { script: 'gpu0.events=xid:31@10,sbe@5\n' }));
    assert.deepEqual(v, ['listener failed on xid', 'listener failed on ecc_single_bit']);
  });

  test('a handle that is dropped keeps delivering (it lives until close), even across a full GC', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      a.nvmlOpen(lib);
      const events = [];
      a.nvmlWatchEvents((e) => events.push(e.type)).ref();
      global.gc();
      await until(() => events.length >= 3, '3 events');
      done(events);
      process.exit(0);  // the ref'd, unreachable watcher would keep this process up, as a ref'd timer would
    `, { script: 'gpu0.events=xid:31@30,sbe@5,dbe@5\n' }));
    assert.deepEqual(v, ['xid', 'ecc_single_bit', 'ecc_double_bit']);
  });

  test('process.exit() while the watcher is blocked: the exit code stands and the event set is freed', (t) => {
    if (!needs(t)) return;
    const log = join(dir, `exit-${process.pid}.log`);
    const r = child(`
      a.nvmlOpen(lib);
      const w = a.nvmlWatchEvents(() => {});
      w.ref();
      setTimeout(() => process.exit(7), 50);
    `, { script: 'devices=2\n', env: { PERFPROBE_FAKE_NVML_LOG: log } });
    assert.equal(r.status, 7, r.stderr);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.ok(lines.includes('event_set_create') && lines.includes('event_set_free'), lines.join(' | '));
    assert.ok(lines.indexOf('event_set_free') > lines.indexOf('event_set_create'));
  });

  test('a watcher left running at a normal exit does not keep the process alive, and is joined', (t) => {
    if (!needs(t)) return;
    const log = join(dir, `natural-${process.pid}.log`);
    const r = child(`
      a.nvmlOpen(lib);
      a.nvmlWatchEvents(() => {});
      done('started');
    `, { script: 'devices=1\n', env: { PERFPROBE_FAKE_NVML_LOG: log } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.v, 'started');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('event_set')), ['event_set_create', 'event_set_free']);
  });

  test('an event set that cannot be created: not running, every GPU listed with the reason; a non-function is a TypeError', (t) => {
    if (!needs(t)) return;
    const v = result(child(`
      a.nvmlOpen(lib);
      const w = a.nvmlWatchEvents(() => {});
      let typeError;
      try { a.nvmlWatchEvents(5); } catch (e) { typeError = e.name + ': ' + e.message; }
      done({ running: w.running, unregistered: w.unregistered.map((u) => [u.gpuId, u.errorName]), registered: w.registered, stats: w.stats(), typeError });
    `, { script: 'devices=2\nevent_set_error=20\n' }));
    assert.equal(v.running, false);
    assert.deepEqual(v.unregistered, [[0, 'NVML_ERROR_MEMORY'], [1, 'NVML_ERROR_MEMORY']]);
    assert.deepEqual(v.registered, []);
    assert.equal(v.stats.running, false);
    assert.equal(v.typeError, 'TypeError: listener must be a function');
  });
});
