// Process-tree RSS (Sampler watchPid, `perfprobe run`) on every platform the
// addon is built for: Linux (/proc), Windows (Toolhelp snapshot +
// GetProcessMemoryInfo; run under Wine by scripts/emulate.mjs) and macOS
// (proc_listchildpids + proc_pidinfo). A real tree: a child that starts a
// grandchild holding 64 MiB. The tree's RSS is checked against each
// process's own reading (process.memoryUsage.rss(), libuv's code, not
// perfprobe's), and against the tree without the grandchild; unknown
// readings decode to null, never NaN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonStatus, getAddon } from '../../src/native/binding.js';
import { HeaderSlot } from '../../src/schema/layout.js';
import { Sampler } from '../../src/probes/sampler.js';
import { decodeBatchTicks } from '../../src/cli/sampling.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const root = join(__dirname, '..', '..');
const MiB = 1048576;
const addon = getAddon();
if (!addon && process.env.CI === 'true') throw new Error(`addon must load in CI: ${addonStatus().error}`);
const noAddon = addon ? false : `addon not loaded: ${addonStatus().error}`;

// qemu-user answers /proc/self/stat itself with zeros for RSS, so a process
// cannot read its own RSS there; the truth is then the kernel's statm view
// of the (qemu) processes, which is what perfprobe reads too.
const selfRssReadable = process.env.PERFPROBE_EMULATED !== 'qemu-user';

/** The tree: this child (the root) and its grandchild, which fills 64 MiB. */
const ROOT_CODE = `
const { spawn } = require('node:child_process');
const g = spawn(process.execPath, ['-e', "const b = Buffer.alloc(64 * 1048576, 1); process.stdout.write(JSON.stringify({ rss: process.memoryUsage.rss() }) + '\\\\n'); setInterval(() => b[0]++, 200);"], { stdio: ['ignore', 'pipe', 'inherit'] });
let line = '';
g.stdout.on('data', (d) => {
  line += d;
  if (!line.includes('\\n')) return;
  const { rss } = JSON.parse(line);
  process.stdout.write(JSON.stringify({ grandchild: g.pid, grandchildRss: rss, rootRss: process.memoryUsage.rss() }) + '\\n');
});
process.stdin.on('data', () => { g.kill(); g.on('exit', () => process.stdout.write(JSON.stringify({ grandchildGone: true, rootRss: process.memoryUsage.rss() }) + '\\n')); });
setInterval(() => {}, 1000);
`;

function nextLine(child: ChildProcess, timeoutMs: number): Promise<any> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line from the tree within ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(JSON.parse(buf.slice(0, nl)));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the tree's root exited (${code})`)));
  });
}

/** Kernel-side RSS of a pid on Linux (/proc/<pid>/statm), read here without perfprobe. */
function statmRss(pid: number): number {
  const resident = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
  const page = Number(spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).stdout.trim()) || 4096;
  return resident * page;
}

/** Newest tree RSS of a sampler watching `pid`, after at least `records` records. */
async function sampleTree(pid: number, records = 3): Promise<{ bytes: number; decodedMb: number | null }> {
  const s = new Sampler({ intervalMs: 20, gpu: false, watchPid: pid }).start();
  try {
    let batch = s.drain();
    let all = batch;
    for (let i = 0; i < 500 && all.count < records; i++) {
      await new Promise((r) => setTimeout(r, 20));
      batch = s.drain();
      if (batch.count > 0) all = batch;
      if (all.count >= records) break;
    }
    assert.ok(all.count >= 1, 'the sampler wrote records');
    const last = (all.count - 1) * all.recordSlots;
    return { bytes: all.data[last + HeaderSlot.treeRssBytes]!, decodedMb: decodeBatchTicks(all).at(-1)!.treeRssMb };
  } finally {
    s.stop();
  }
}

test('watchPid: the tree RSS sums the root and its grandchild, and drops when the grandchild exits', { skip: noAddon, timeout: 2 * HANG_GUARD_MS }, async () => {
  const tree = spawn(process.execPath, ['-e', ROOT_CODE], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const up = await nextLine(tree, 120000);
    const truthWith = selfRssReadable && process.platform !== 'linux'
      ? up.rootRss + up.grandchildRss
      : statmRss(tree.pid!) + statmRss(up.grandchild);
    const withGrandchild = await sampleTree(tree.pid!);
    assert.ok(Number.isFinite(withGrandchild.bytes), `tree RSS is ${withGrandchild.bytes}`);
    assert.ok(withGrandchild.bytes > 64 * MiB, `tree RSS ${withGrandchild.bytes / MiB} MiB holds the grandchild's 64 MiB`);
    const ratio = withGrandchild.bytes / truthWith;
    assert.ok(ratio > 0.75 && ratio < 1.33, `tree RSS ${(withGrandchild.bytes / MiB).toFixed(1)} MiB vs the processes' own ${(truthWith / MiB).toFixed(1)} MiB`);
    assert.equal(withGrandchild.decodedMb, withGrandchild.bytes / MiB, 'decoded as MiB');
    if (selfRssReadable) assert.ok(up.grandchildRss > 64 * MiB, 'the grandchild itself sees its 64 MiB');

    tree.stdin!.write('stop\n');
    const gone = await nextLine(tree, 60000);
    assert.equal(gone.grandchildGone, true);
    const without = await sampleTree(tree.pid!);
    assert.ok(without.bytes < withGrandchild.bytes - 48 * MiB, `without the grandchild: ${(without.bytes / MiB).toFixed(1)} MiB, with: ${(withGrandchild.bytes / MiB).toFixed(1)} MiB`);
    if (selfRssReadable && process.platform !== 'linux') {
      const r = without.bytes / gone.rootRss;
      assert.ok(r > 0.75 && r < 1.33, `root alone ${(without.bytes / MiB).toFixed(1)} MiB vs its own ${(gone.rootRss / MiB).toFixed(1)} MiB`);
    }
  } finally {
    tree.kill();
  }
});

test('watchPid of a process that does not exist: NaN in the record, null once decoded', { skip: noAddon }, async () => {
  // A pid that has exited: spawn and reap a short child.
  const done = spawnSync(process.execPath, ['-e', '0']);
  const deadPid = done.pid!;
  const r = await sampleTree(deadPid, 2);
  assert.ok(Number.isNaN(r.bytes), `raw slot ${r.bytes}`);
  assert.equal(r.decodedMb, null);
});

test('perfprobe run reports the peak RSS of the command tree, not NaN', { timeout: 2 * HANG_GUARD_MS }, (t) => {
  if (noAddon) {
    t.skip(noAddon);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-run-tree-'));
  try {
    const json = join(dir, 'run.json');
    const command = "const b = Buffer.alloc(96 * 1048576, 1); setTimeout(() => b[0]++, 1500);";
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'run', '--interval', '50ms', '--json', json, '--', process.execPath, '-e', command], {
      cwd: root,
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
    });
    assert.equal(r.status, 0, `perfprobe run exited ${r.status ?? r.signal}\n${r.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8')).summary;
    assert.equal(report.samplerBackend, 'native');
    assert.ok(report.samples >= 3, `${report.samples} samples`);
    assert.equal(typeof report.peakRssMb, 'number', `peakRssMb is ${report.peakRssMb}`);
    assert.ok(report.peakRssMb > 96, `peak tree RSS ${report.peakRssMb} MB while the command held 96 MiB`);
    assert.match(r.stderr, /tree RSS\s+peak \d+(\.\d)? MB/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
