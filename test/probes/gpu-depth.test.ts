/**
 * The GPU depth of issue 13 through the public probe API, against the
 * stand-in NVML (native/test/fake_nvml): every new GpuReading field equals
 * what the stand-in scripted, in perfprobe's units (MiB from bytes, reasons
 * named from bits); NOT_SUPPORTED and missing symbols read null; MIG on and
 * off; the INSUFFICIENT_SIZE retries; the process table's refresh;
 * readGpuPcieThroughput; watchGpuEvents on the main thread and in a worker,
 * close() while the thread is blocked, the once-only warning for a GPU that
 * cannot register. One child process per scenario (NVML is process-wide).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuChild, standInNvml, type FakeNvmlLibraries } from '../helpers/fake-nvml-helpers.js';

const MiB = 1048576;
const standIn = standInNvml();

function needs(t: { skip(msg: string): void }): boolean {
  if (standIn.whyNot) t.skip(standIn.whyNot);
  return !standIn.whyNot;
}

const run = <T = any>(body: string, script: string, lib: keyof FakeNvmlLibraries = 'full', env?: Record<string, string>) =>
  gpuChild<T>(body, { lib: standIn.libs![lib], script, ...(env ? { env } : {}) });

/** Pids above Linux's pid_max: never a real process, so their name is null on any machine. */
const NOPID = (n: number) => 2147480000 + n;

const DEPTH = [
  'devices=2',
  'gpu0.name=NVIDIA H200', 'gpu0.uuid=GPU-11111111-2222-3333-4444-555555555555',
  'gpu0.pstate=2', `gpu0.clocks_reasons=${0x4 + 0x40 + 2 ** 12}`, 'gpu0.mem_temp=81', 'gpu0.enc_util=12', 'gpu0.dec_util=34',
  'gpu0.pcie_gen=4', 'gpu0.pcie_width=8', 'gpu0.ecc=1', 'gpu0.ecc_cv=5', 'gpu0.ecc_uv=1', 'gpu0.ecc_ca=123', 'gpu0.ecc_ua=7',
  `gpu0.procs=self:${3 * MiB},${NOPID(1)}:${2 * MiB}:1:0`,
  `gpu0.gprocs=self:${4 * MiB},${NOPID(3)}:${5 * MiB}`,
  'gpu0.putil=self:50:20:3:4@1000,self:70:25:6:8@3000',
  'gpu1.pstate=32', 'gpu1.clocks_reasons=1', 'gpu1.ecc=0', 'gpu1.unsupported=enc,mem_temp,pcie_width',
  'gpu1.mig=1', 'gpu1.mig_pending=0', `gpu1.mig_devices=1:0:${10 * 1024 * MiB}:${1024 * MiB},2:0:${20 * 1024 * MiB}:0:MIG-abcd`,
].join('\n');

const depthFields = `(r) => ({ performanceState: r.performanceState, clocksEventReasons: r.clocksEventReasons, memoryTemperatureCelsius: r.memoryTemperatureCelsius,
  encoderUtilPercent: r.encoderUtilPercent, decoderUtilPercent: r.decoderUtilPercent, pcieLinkGeneration: r.pcieLinkGeneration,
  pcieLinkWidth: r.pcieLinkWidth, eccErrors: r.eccErrors, processes: r.processes, mig: r.mig, processGpuMemoryMb: r.processGpuMemoryMb })`;

describe('GPU depth through readGpusSync() (stand-in NVML)', () => {
  test('every new field equals what was scripted, in its unit; unsupported and unknown read null, never 0', (t) => {
    if (!needs(t)) return;
    const { v, pid } = run(`done(g.readGpusSync().map(${depthFields}))`, DEPTH);
    const [d0, d1] = v;
    assert.equal(d0.performanceState, 2);
    assert.deepEqual(d0.clocksEventReasons, ['sw_power_cap', 'hw_thermal_slowdown', 'bit_12'], 'reasons named from bits, unknown ones bit_<n>');
    assert.deepEqual([d0.memoryTemperatureCelsius, d0.encoderUtilPercent, d0.decoderUtilPercent], [81, 12, 34]);
    assert.deepEqual([d0.pcieLinkGeneration, d0.pcieLinkWidth], [4, 8]);
    assert.deepEqual(d0.eccErrors, { correctedVolatile: 5, uncorrectedVolatile: 1, correctedAggregate: 123, uncorrectedAggregate: 7 });
    // nvitop's process table: compute and graphics merged by pid, ascending; the larger figure of a pid on both;
    // this process named from /proc with its newest utilization sample; MIG ids where the list gives them.
    const none = { smUtilPercent: null, memoryUtilPercent: null, encoderUtilPercent: null, decoderUtilPercent: null };
    assert.deepEqual(d0.processes, [
      { pid, usedMemoryMb: 4, name: 'node', type: 'compute+graphics', smUtilPercent: 70, memoryUtilPercent: 25, encoderUtilPercent: 6, decoderUtilPercent: 8, gpuInstanceId: null, computeInstanceId: null },
      { pid: NOPID(1), usedMemoryMb: 2, name: null, type: 'compute', ...none, gpuInstanceId: 1, computeInstanceId: 0 },
      { pid: NOPID(3), usedMemoryMb: 5, name: null, type: 'graphics', ...none, gpuInstanceId: null, computeInstanceId: null },
    ]);
    assert.equal(d0.processGpuMemoryMb, 3, "this process on the compute list (the sampler's figure)");
    assert.deepEqual(d0.mig, { currentMode: false, pendingMode: false, devices: [] }, 'MIG-capable, MIG off');
    // GPU 1: P-state unknown (32), ECC off, unsupported fields null, MIG on with its devices in MiB.
    assert.equal(d1.performanceState, null);
    assert.deepEqual(d1.clocksEventReasons, ['gpu_idle']);
    assert.equal(d1.eccErrors, null, 'ECC off: null as a whole');
    assert.deepEqual([d1.memoryTemperatureCelsius, d1.encoderUtilPercent, d1.pcieLinkWidth], [null, null, null]);
    assert.equal(d1.decoderUtilPercent, null, 'codecs are not supported under MIG (NVML documents it)');
    assert.equal(d1.pcieLinkGeneration, 5);
    assert.deepEqual(d1.mig, {
      currentMode: true,
      pendingMode: false,
      devices: [
        { index: 0, uuid: 'MIG-fake-1-0', gpuInstanceId: 1, computeInstanceId: 0, memoryTotalMb: 10240, memoryUsedMb: 1024 },
        { index: 1, uuid: 'MIG-abcd', gpuInstanceId: 2, computeInstanceId: 0, memoryTotalMb: 20480, memoryUsedMb: 0 },
      ],
    });
    assert.deepEqual(d1.processes, []);
  });

  test('NOT_SUPPORTED for every new call: each field null (the lists: [] and null); one ECC counter type unsupported: those two null', (t) => {
    if (!needs(t)) return;
    const { v } = run(`done(g.readGpusSync().map(${depthFields}))`, [
      'devices=2',
      'gpu0.unsupported=pstate,reasons,mem_temp,enc,dec,ecc,pcie_gen,pcie_width,procs,gprocs,putil,mig',
      'gpu1.ecc=1', 'gpu1.ecc_cv=9', 'gpu1.ecc_uv=2', 'gpu1.unsupported=ecc_aggregate,putil', `gpu1.procs=${NOPID(5)}:${MiB}`,
    ].join('\n'));
    assert.deepEqual(v[0], {
      performanceState: null, clocksEventReasons: null, memoryTemperatureCelsius: null, encoderUtilPercent: null, decoderUtilPercent: null,
      pcieLinkGeneration: null, pcieLinkWidth: null, eccErrors: null, processes: [], mig: null, processGpuMemoryMb: null,
    });
    assert.deepEqual(v[1].eccErrors, { correctedVolatile: 9, uncorrectedVolatile: 2, correctedAggregate: null, uncorrectedAggregate: null });
    assert.equal(v[1].processes[0].smUtilPercent, null, 'process utilization unsupported: null');
    assert.deepEqual(v[1].clocksEventReasons, [], 'no reason set: [] (full clocks), not null');
  });

  test("an old driver ('old' build): the deprecated temperature and throttle-reasons calls fill the same fields", (t) => {
    if (!needs(t)) return;
    const { v } = run(`done({ r: g.readGpusSync()[0], d: g.nvmlDetails() })`, 'gpu0.temp=47\ngpu0.clocks_reasons=4\ngpu0.pstate=8\n', 'old');
    assert.equal(v.d.temperatureApi, 'nvmlDeviceGetTemperature');
    assert.equal(v.d.clocksReasonsSymbol, 'nvmlDeviceGetCurrentClocksThrottleReasons');
    assert.equal(v.r.temperatureCelsius, 47);
    assert.deepEqual(v.r.clocksEventReasons, ['sw_power_cap']);
    assert.equal(v.r.performanceState, 8);
  });

  test("missing symbols ('missing' build): every GPU-depth field null, no crash", (t) => {
    if (!needs(t)) return;
    const { v } = run(`done(g.readGpusSync().map(${depthFields}))`, 'gpu0.pstate=2\ngpu0.clocks_reasons=4\ngpu0.ecc=1\ngpu0.mig=1\n', 'missing');
    assert.deepEqual(v[0], {
      performanceState: null, clocksEventReasons: null, memoryTemperatureCelsius: null, encoderUtilPercent: null, decoderUtilPercent: null,
      pcieLinkGeneration: null, pcieLinkWidth: null, eccErrors: null, processes: [], mig: null, processGpuMemoryMb: null,
    });
  });

  test('INSUFFICIENT_SIZE on the first graphics-list and process-utilization calls is retried', (t) => {
    if (!needs(t)) return;
    const many = Array.from({ length: 40 }, (_, i) => `${NOPID(100 + i)}:${(i + 1) * MiB}`).join(',');
    const { v, pid } = run(`done(g.readGpusSync()[0].processes)`, [
      'gpu0.insufficient_first=1', 'gpu0.ginsufficient_first=1', 'gpu0.putil_insufficient_first=1',
      `gpu0.procs=self:${MiB}`, `gpu0.gprocs=${many}`, 'gpu0.putil=self:33:1:0:0@77',
    ].join('\n'));
    assert.equal(v.length, 41);
    assert.deepEqual([v[0].pid, v[0].type, v[0].smUtilPercent], [pid, 'compute', 33]);
    assert.deepEqual([v[40].pid, v[40].type, v[40].usedMemoryMb], [NOPID(139), 'graphics', 40]);
  });

  test('the process table and MIG are read once, then reused (frozen, shared) until detailsRefreshMs; 0 reads them every call', (t) => {
    if (!needs(t)) return;
    const { v } = run(`
      const a = g.readGpusSync()[0], b = g.readGpusSync()[0];
      const shared = a.processes === b.processes && a.mig === b.mig && Object.isFrozen(a.processes) && Object.isFrozen(a.processes[0]);
      let mutate = 'no error';
      try { 'use strict'; a.processes.push({}); } catch (e) { mutate = e.constructor.name; }
      g.configureGpu({ detailsRefreshMs: 0 });
      const c = g.readGpusSync()[0], d = g.readGpusSync()[0];
      let bad; try { g.configureGpu({ detailsRefreshMs: -1 }); } catch (e) { bad = e.message; }
      done({ shared, mutate, sm: [a.processes[0].smUtilPercent, b.processes[0].smUtilPercent, c.processes[0].smUtilPercent, d.processes[0].smUtilPercent], fresh: c.processes !== d.processes, bad });
    `, `gpu0.procs=self:${MiB}\ngpu0.putil=self:61:1:0:0@500\n`);
    assert.equal(v.shared, true);
    assert.equal(v.mutate, 'TypeError');
    // The stand-in hands a utilization sample out once (samples since the last read): the reused table keeps it,
    // a fresh details read finds none newer (null, not 0), as nvitop would.
    assert.deepEqual(v.sm, [61, 61, 61, null]);
    assert.equal(v.fresh, true);
    assert.equal(v.bad, 'detailsRefreshMs must be a number of milliseconds >= 0, got -1');
  });
});

describe('readGpuPcieThroughput()', () => {
  test('KB/s per GPU from the thread pool, null when unsupported; rejects without NVML', (t) => {
    if (!needs(t)) return;
    const { v } = run(`
      const p = g.readGpuPcieThroughput();
      const values = await p;
      g.configureGpu({ enabled: false });
      const off = await g.readGpuPcieThroughput().then(() => 'resolved', (e) => e.code);
      done({ isPromise: p instanceof Promise, values, off });
    `, 'devices=2\ngpu0.pcie_tx_kbps=1234\ngpu0.pcie_rx_kbps=5678\ngpu1.unsupported=pcie_throughput\n');
    assert.equal(v.isPromise, true);
    assert.deepEqual(v.values, [{ gpuId: 0, txKBps: 1234, rxKBps: 5678 }, { gpuId: 1, txKBps: null, rxKBps: null }]);
    assert.equal(v.off, 'ERR_PERFPROBE_NVML_UNAVAILABLE');
  });
});

const EVENTS = [
  'devices=3',
  'gpu0.uuid=GPU-aaaa', 'gpu0.events=xid:79@20,sbe@5,dbe@5',
  'gpu1.uuid=GPU-bbbb', 'gpu1.supported_events=0x1f', 'gpu1.clocks_reasons=0x44', 'gpu1.events=clock@10,xid:13:1:2@5',
  'gpu2.name=Broken GPU', 'gpu2.register_error=3',
].join('\n');

function expectEvents(events: any[]): void {
  assert.equal(events.length, 5, JSON.stringify(events));
  const by = new Map(events.map((e) => [`${e.gpuId}:${e.type}`, e]));
  const xid = by.get('0:xid');
  assert.deepEqual(Object.keys(xid).sort(), ['computeInstanceId', 'gpuId', 'gpuInstanceId', 'timestamp', 'type', 'uuid', 'xid']);
  assert.deepEqual([xid.uuid, xid.xid, xid.gpuInstanceId, xid.computeInstanceId], ['GPU-aaaa', 79, null, null]);
  assert.ok(Math.abs(xid.timestamp - Date.now()) < 120_000);
  assert.deepEqual(Object.keys(by.get('0:ecc_single_bit')).sort(), ['computeInstanceId', 'gpuId', 'gpuInstanceId', 'timestamp', 'type', 'uuid']);
  assert.equal(by.get('0:ecc_double_bit').uuid, 'GPU-aaaa');
  assert.deepEqual(by.get('1:clocks_event').reasons, ['sw_power_cap', 'hw_thermal_slowdown'], 'the reasons named, as in readings');
  const mig = by.get('1:xid');
  assert.deepEqual([mig.xid, mig.gpuInstanceId, mig.computeInstanceId], [13, 1, 2]);
}

describe('watchGpuEvents() (stand-in NVML)', () => {
  test('main thread: events delivered as scripted; the GPU that cannot register is one warning, not an error; close() stops', (t) => {
    if (!needs(t)) return;
    const { v, warnings } = run(`
      const events = [];
      const w = g.watchGpuEvents((e) => events.push(e));
      w.ref();
      const shape = { running: w.running, registered: w.registered, unregistered: w.unregistered };
      await until(() => events.length >= 5, '5 events');
      w.close();
      const again = g.watchGpuEvents(() => {});  // the same GPU again: no second warning
      again.close();
      let typeError; try { g.watchGpuEvents('nope'); } catch (e) { typeError = e.message; }
      done({ shape, events, stats: w.stats(), runningAfter: w.running, typeError });
    `, EVENTS);
    assert.equal(v.shape.running, true);
    assert.deepEqual(v.shape.registered, [
      { gpuId: 0, uuid: 'GPU-aaaa', eventTypes: ['ecc_single_bit', 'ecc_double_bit', 'xid'] },
      { gpuId: 1, uuid: 'GPU-bbbb', eventTypes: ['ecc_single_bit', 'ecc_double_bit', 'xid', 'clocks_event'] },
    ]);
    assert.deepEqual(v.shape.unregistered, [{ gpuId: 2, uuid: 'GPU-fake-0000-0000-0000-000000000002', errorName: 'NVML_ERROR_NOT_SUPPORTED' }]);
    expectEvents(v.events);
    assert.deepEqual(v.stats, { delivered: 5, dropped: 0, waitErrors: 0 });
    assert.equal(v.runningAfter, false);
    assert.equal(v.typeError, 'listener must be a function, got "nope"');
    const w = warnings.filter((x) => x.code === 'PERFPROBE_GPU_EVENTS_UNAVAILABLE');
    assert.equal(w.length, 1, JSON.stringify(warnings));
    assert.match(w[0]!.message, /GPU 2 \(Broken GPU, GPU-fake-0000-0000-0000-000000000002\): NVML_ERROR_NOT_SUPPORTED/);
  });

  test('a worker thread: events reach its listener through the TypeScript API', (t) => {
    if (!needs(t)) return;
    const { v } = run(`
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads');
        require('tsx/cjs');
        const g = require(workerData.gpu);
        const events = [];
        const watcher = g.watchGpuEvents((e) => {
          events.push(e);
          if (events.length === 5) { watcher.close(); parentPort.postMessage(events); }
        });
        watcher.ref();
      \`, { eval: true, workerData: { gpu: ${JSON.stringify(join(__dirname, '..', '..', 'src', 'probes', 'gpu-watch.ts'))} } });
      const events = await new Promise((res, rej) => { w.on('message', res); w.on('error', rej); });
      const exitCode = await new Promise((res) => w.on('exit', res));
      done({ events, exitCode });
    `, EVENTS);
    expectEvents(v.events);
    assert.equal(v.exitCode, 0);
  });

  test('close() while the native thread is blocked waiting (no events) returns, frees the event set, and nothing more is delivered', (t) => {
    if (!needs(t)) return;
    const log = join(tmpdir(), `perfprobe-close-blocked-${process.pid}.log`);
    const { v } = run(`
      const events = [];
      let closed = false;
      const t0 = Date.now();
      const w = g.watchGpuEvents((e) => events.push({ afterClose: closed }));
      w.ref();
      // Once the event set exists (the stand-in logs it) the thread goes on into nvmlEventSetWait: close then.
      const fs = require('node:fs');
      await until(() => fs.existsSync(${JSON.stringify(log)}) && fs.readFileSync(${JSON.stringify(log)}, 'utf8').includes('event_set_create'), 'the event set');
      await new Promise((r) => setTimeout(r, 50));
      w.close();
      closed = true;
      // Past the scripted event's time (2 s after the watch began), however late this timer fires.
      await until(() => Date.now() - t0 > 2300, 'the scripted event time');
      const text = fs.readFileSync(${JSON.stringify(log)}, 'utf8');
      done({ events: events.length, afterClose: events.filter((e) => e.afterClose).length, running: w.running, stats: w.stats(), log: text });
    `, 'devices=1\ngpu0.events=xid:31@2000\n', 'full', { PERFPROBE_FAKE_NVML_LOG: log });
    // Nothing after close() (an event before it, when a loaded machine closes late, is counted in delivered).
    assert.equal(v.afterClose, 0);
    assert.equal(v.running, false);
    assert.equal(v.stats.delivered, v.events);
    assert.deepEqual(v.log.trim().split('\n').filter((l: string) => l.startsWith('event_set')), ['event_set_create', 'event_set_free']);
  });

  test('an event set that cannot be created: not running, every GPU in unregistered, one warning naming both', (t) => {
    if (!needs(t)) return;
    const { v, warnings } = run(`
      const w = g.watchGpuEvents(() => {});
      done({ running: w.running, unregistered: w.unregistered, registered: w.registered });
      w.close();
    `, 'devices=2\nevent_set_error=20\n');
    assert.equal(v.running, false);
    assert.deepEqual(v.unregistered.map((u: any) => [u.gpuId, u.errorName]), [[0, 'NVML_ERROR_MEMORY'], [1, 'NVML_ERROR_MEMORY']]);
    assert.deepEqual(v.registered, []);
    const w = warnings.filter((x) => x.code === 'PERFPROBE_GPU_EVENTS_UNAVAILABLE');
    assert.equal(w.length, 1);
    assert.match(w[0]!.message, /2 GPUs cannot report NVML events.*GPU 0 .*NVML_ERROR_MEMORY; GPU 1 .*NVML_ERROR_MEMORY/);
  });

  test('without NVML: ERR_PERFPROBE_NVML_UNAVAILABLE', (t) => {
    if (!needs(t)) return;
    const { v } = run(`let code; try { g.watchGpuEvents(() => {}); } catch (e) { code = e.code; } done(code)`, '', 'full', { PERFPROBE_NVML: '0' });
    assert.equal(v, 'ERR_PERFPROBE_NVML_UNAVAILABLE');
  });
});

describe('the collector records GPU events while monitoring', () => {
  test('startMonitoring watches events: getGpuEvents, gpuXidCounts, /metrics Xid counters (perfprobe and dcgm names); stopMonitoring closes the watcher', (t) => {
    if (!needs(t)) return;
    const log = join(tmpdir(), `perfprobe-collector-events-${process.pid}.log`);
    const { v } = run(`
      const { PerformanceMetricsCollector, renderPrometheus } = src('index.ts');
      const c = new PerformanceMetricsCollector({ enableGpuTracking: true, memorySampleIntervalMs: 50 });
      c.startMonitoring();
      const keepAlive = setInterval(() => {}, 1000);
      await until(() => c.getGpuEvents().length >= 4, '4 events');
      const text = renderPrometheus(c);
      const dcgm = renderPrometheus(c, { gpuMetricNames: 'dcgm' });
      const events = c.getGpuEvents();
      const gpu1 = c.getGpuEvents({ gpuId: 1 });
      const after = c.getGpuEvents({ since: events[1].timestamp });
      c.stopMonitoring();
      clearInterval(keepAlive);
      const counts = c.gpuXidCounts();
      c.clearMetrics('gpu');
      const log = require('node:fs').readFileSync(${JSON.stringify(log)}, 'utf8');
      done({ types: events.map((e) => e.type + ':' + e.gpuId), gpu1: gpu1.length, after: after.length <= events.length - 1, counts, text, dcgm, cleared: [c.getGpuEvents().length, c.gpuXidCounts().length], log, frozen: Object.isFrozen(events[0]) });
    `, ['devices=2', 'gpu0.uuid=GPU-aaaa', 'gpu0.events=xid:79@30,xid:79@5,xid:31@5', 'gpu1.uuid=GPU-bbbb', 'gpu1.events=dbe@40'].join('\n'), 'full', { PERFPROBE_FAKE_NVML_LOG: log });
    assert.deepEqual([...v.types].sort(), ['ecc_double_bit:1', 'xid:0', 'xid:0', 'xid:0']);
    assert.equal(v.gpu1, 1);
    assert.equal(v.after, true);
    assert.equal(v.frozen, true);
    assert.deepEqual(v.counts.map((c: any) => [c.gpuId, c.uuid, c.xid, c.count]), [[0, 'GPU-aaaa', 31, 1], [0, 'GPU-aaaa', 79, 2]]);
    assert.match(v.text, /^perfprobe_gpu_xid_errors_total\{gpu="0",uuid="GPU-aaaa",xid="79"\} 2$/m);
    assert.match(v.text, /^perfprobe_gpu_xid_errors_total\{gpu="0",uuid="GPU-aaaa",xid="31"\} 1$/m);
    assert.match(v.dcgm, /^DCGM_FI_DEV_XID_ERRORS\{gpu="0",UUID="GPU-aaaa",modelName="Fake GPU 0",Hostname="[^"]+"\} 31$/m, 'the last Xid seen');
    assert.match(v.dcgm, /^DCGM_FI_DEV_XID_ERRORS\{gpu="1",UUID="GPU-bbbb",modelName="Fake GPU 1",Hostname="[^"]+"\} 0$/m, '0 before any');
    assert.deepEqual(v.cleared, [0, 0]);
    assert.deepEqual(v.log.trim().split('\n').filter((l: string) => l.startsWith('event_set')), ['event_set_create', 'event_set_free'], 'the watcher closed at stopMonitoring');
  });
});
