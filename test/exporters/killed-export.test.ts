// A `kill -9` in the middle of an export leaves its temporary file behind
// (27 MB for a 1M-record JSON export); the next export into the same
// directory removes the temporary files of writers that are gone, and never
// one whose writer lives (another process's, or this process's own export
// in flight).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newCollector, tempDir } from '../helpers/export-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const tmp = tempDir('perfprobe-killed-');
after(() => tmp.cleanup());
const root = resolve(__dirname, '..', '..');

const temps = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

/** Resolves when the child prints `line`, rejects when it exits first or after `ms`. */
function waitFor(child: ChildProcess, line: string, ms: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "${line}" within ${ms} ms: ${out}`)), ms);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(line)) {
        clearTimeout(timer);
        resolvePromise();
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code ?? signal}) before "${line}": ${out}`));
    });
  });
}

test('a SIGKILLed export leaves a temporary file; the next export removes it', { timeout: 2 * HANG_GUARD_MS }, async () => {
  const dir = join(tmp.dir, 'killed');
  mkdirSync(dir, { recursive: true });
  // The child starts a 200,000-record export; once its temporary file exists
  // and holds a first chunk (seen from a timer between two written chunks:
  // the file is empty between its open and the first write) it says so and
  // blocks its thread (Atomics.wait: no CPU) until it is killed, so it dies
  // mid-export.
  const body = `
    const { readdirSync, statSync } = require('node:fs');
    const { PerformanceMetricsCollector } = require(${JSON.stringify(join(root, 'src', 'index.ts'))});
    const c = new PerformanceMetricsCollector({ exportDirectory: ${JSON.stringify(dir)}, enableGpuTracking: false, maxHistorySize: 200000 });
    for (let i = 0; i < 200000; i++) c.recordProcessingTime('op_' + (i % 7), i % 97, { jobId: 'job_' + (i % 13) });
    const done = c.exportToJson().then(() => process.stdout.write('FINISHED\\n'));
    const timer = setInterval(() => {
      const d = ${JSON.stringify(dir)};
      if (readdirSync(d).some((f) => f.endsWith('.tmp') && (statSync(d + '/' + f, { throwIfNoEntry: false })?.size ?? 0) > 0)) {
        clearInterval(timer);
        process.stdout.write('MIDWAY\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000));
      }
    }, 0);
    void done;
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', body], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitFor(child, 'MIDWAY', 150_000);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  assert.equal(child.signalCode, 'SIGKILL');
  const left = temps(dir);
  assert.equal(left.length, 1, `the killed export left its temporary file: ${readdirSync(dir).join(', ')}`);
  assert.ok(statSync(join(dir, left[0]!)).size > 0, 'it holds part of the export');
  assert.match(left[0]!, new RegExp(`^\\.metrics_\\d{8}_\\d{6}\\.json\\.${child.pid}\\.`), 'named after the export and its writer');
  assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.tmp')), [], 'no export file: it never finished');

  const c = newCollector({ exportDirectory: dir });
  c.recordProcessingTime('after', 1);
  const path = await c.exportToJson();
  assert.ok(existsSync(path));
  assert.deepEqual(temps(dir), [], 'the dead writer\'s temporary file was removed by the next export');
});

test('temporary files of live writers are kept; of dead or reused pids removed; foreign scopes left alone', async () => {
  const { staleReason, tempName, processStartTicks, LEGACY_STALE_MS } = await import('../../src/exporters/files/stale-temp.js');
  const dir = join(tmp.dir, 'judged');
  mkdirSync(dir, { recursive: true });
  const mine = tempName('metrics_20260101_000000.json');
  const [, , , pid, start, scope] = mine.split('.') as [string, string, string, string, string, string];
  assert.equal(Number(pid), process.pid);
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const s = sleeper.pid!;
    const sStart = processStartTicks(s);
    const linux = process.platform === 'linux';
    if (linux) assert.ok(sStart !== null && sStart > 0, 'Linux gives start times');
    // A pid no process has: spawn and reap one.
    const gone = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    const deadPid = gone.pid!;
    const hex = 'abcdefabcdef';
    const names = {
      ownInFlight: mine,
      liveOther: `.metrics_20260101_000001.json.${s}.${sStart ?? 0}.${scope}.${hex}.tmp`,
      dead: `.metrics_20260101_000002.json.${deadPid}.${start}.${scope}.${hex}.tmp`,
      reusedPid: `.metrics_20260101_000003.json.${s}.${(sStart ?? 0) + 1}.${scope}.${hex}.tmp`,
      foreignScope: `.metrics_20260101_000004.json.${deadPid}.${start}.00000000.${hex}.tmp`,
      legacyDeadOld: `.metrics_20260101_000005.json.${deadPid}.${hex}.tmp`,
      legacyDeadFresh: `.metrics_20260101_000006.json.${deadPid}.${hex}.tmp`,
      legacyLive: `.metrics_20260101_000007.json.${s}.${hex}.tmp`,
      notOurs: `.something.${deadPid}.${hex}.tmp`,
      userFile: 'notes.tmp',
    };
    for (const n of Object.values(names)) writeFileSync(join(dir, n), 'x');
    const old = new Date(Date.now() - LEGACY_STALE_MS - 60_000);
    for (const n of [names.legacyDeadOld, names.legacyLive]) utimesSync(join(dir, n), old, old);

    // An export into the directory sweeps it, and this process's own export
    // in flight (a second, concurrent one) is not disturbed.
    const c = newCollector({ exportDirectory: dir });
    for (let i = 0; i < 20_000; i++) c.recordProcessingTime('op', i % 10);
    const [a, b] = await Promise.all([c.exportToJson(), c.exportToCsv('processing')]);
    assert.ok(existsSync(a) && existsSync(b));
    const left = new Set(readdirSync(dir));
    assert.ok(left.has(names.ownInFlight), 'own live name kept');
    assert.ok(left.has(names.liveOther), 'a live process\'s file is kept');
    assert.ok(left.has(names.foreignScope), 'another host or PID namespace: not judged');
    assert.ok(left.has(names.legacyDeadFresh), 'older format, recently written: kept');
    assert.ok(left.has(names.legacyLive), 'older format, live pid: kept');
    assert.ok(left.has(names.notOurs) && left.has(names.userFile), 'files perfprobe did not name are never touched');
    assert.equal(left.has(names.dead), false, 'dead writer: removed');
    assert.equal(left.has(names.legacyDeadOld), false, 'older format, dead and old: removed');
    assert.equal(left.has(names.reusedPid), !linux, 'pid reused by another process (start times differ): removed where start times are known');
    assert.match(staleReason(names.dead, 0)!, new RegExp(`process ${deadPid} is gone`));
    if (linux) assert.match(staleReason(names.reusedPid, 0)!, /another process/);
    assert.equal(staleReason(names.liveOther, 1e12), null);
  } finally {
    sleeper.kill('SIGKILL');
  }
});
