/**
 * GPU probe against the stand-in NVML library (native/test/fake_nvml), one
 * child process per scenario because NVML is process-wide. Each scenario
 * scripts the library's values and faults and checks that every field read
 * equals the value scripted, with perfprobe's unit conversions (bytes -> MiB,
 * mW -> W), nulls for unsupported fields, and the fallbacks and reasons.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getAddon } from '../../src/native/binding.js';
import { fakeNvmlLibraries } from '../helpers/fake-nvml-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const root = resolve(__dirname, '..', '..');
const gpuModule = join(root, 'src', 'probes', 'gpu.ts');
const infoModule = join(root, 'src', 'probes', 'info.ts');
const samplerModule = join(root, 'src', 'probes', 'sampler.ts');
const MiB = 1048576;
const CI = process.env.CI === 'true';

let libs: Record<'full' | 'v1' | 'nov3' | 'missing' | 'noinit', string> | null = null;
let whyNot = '';
const dir = mkdtempSync(join(tmpdir(), 'perfprobe-gpu-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  try {
    libs = await fakeNvmlLibraries();
  } catch (err) {
    whyNot = `cannot build the stand-in NVML: ${(err as Error).message}`;
  }
  if (libs && !getAddon()) whyNot = 'the perfprobe addon is not built (npx node-gyp rebuild)';
  if (whyNot && CI) throw new Error(whyNot);
});

/** Skips (not on CI: there before() has already failed) when the fake or the addon is unavailable. */
function needs(t: { skip(msg: string): void }): boolean {
  if (whyNot) {
    t.skip(whyNot);
    return false;
  }
  return true;
}

let scriptN = 0;
interface ChildResult<T> { v: T; warnings: Array<{ code: string; message: string }>; pid: number }

/**
 * Runs `body` (JavaScript; `g` is src/probes/gpu.ts, `done(value)` reports)
 * in a child with the stand-in library `lib` and the fake's `script`.
 */
function child<T = any>(body: string, opts: { lib?: keyof NonNullable<typeof libs> | string | null; script?: string; env?: Record<string, string> } = {}): ChildResult<T> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of ['PERFPROBE_NVML', 'PERFPROBE_NVML_LIBRARY', 'PERFPROBE_FAKE_NVML_SCRIPT', 'PERFPROBE_ADDON', 'NODE_OPTIONS']) delete env[k];
  const lib = opts.lib === undefined ? 'full' : opts.lib;
  if (lib !== null) env.PERFPROBE_NVML_LIBRARY = libs && lib in libs ? libs[lib as keyof typeof libs] : lib;
  if (opts.script !== undefined) {
    const file = join(dir, `script-${++scriptN}.txt`);
    writeFileSync(file, opts.script);
    env.PERFPROBE_FAKE_NVML_SCRIPT = file;
  }
  Object.assign(env, opts.env);
  const prelude = `
    const g = require(${JSON.stringify(gpuModule)});
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    function done(v) { setTimeout(() => process.stdout.write('RESULT:' + JSON.stringify({ v, warnings, pid: process.pid }) + '\\n'), 20); }
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `${prelude}\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(3); });`], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  assert.ok(line, `child produced no result (status ${r.status}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(line.slice('RESULT:'.length)) as ChildResult<T>;
}

// Two devices with distinct values; gpu1 reads real zeros (0 %, 0 MiB).
const D0 = {
  name: 'NVIDIA H200', uuid: 'GPU-11111111-2222-3333-4444-555555555555', util: 97, memutil: 41,
  mem_total: 150754820096, mem_reserved: 644874240, mem_used: 21474836480, mem_free: 128635109376,
  temp: 56, power_mw: 690123, power_limit_mw: 700000, sm_clock: 1425, mem_clock: 2619, fan: 33, energy_mj: 987654321,
};
const D1 = {
  name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', util: 0, memutil: 0,
  mem_total: 85520809984, mem_reserved: 553648128, mem_used: 0, mem_free: 84967161856,
  temp: 31, power_mw: 71500, power_limit_mw: 350000, sm_clock: 345, mem_clock: 1593, fan: 0, energy_mj: 5,
};
/** Pids no process can have (above Linux's pid_max), so their name reads null on any machine. */
const NOPID = (n: number) => 2147480000 + n;
/** A process entry as readGpusSync gives it: compute, not sampled, no MIG, unless said otherwise. */
function P(pid: number, usedMemoryMb: number | null, over: Record<string, unknown> = {}) {
  return { pid, usedMemoryMb, name: null, type: 'compute', smUtilPercent: null, memoryUtilPercent: null, encoderUtilPercent: null, decoderUtilPercent: null, gpuInstanceId: null, computeInstanceId: null, ...over };
}
function dev(i: number, d: Record<string, string | number>): string {
  return Object.entries(d).map(([k, v]) => `gpu${i}.${k}=${v}`).join('\n');
}
const TWO = `devices=2\ndriver=580.65.06\n${dev(0, D0)}\ngpu0.procs=self:3221225472,${NOPID(4242)}:na,${NOPID(777)}:1048576\n${dev(1, D1)}\ngpu1.procs=${NOPID(999)}:2097152\n`;

function expectDevice(r: any, d: typeof D0, gpuId: number): void {
  assert.equal(r.gpuId, gpuId);
  assert.equal(r.name, d.name);
  assert.equal(r.uuid, d.uuid);
  assert.equal(r.loadPercent, d.util);
  assert.equal(r.memoryUtilPercent, d.memutil);
  assert.equal(r.memoryTotalMb, d.mem_total / MiB);
  assert.equal(r.memoryUsedMb, d.mem_used / MiB);
  assert.equal(r.memoryReservedMb, d.mem_reserved / MiB);
  assert.equal(r.memoryFreeMb, d.mem_free / MiB);
  assert.equal(r.memoryPercent, (d.mem_used / d.mem_total) * 100);
  assert.equal(r.temperatureCelsius, d.temp);
  assert.equal(r.powerWatts, d.power_mw / 1000);
  assert.equal(r.powerLimitWatts, d.power_limit_mw / 1000);
  assert.equal(r.smClockMhz, d.sm_clock);
  assert.equal(r.memoryClockMhz, d.mem_clock);
  assert.equal(r.fanPercent, d.fan);
  assert.equal(r.status, 'ok');
  assert.equal(typeof r.timestamp, 'number');
  assert.ok(Math.abs(r.timestamp - Date.now()) < 120_000);
}

describe('GPU through NVML (stand-in library)', () => {
  test('readGpusSync reads every scripted field of every device, units converted', (t) => {
    if (!needs(t)) return;
    const { v, pid, warnings } = child(`done({ sync: g.readGpusSync(), info: g.gpuBackendInfo(), statics: g.gpuStaticInfo(), energy: g.readGpuEnergy(), details: g.nvmlDetails() })`, { script: TWO });
    assert.equal(v.sync.length, 2);
    expectDevice(v.sync[0], D0, 0);
    expectDevice(v.sync[1], D1, 1);
    // This process's own GPU memory, and the list with "not available" as null.
    assert.equal(v.sync[0].processGpuMemoryMb, 3072);
    // Ascending pid; this process named from /proc, the others not visible (null, never a guess).
    assert.deepEqual(v.sync[0].processes, [P(pid, 3072, { name: 'node' }), P(NOPID(777), 1), P(NOPID(4242), null)]);
    assert.equal(v.sync[1].processGpuMemoryMb, 0, 'listed, this process absent: 0, not null');
    assert.deepEqual(v.sync[1].processes, [P(NOPID(999), 2)]);
    assert.deepEqual(v.info, { backend: 'nvml', driverVersion: '580.65.06', library: libs!.full });
    assert.deepEqual(v.statics, [
      { gpuId: 0, name: D0.name, uuid: D0.uuid, memoryTotalMb: D0.mem_total / MiB, powerLimitWatts: 700 },
      { gpuId: 1, name: D1.name, uuid: D1.uuid, memoryTotalMb: D1.mem_total / MiB, powerLimitWatts: 350 },
    ]);
    assert.deepEqual(v.energy, [{ gpuId: 0, energyMillijoules: D0.energy_mj }, { gpuId: 1, energyMillijoules: D1.energy_mj }]);
    assert.equal(v.details.initSymbol, 'nvmlInit_v2');
    assert.equal(v.details.memoryApi, 2);
    assert.equal(v.details.processApi, 3);
    assert.equal(v.details.processDrift, false);
    assert.deepEqual(warnings, []);
  });

  test('readGpus() resolves the same NVML readings, and probeInfo() reports nvml', (t) => {
    if (!needs(t)) return;
    const { v } = child(`const a = await g.readGpus(); done({ a, info: require(${JSON.stringify(infoModule)}).probeInfo().gpu })`, { script: TWO });
    expectDevice(v.a[0], D0, 0);
    expectDevice(v.a[1], D1, 1);
    assert.equal(v.info.backend, 'nvml');
    assert.equal(v.info.driverVersion, '580.65.06');
  });

  test('NOT_SUPPORTED fields read null, never 0; an unsupported process list gives null and []', (t) => {
    if (!needs(t)) return;
    const { v } = child(`done([g.readGpusSync()[0], g.readGpusSync()[0]])`, {
      script: `${dev(0, D0)}\ngpu0.unsupported=fan,temp,procs,util,power\n`,
    });
    for (const r of v) {
      assert.equal(r.fanPercent, null);
      assert.equal(r.temperatureCelsius, null);
      assert.equal(r.loadPercent, null);
      assert.equal(r.memoryUtilPercent, null);
      assert.equal(r.powerWatts, null);
      assert.equal(r.processGpuMemoryMb, null);
      assert.deepEqual(r.processes, []);
      assert.equal(r.memoryUsedMb, D0.mem_used / MiB);
      assert.equal(r.powerLimitWatts, 700);
      assert.equal(r.status, 'ok');
    }
  });

  test('a GPU lost mid-run reads lost, the others keep reading, exactly one warning', (t) => {
    if (!needs(t)) return;
    const { v, warnings } = child(`const out = []; for (let i = 0; i < 6; i++) out.push(g.readGpusSync().map((r) => [r.status, r.loadPercent, r.memoryUsedMb])); done(out)`, {
      // lost_after counts utilization reads: the first readGpusSync() makes two (its details read, then the
      // block), every later one (within GPU_DETAILS_REFRESH_MS) one; so calls 0 and 1 read, call 2 finds it lost.
      script: `devices=3\n${dev(0, D0)}\n${dev(1, D1)}\ngpu1.lost_after=3\n`,
    });
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(v[i][0], ['ok', D0.util, D0.mem_used / MiB]);
      assert.deepEqual(v[i][2], ['ok', 12, 3072], 'the fake default of gpu2 (10 + index, 3 GiB)');
      assert.deepEqual(v[i][1], i < 2 ? ['ok', 0, 0] : ['lost', null, null]);
    }
    const lost = warnings.filter((w) => w.code === 'PERFPROBE_GPU_LOST');
    assert.equal(lost.length, 1);
    assert.match(lost[0]!.message, /GPU 1 \(NVIDIA H100 80GB HBM3, GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\) was lost/);
  });

  test('INSUFFICIENT_SIZE on the first process-list call is retried; long lists grow the buffer', (t) => {
    if (!needs(t)) return;
    const many = Array.from({ length: 50 }, (_, i) => `${NOPID(2000 + i)}:${(i + 1) * MiB}`).join(',');
    const { v, pid } = child(`done(g.readGpusSync().map((r) => [r.processGpuMemoryMb, r.processes]))`, {
      script: `devices=2\ngpu0.insufficient_first=1\ngpu0.procs=self:${5 * MiB}\ngpu1.procs=${many},self:${7 * MiB}\n`,
    });
    assert.deepEqual(v[0], [5, [P(pid, 5, { name: 'node' })]]);
    assert.equal(v[1][0], 7);
    assert.equal(v[1][1].length, 51);
    assert.deepEqual(v[1][1][50], P(NOPID(2049), 50), 'sorted by pid: this process first, then the 50');
  });

  test('a driver that always claims a huge process list: no crash, that device reads error with its other fields, the others ok', (t) => {
    if (!needs(t)) return;
    const { v } = child(`
      const { Sampler } = require(${JSON.stringify(samplerModule)});
      const s = new Sampler({ intervalMs: 2, gpu: true }).start();
      const reads = g.readGpusSync().map((r) => [r.status, r.loadPercent, r.processGpuMemoryMb, r.processes.length]);
      const t0 = Date.now();
      while (Date.now() - t0 < 100) {}
      const batch = s.drain();
      s.stop();
      done({ reads, records: batch.count, running: true });
    `, { script: `devices=2\ngpu0.insufficient_always=4000000000\ngpu0.util=33\ngpu1.procs=self:${2 * MiB}\n` });
    // The list stops growing at 65,536 entries; the failed call marks the sample 'error'.
    assert.deepEqual(v.reads, [['error', 33, null, 0], ['ok', 11, 2, 1]]);
    assert.ok(v.records >= 10, `the sampler kept sampling: ${v.records} records`);
  });

  test('drivers 535.43-535.86: the drifted _v3 process struct is read with its own stride', (t) => {
    if (!needs(t)) return;
    const { v, pid } = child(`done({ r: g.readGpusSync()[0], d: g.nvmlDetails(), info: g.gpuBackendInfo() })`, {
      script: `driver=535.54.03\ngpu0.procs=${NOPID(101)}:${MiB},self:${3 * MiB},${NOPID(303)}:${4 * MiB}\n`,
    });
    assert.equal(v.d.processDrift, true);
    assert.equal(v.info.driverVersion, '535.54.03');
    assert.deepEqual(v.r.processes, [P(pid, 3, { name: 'node' }), P(NOPID(101), 1), P(NOPID(303), 4)]);
    assert.equal(v.r.processGpuMemoryMb, 3);
  });

  test('a v1-only library: nvmlInit, v1 memory (reserved counted as used, reserved null), v1 process list', (t) => {
    if (!needs(t)) return;
    const { v } = child(`done({ r: g.readGpusSync()[0], d: g.nvmlDetails() })`, {
      lib: 'v1', script: `${dev(0, D0)}\ngpu0.procs=self:${2 * MiB}\n`,
    });
    assert.equal(v.d.initSymbol, 'nvmlInit');
    assert.equal(v.d.memoryApi, 1);
    assert.equal(v.d.processApi, 1);
    assert.equal(v.r.memoryUsedMb, (D0.mem_used + D0.mem_reserved) / MiB);
    assert.equal(v.r.memoryReservedMb, null);
    assert.equal(v.r.memoryTotalMb, D0.mem_total / MiB);
    assert.equal(v.r.processGpuMemoryMb, 2);
    assert.equal(v.r.temperatureCelsius, D0.temp);
  });

  test('no _v3 symbol: the _v2 process list is used', (t) => {
    if (!needs(t)) return;
    const { v } = child(`done({ r: g.readGpusSync()[0], d: g.nvmlDetails() })`, { lib: 'nov3', script: `gpu0.procs=self:${6 * MiB}\n` });
    assert.equal(v.d.processApi, 2);
    assert.equal(v.r.processGpuMemoryMb, 6);
  });

  test('missing symbols make their fields null, never a crash', (t) => {
    if (!needs(t)) return;
    const { v } = child(`done({ r: g.readGpusSync()[0], e: g.readGpuEnergy(), d: g.nvmlDetails() })`, {
      lib: 'missing', script: `${dev(0, D0)}\ngpu0.procs=self:${MiB}\n`,
    });
    assert.equal(v.d.processApi, 0);
    assert.equal(v.r.status, 'ok');
    assert.equal(v.r.temperatureCelsius, null);
    assert.equal(v.r.fanPercent, null);
    assert.equal(v.r.powerLimitWatts, null);
    assert.equal(v.r.processGpuMemoryMb, null);
    assert.deepEqual(v.r.processes, []);
    assert.equal(v.r.powerWatts, D0.power_mw / 1000);
    assert.equal(v.r.memoryUsedMb, D0.mem_used / MiB);
    assert.deepEqual(v.e, [{ gpuId: 0, energyMillijoules: null }]);
  });

  test('a library with no devices: backend nvml and empty lists', (t) => {
    if (!needs(t)) return;
    const { v } = child(`done({ info: g.gpuBackendInfo(), sync: g.readGpusSync(), all: await g.readGpus() })`, { script: 'devices=0\n' });
    assert.equal(v.info.backend, 'nvml');
    assert.deepEqual(v.sync, []);
    assert.deepEqual(v.all, []);
  });

  test('configureGpu({ nvmlLibrary }) opens that file, like PERFPROBE_NVML_LIBRARY; bad input is a TypeError', (t) => {
    if (!needs(t)) return;
    const { v } = child(`
      const errs = [];
      for (const bad of [{ nvmlLibrary: 5 }, { nvmlLibrary: '' }, { enabled: 'yes' }, null]) {
        try { g.configureGpu(bad); errs.push('no error'); } catch (e) { errs.push(e.name + ': ' + e.message); }
      }
      g.configureGpu({ nvmlLibrary: ${JSON.stringify(libs?.full ?? '')} });
      done({ errs, info: g.gpuBackendInfo(), n: g.readGpusSync().length });
    `, { lib: null, script: 'devices=3\n' });
    assert.deepEqual(v.errs, [
      'TypeError: nvmlLibrary must be a non-empty path string, got 5',
      'TypeError: nvmlLibrary must be a non-empty path string, got ""',
      'TypeError: enabled must be a boolean, got "yes"',
      'TypeError: options must be an object, got null',
    ]);
    assert.equal(v.info.backend, 'nvml');
    assert.equal(v.info.library, libs!.full);
    assert.equal(v.n, 3);
  });

  test('configureGpu({ nvmlLibrary }) is the library a sampler started with gpu: true records', (t) => {
    if (!needs(t)) return;
    const { v } = child(`
      const { Sampler } = require(${JSON.stringify(samplerModule)});
      g.configureGpu({ nvmlLibrary: ${JSON.stringify(libs?.full ?? '')} });
      const s = new Sampler({ intervalMs: 5, gpu: true }).start();
      const gpuCount = s.stats().gpuCount;
      s.stop();
      const b = s.drain();
      done({ gpuCount, recordGpus: b.data[3], load0: b.data[11 + 1] });
    `, { lib: null, script: 'devices=2\ngpu0.util=42\n' });
    assert.equal(v.gpuCount, 2);
    assert.equal(v.recordGpus, 2);
    assert.equal(v.load0, 42);
  });

  test('configureGpu({ enabled: false }): backend none, readGpus() resolves []', (t) => {
    if (!needs(t)) return;
    const { v } = child(`g.configureGpu({ enabled: false }); done({ info: g.gpuBackendInfo(), all: await g.readGpus() })`, { script: TWO });
    assert.equal(v.info.backend, 'none');
    assert.match(v.info.reason, /enabled: false/);
    assert.deepEqual(v.all, []);
  });

  test('NVML in a worker thread shares the process-wide init; a worker closing it leaves the main thread reading', (t) => {
    if (!needs(t)) return;
    const { v } = child(`
      const { Worker } = require('node:worker_threads');
      const before = g.readGpusSync().map((r) => r.loadPercent);
      // The module path as workerData: pasted into the worker's source (a
      // template literal here) a Windows path would lose its backslashes.
      const w = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads');
        require('tsx/cjs');
        const g = require(workerData.gpuModule);
        const r = g.readGpusSync().map((x) => x.loadPercent);
        g.closeGpu();
        parentPort.postMessage(r);
      \`, { eval: true, workerData: { gpuModule: ${JSON.stringify(gpuModule)} } });
      const inWorker = await new Promise((res, rej) => { w.on('message', res); w.on('error', rej); });
      await new Promise((res) => w.on('exit', res));
      done({ before, inWorker, after: g.readGpusSync().map((r) => r.loadPercent) });
    `, { script: TWO });
    assert.deepEqual(v.before, [97, 0]);
    assert.deepEqual(v.inWorker, [97, 0]);
    assert.deepEqual(v.after, [97, 0]);
  });
});

describe('NVML lifetime', () => {
  test('one nvmlInit per process for the main thread, a worker and the sampler; one nvmlShutdown at exit; no energy read while sampling', (t) => {
    if (!needs(t)) return;
    const log = join(dir, `lifetime-${process.pid}.log`);
    const { v } = child(`
      const { Worker } = require('node:worker_threads');
      const { Sampler } = require(${JSON.stringify(samplerModule)});
      for (let i = 0; i < 100; i++) g.readGpusSync();
      const w = new Worker(\`
        require('tsx/cjs');
        const g = require(require('node:worker_threads').workerData.gpuModule);
        for (let i = 0; i < 100; i++) g.readGpusSync();
        g.closeGpu();
      \`, { eval: true, workerData: { gpuModule: ${JSON.stringify(gpuModule)} } });
      await new Promise((res) => w.on('exit', res));
      const s = new Sampler({ intervalMs: 1, gpu: true }).start();
      await new Promise((r) => setTimeout(r, 100));
      s.stop();
      done({ records: s.drain().count, log: require('node:fs').readFileSync(${JSON.stringify(log)}, 'utf8') });
    `, { script: 'devices=2\n', env: { PERFPROBE_FAKE_NVML_LOG: log } });
    assert.equal(v.log, 'init\n', 'one init, no shutdown while users remain');
    assert.ok(v.records > 10);
    const after = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(after.length, 2, after.join(' | '));
    assert.equal(after[0], 'init');
    const m = /^shutdown util=(\d+) processes=(\d+) energy=0$/.exec(after[1]!);
    assert.ok(m, after[1]);
    assert.ok(Number(m[1]) >= 2 * (200 + v.records), 'every read and tick reached NVML, 2 devices each');
  });

  test('a GPU sampler that could not open NVML gives back no reference when it stops (NVML stays open for the main thread)', (t) => {
    if (!needs(t)) return;
    const log = join(dir, `unbalanced-${process.pid}.log`);
    const { v } = child(`
      const { Sampler } = require(${JSON.stringify(samplerModule)});
      // The library named by PERFPROBE_NVML_LIBRARY is missing: this sampler's NVML open fails.
      const failed = new Sampler({ intervalMs: 5, gpu: true }).start();
      g.configureGpu({ nvmlLibrary: ${JSON.stringify(libs?.full ?? '')} });
      const before = g.readGpusSync().length;
      failed.stop();
      const after = g.readGpusSync().length;
      const other = new Sampler({ intervalMs: 5, gpu: true }).start();
      other.stop();
      const log = require('node:fs').readFileSync(${JSON.stringify(log)}, 'utf8');
      done({ before, after, log, otherGpus: other.drain().gpuCount });
    `, { lib: join(dir, 'no-such-libnvidia-ml.so.1'), script: 'devices=2\n', env: { PERFPROBE_FAKE_NVML_LOG: log } });
    assert.equal(v.before, 2);
    assert.equal(v.after, 2, 'the main thread still reads both devices');
    assert.equal(v.log, 'init\n', 'no nvmlShutdown while the main thread holds NVML');
    assert.equal(v.otherGpus, 2);
  });
});

describe('GPU fallbacks and reasons', () => {
  test('NVML init failing: systeminformation fallback, the reason names the path and the NVML error', (t) => {
    if (!needs(t)) return;
    const { v } = child(`
      let err; try { g.readGpusSync(); } catch (e) { err = { code: e.code, message: e.message }; }
      const all = await g.readGpus();
      done({ info: require(${JSON.stringify(infoModule)}).probeInfo().gpu, err, all });
    `, { script: 'init=9\n' });
    assert.equal(v.info.backend, 'systeminformation');
    assert.equal(v.info.library, libs!.full);
    assert.ok(v.info.reason.includes(libs!.full), v.info.reason);
    assert.match(v.info.reason, /NVML_ERROR_DRIVER_NOT_LOADED/);
    assert.equal(v.err.code, 'ERR_PERFPROBE_NVML_UNAVAILABLE');
    assert.match(v.err.message, /NVML_ERROR_DRIVER_NOT_LOADED/);
    assert.ok(Array.isArray(v.all));
    for (const r of v.all) {
      assert.equal(r.uuid, null);
      assert.equal(r.processGpuMemoryMb, null);
      assert.deepEqual(r.processes, []);
    }
  });

  test('a missing library: the reason names the path and NVML_ERROR_LIBRARY_NOT_FOUND', (t) => {
    if (!needs(t)) return;
    const missing = join(dir, 'no-such-dir', 'libnvidia-ml.so.1');
    const { v } = child(`done(g.gpuBackendInfo())`, { lib: missing });
    assert.equal(v.backend, 'systeminformation');
    assert.equal(v.library, missing);
    assert.match(v.reason, /^NVML_ERROR_LIBRARY_NOT_FOUND: cannot load /);
    assert.ok(v.reason.includes(missing));
  });

  test('a library without nvmlInit: NVML_ERROR_FUNCTION_NOT_FOUND, no crash', (t) => {
    if (!needs(t)) return;
    const { v } = child(`done(g.gpuBackendInfo())`, { lib: 'noinit' });
    assert.equal(v.backend, 'systeminformation');
    assert.match(v.reason, /NVML_ERROR_FUNCTION_NOT_FOUND/);
    assert.match(v.reason, /nvmlInit/);
  });

  test('PERFPROBE_NVML=0 turns NVML off', (t) => {
    if (!needs(t)) return;
    const { v } = child(`let code; try { g.readGpusSync(); } catch (e) { code = e.code; } done({ info: g.gpuBackendInfo(), code })`, {
      script: TWO, env: { PERFPROBE_NVML: '0' },
    });
    assert.equal(v.info.backend, 'systeminformation');
    assert.match(v.info.reason, /PERFPROBE_NVML=0/);
    assert.equal(v.code, 'ERR_PERFPROBE_NVML_UNAVAILABLE');
  });

  test('PERFPROBE_NVML=0 keeps the sampler off NVML too, even with gpu: true (read once, in TypeScript)', (t) => {
    if (!needs(t)) return;
    const { v } = child(`
      const { Sampler } = require(${JSON.stringify(samplerModule)});
      const s = new Sampler({ intervalMs: 5, gpu: true }).start();
      const gpuCount = s.stats().gpuCount;
      s.stop();
      const b = s.drain();
      done({ gpuCount, recordGpus: b.data[3], count: b.count });
    `, { script: TWO, env: { PERFPROBE_NVML: '0' } });
    assert.equal(v.gpuCount, 0);
    assert.equal(v.recordGpus, 0);
    assert.ok(v.count >= 1);
  });

  test('the systeminformation fallback runs under a timeout, and a failed read is not cached', (t) => {
    if (!needs(t)) return;
    const { v } = child(`
      g.configureGpu({ fallbackTimeoutMs: 1 });
      const t0 = Date.now();
      const first = await g.readGpus().then(() => 'resolved', (e) => e.message);
      const second = await g.readGpus().then(() => 'resolved', (e) => e.message);
      g.configureGpu({ fallbackTimeoutMs: 30000 });
      const third = await g.readGpus().then((r) => Array.isArray(r), (e) => e.message);
      done({ first, second, third, backend: g.gpuBackendInfo().backend });
    `, { env: { PERFPROBE_NVML: '0' } });
    assert.equal(v.backend, 'systeminformation');
    assert.equal(v.first, 'systeminformation graphics() took longer than 1 ms');
    assert.equal(v.second, 'systeminformation graphics() took longer than 1 ms');
    assert.equal(v.third, true);
  });

  test('PERFPROBE_ADDON=0: the reason says the addon is not loaded', (t) => {
    if (!needs(t)) return;
    const { v } = child(`done(g.gpuBackendInfo())`, { script: TWO, env: { PERFPROBE_ADDON: '0' } });
    assert.equal(v.backend, 'systeminformation');
    assert.match(v.reason, /native addon not loaded \(disabled by PERFPROBE_ADDON=0\)/);
  });
});

describe('GPU in the background sampler', () => {
  test('every tick records every device\'s fields; a lost GPU does not stop the sampler; one warning', async (t) => {
    if (!needs(t)) return;
    const { v, pid, warnings } = child(`
      const { Sampler } = require(${JSON.stringify(samplerModule)});
      const { decodeGpuBlock } = require(${JSON.stringify(join(root, 'src', 'probes', 'decode.ts'))});
      const L = require(${JSON.stringify(join(root, 'src', 'schema', 'layout.ts'))});
      const s = new Sampler({ intervalMs: 2, gpu: true, watchPid: process.pid });
      s.start();
      const t0 = Date.now();
      let batch; const records = [];
      while (Date.now() - t0 < 5000) {
        await new Promise((r) => setTimeout(r, 20));
        batch = s.drain(); // warns by itself when a GPU is lost
        for (let i = 0; i < batch.count; i++) {
          const base = i * batch.recordSlots;
          const gpus = [];
          for (let k = 0; k < batch.data[base + L.HeaderSlot.gpuCount]; k++) {
            const off = base + L.RECORD_GPU_OFFSET + k * L.GPU_SLOTS;
            const r = decodeGpuBlock(batch.data, off, k, 0);
            gpus.push([r.status, r.loadPercent, r.memoryUsedMb, r.powerWatts, r.temperatureCelsius, r.processGpuMemoryMb, batch.data[off + L.GpuSlot.watchedMemoryBytes]]);
          }
          records.push(gpus);
        }
        if (records.length >= 30) break;
      }
      const running = s.running;
      s.stop();
      done({ records, gpuCount: batch.gpuCount, running, backend: s.backend });
    `, { script: `devices=2\n${dev(0, D0)}\ngpu0.procs=self:${8 * MiB},1:${MiB}\n${dev(1, D1)}\ngpu1.lost_after=10\n` });
    assert.equal(v.backend, 'native');
    assert.equal(v.gpuCount, 2);
    assert.ok(v.records.length >= 30, `only ${v.records.length} records`);
    assert.equal(v.running, true, 'the sampler keeps running after a GPU is lost');
    let lostSeen = 0;
    for (const rec of v.records) {
      assert.equal(rec.length, 2);
      assert.deepEqual(rec[0], ['ok', D0.util, D0.mem_used / MiB, D0.power_mw / 1000, D0.temp, 8, 8 * MiB]);
      if (rec[1][0] === 'lost') {
        lostSeen++;
        assert.deepEqual(rec[1].slice(0, 6), ['lost', null, null, null, null, null]);
      } else {
        assert.equal(lostSeen, 0, 'lost stays lost');
        assert.deepEqual(rec[1].slice(0, 6), ['ok', D1.util, D1.mem_used / MiB, D1.power_mw / 1000, D1.temp, 0]);
      }
    }
    assert.ok(lostSeen >= 1);
    assert.equal(v.records.length - lostSeen, 10, 'lost after exactly 10 reads');
    assert.equal(warnings.filter((w) => w.code === 'PERFPROBE_GPU_LOST').length, 1);
    assert.ok(pid > 0);
  });
});
