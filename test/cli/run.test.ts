// perfprobe run, end to end through the real command: exit codes, signals, the summary, --json/--csv/--markdown,
// the process tree (native sampler and JS fallback), and GPUs through the stand-in NVML library.
import { test, describe, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, runCli, startCli, type CliResult } from '../helpers/cli-helpers.js';
import { fakeNvmlOrSkip } from '../helpers/fake-nvml-helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'perfprobe-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const node = process.execPath;

/**
 * perfprobe run with the stand-in NVML (`lib`, scripted by `script`), its
 * --json report read from `json`. Null, the test skipped, when the addon is
 * not loaded (`need` says what needs it); on CI that fails (npm ci builds it).
 */
async function runOnStandIn(t: TestContext, args: string[], lib: string, script: string, json: string, need: string): Promise<{ r: CliResult; report: any } | null> {
  const r = await runCli(args, { PERFPROBE_NVML_LIBRARY: lib, PERFPROBE_FAKE_NVML_SCRIPT: script });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  if (report.summary.samplerBackend !== 'native') {
    assert.notEqual(process.env.CI, 'true', `the addon is not loaded: ${need} (CI builds it)`);
    t.skip(`the addon is not loaded: ${need}`);
    return null;
  }
  return { r, report };
}

// A child that starts a grandchild which holds ~200 MB for 1.2 s and burns at
// least 300 ms of user CPU: tree RSS and CPU time must both include it.
const GRANDCHILD = `
const b = Buffer.alloc(200 * 1048576, 1);
const t0 = process.cpuUsage().user;
while (process.cpuUsage().user - t0 < 300000) {}
setTimeout(() => { if (b[12345] !== 1) process.exit(9); }, 1200);
`;
const PARENT = `
const { spawnSync } = require('node:child_process');
const r = spawnSync(process.execPath, ['-e', ${JSON.stringify(GRANDCHILD)}], { stdio: 'inherit' });
process.exit(r.status === 0 ? 0 : 8);
`;

describe('perfprobe run', () => {
  test('exits with the command exit code and prints the summary to stderr', async () => {
    const r = await runCli(['run', '--', 'sh', '-c', 'echo out-line; echo err-line >&2; exit 7']);
    assert.equal(r.code, 7);
    assert.match(r.stdout, /out-line/, 'stdout passes through');
    assert.match(r.stderr, /err-line/, 'stderr passes through');
    assert.match(r.stderr, /wall time\s+\d/);
    assert.match(r.stderr, /CPU time\s+\d+ ms user \+ \d+ ms system/);
    assert.match(r.stderr, /tree RSS\s+peak/);
    assert.match(r.stderr, /exit 7/);
    assert.doesNotMatch(r.stderr, /\x1b\[/, 'no status line escape codes when stderr is not a terminal');
  });

  test('a command that is not found exits 127 with a clear message', async () => {
    const r = await runCli(['run', '--', 'perfprobe-no-such-command-xyz', '--flag']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /command not found: perfprobe-no-such-command-xyz/);
  });

  test('a command ended by a signal exits 128 + n', async () => {
    const term = await runCli(['run', '--', 'sh', '-c', 'kill -TERM $$']);
    assert.equal(term.code, 128 + 15);
    assert.match(term.stderr, /killed by SIGTERM/);
    const kill = await runCli(['run', '--', 'sh', '-c', 'kill -KILL $$']);
    assert.equal(kill.code, 128 + 9);
  });

  test('SIGTERM sent to perfprobe is forwarded to the command', async () => {
    const child = startCli([
      'run', '--', node, '-e',
      "process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(5); }); console.log('ready'); setInterval(() => {}, 1000);",
    ]);
    let sent = false;
    child.stdout!.on('data', (d: Buffer) => {
      if (!sent && d.toString().includes('ready')) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    const r = await collect(child);
    assert.ok(sent, 'the command started');
    assert.equal(r.code, 5);
    assert.match(r.stdout, /child got SIGTERM/);
  });

  for (const [label, env] of [['native sampler', {}], ['fallback sampler (PERFPROBE_ADDON=0)', { PERFPROBE_ADDON: '0' }]] as const)
  test(`--json holds every sample and a summary true to the process tree: ${label}`, async () => {
    const json = join(dir, `run-${env.PERFPROBE_ADDON ?? 'native'}.json`);
    const r = await runCli(['run', '--interval', '50ms', '--json', json, '--', node, '-e', PARENT], env);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    const s = doc.summary;
    assert.equal(s.exitCode, 0);
    assert.deepEqual(s.command.slice(0, 2), [node, '-e']);
    assert.equal(s.intervalMs, 50);
    assert.equal(s.samplerBackend, env.PERFPROBE_ADDON === '0' ? 'js' : s.samplerBackend);
    assert.ok(s.durationMs >= 1200, `durationMs ${s.durationMs}`);
    // 200 MB allocated by the grandchild: the tree sum must see it.
    assert.ok(s.peakRssMb >= 200, `peakRssMb ${s.peakRssMb}`);
    assert.ok(s.avgRssMb > 0 && s.avgRssMb <= s.peakRssMb);
    // 300 ms of user CPU burnt by the grandchild, reaped by the child.
    assert.equal(typeof s.userCpuMs, 'number');
    assert.ok(s.userCpuMs >= 300, `userCpuMs ${s.userCpuMs}`);
    assert.ok(s.systemCpuMs >= 0);
    assert.ok(Array.isArray(s.gpus));
    assert.equal(s.samples, doc.samples.length);
    assert.ok(doc.samples.length >= 10, `samples ${doc.samples.length}`);
    const peak = Math.max(...doc.samples.map((x: { treeRssMb: number | null }) => x.treeRssMb ?? 0));
    // The summary's peak is the samples' peak, unless the kernel knew a higher
    // one (high-water marks) or the command ran in its own cgroup (its exact peak).
    assert.ok(['sampled', 'hwm', 'cgroup'].includes(s.peakRssSource), `peakRssSource ${s.peakRssSource}`);
    if (s.peakRssSource === 'sampled') assert.equal(Number(peak.toFixed(2)), s.peakRssMb, 'summary peak equals the peak of the samples');
    if (s.peakRssSource === 'hwm') assert.ok(s.peakRssMb >= Number(peak.toFixed(2)), 'a high-water mark is never below the samples');
    if (env.PERFPROBE_ADDON === '0') assert.equal(s.peakRssSource === 'hwm', false, 'no high-water marks without the addon');
    for (const x of doc.samples) {
      assert.equal(typeof x.timestamp, 'number');
      assert.ok(x.systemTotalMb > 0 && x.systemUsedMb > 0);
    }
    if (s.gpus.length === 0) assert.equal(s.energyJoules, null, 'no GPU: energy unknown, not 0');
  });

  test('--csv, --markdown and GITHUB_STEP_SUMMARY', async () => {
    const csvDir = join(dir, 'csv');
    const md = join(dir, 'summary.md');
    const step = join(dir, 'step-summary.md');
    writeFileSync(step, '# earlier step\n');
    const json = join(dir, 'csv-run.json');
    const r = await runCli(
      ['run', '--csv', csvDir, '--markdown', md, '--json', json, '--', node, '-e', 'setTimeout(() => {}, 400)'],
      { GITHUB_STEP_SUMMARY: step },
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    const csv = readFileSync(join(csvDir, 'samples.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0]!.split(',').slice(0, 5).join(','), 'timestamp,elapsed_ms,system_used_mb,system_total_mb,tree_rss_mb');
    assert.equal(csv.length - 1, doc.samples.length, 'one CSV row per sample');
    assert.match(csv[1]!, /^\d{4}-\d\d-\d\dT/);
    const summaryCsv = readFileSync(join(csvDir, 'summary.csv'), 'utf8');
    assert.match(summaryCsv, new RegExp(`^durationMs,${doc.summary.durationMs}$`, 'm'));
    const markdown = readFileSync(md, 'utf8');
    assert.match(markdown, /\| Peak RSS \(process tree\) \| [\d.]+ MB \|/);
    assert.match(markdown, /\| Wall time \|/);
    const stepText = readFileSync(step, 'utf8');
    assert.ok(stepText.startsWith('# earlier step\n'), 'appended, not overwritten');
    assert.ok(stepText.endsWith(markdown), 'the same Markdown summary appended');
  });

  test('an unwritable output path is one line and a non-zero exit, and the command is not run', async () => {
    const marker = join(dir, 'should-not-exist');
    const r = await runCli(['run', '--json', join(dir, 'no', 'such', 'dir', 'x.json'), '--', 'touch', marker]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--json .*cannot write/);
    assert.equal(existsSync(marker), false);
  });

  test('bad --interval values are refused with a one-line error naming the option', async () => {
    for (const bad of ['0', '-5', '--interval=-5', 'abc', '10x', '0s', '']) {
      const args = bad.startsWith('--') ? ['run', bad, '--', 'true'] : ['run', '--interval', bad, '--', 'true'];
      const r = await runCli(args);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /--interval/, bad);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
    }
  });

  test('no command is a usage error', async () => {
    const r = await runCli(['run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no command given/);
  });
});

describe('perfprobe run with GPUs (the stand-in NVML library)', () => {
  test('GPU utilization, memory, power and energy in the summary, JSON and Markdown', async (t) => {
    const lib = await fakeNvmlOrSkip(t);
    if (!lib) return;
    const script = join(dir, 'fake-nvml.txt');
    writeFileSync(
      script,
      [
        'devices=2',
        'gpu0.name=Fake H100', 'gpu0.util=75', 'gpu0.power_mw=250000', 'gpu0.mem_used=4294967296', 'gpu0.mem_total=85899345920', 'gpu0.temp=55',
        'gpu1.util=10', 'gpu1.power_mw=100000', 'gpu1.unsupported=energy',
      ].join('\n') + '\n',
    );
    const json = join(dir, 'gpu.json');
    const md = join(dir, 'gpu.md');
    const ran = await runOnStandIn(t, ['run', '--json', json, '--markdown', md, '--', node, '-e', 'setTimeout(() => {}, 1000)'], lib, script, json, 'GPU sampling needs it');
    if (!ran) return;
    const { r } = ran;
    const s = ran.report.summary;
    assert.equal(s.gpus.length, 2);
    const [g0, g1] = s.gpus;
    assert.equal(g0.name, 'Fake H100');
    assert.equal(g0.avgUtilizationPercent, 75);
    assert.equal(g0.peakUtilizationPercent, 75);
    assert.equal(g0.peakMemoryUsedMb, 4096);
    assert.equal(g0.memoryTotalMb, 81920);
    assert.equal(g0.peakPowerWatts, 250);
    assert.equal(g0.peakTemperatureCelsius, 55);
    assert.equal(g0.peakTreeGpuMemoryMb, 0, 'the command has no GPU processes: 0, not null');
    // 250 W for the whole run: energy = 250 W x wall time (the stand-in's energy counter does not move).
    const expected0 = (250 * s.durationMs) / 1000;
    assert.ok(Math.abs(g0.energyJoules - expected0) <= expected0 * 0.05, `energy ${g0.energyJoules} J vs ${expected0}`);
    assert.equal(g0.energySource, 'integrated');
    const expected1 = (100 * s.durationMs) / 1000;
    assert.ok(Math.abs(g1.energyJoules - expected1) <= expected1 * 0.05, `energy ${g1.energyJoules} J vs ${expected1}`);
    assert.ok(Math.abs(s.energyJoules - (g0.energyJoules + g1.energyJoules)) < 0.2);
    assert.equal(s.peakGpuUtilizationPercent, 75);
    assert.equal(s.avgGpuUtilizationPercent, 42.5);
    assert.equal(s.peakGpuMemoryMb, 4096);
    assert.match(r.stderr, /GPU 0 Fake H100: utilization avg 75\.0 %, peak 75 %; memory peak 4096 MB/);
    assert.match(r.stderr, /GPU energy total [\d.]+ J/);
    assert.match(readFileSync(md, 'utf8'), /\| GPU 0 utilization avg \/ peak \| 75\.0 % \/ 75 % \|/);
  });

  test("the GPU memory of the command's own processes, per GPU", async (t) => {
    const lib = await fakeNvmlOrSkip(t);
    if (!lib) return;
    // GPU 1 lists every child of the perfprobe process (the command) with
    // 1.5 GiB, beside an unrelated pid; GPU 0 lists only the unrelated pid.
    const script = join(dir, 'fake-nvml-children.txt');
    writeFileSync(script, ['devices=2', 'gpu0.procs=1:536870912', 'gpu1.procs=1:536870912,children:1610612736'].join('\n') + '\n');
    const json = join(dir, 'gpu-children.json');
    const ran = await runOnStandIn(t, ['run', '--interval', '50ms', '--json', json, '--', node, '-e', 'setTimeout(() => {}, 800)'], lib, script, json, 'GPU sampling needs it');
    if (!ran) return;
    const report = ran.report;
    const [g0, g1] = report.summary.gpus;
    assert.equal(g0.peakTreeGpuMemoryMb, 0, 'pid 1 is not part of the command');
    assert.equal(g1.peakTreeGpuMemoryMb, 1536);
    // Samples while the command ran carry its GPU memory on GPU 1 only.
    const during = report.samples.filter((x: { gpus: Array<{ treeGpuMemoryMb: number | null }> }) => x.gpus[1]?.treeGpuMemoryMb === 1536);
    assert.ok(during.length >= 5, `only ${during.length} samples saw the command on GPU 1`);
  });
});

describe('perfprobe run lists the GPU events seen while the command ran', () => {
  test('Xid and ECC events in the summary (stderr, JSON, Markdown, CSV), each with its meaning and GPU', async (t) => {
    const lib = await fakeNvmlOrSkip(t);
    if (!lib) return;
    const script = join(dir, 'fake-nvml-events.txt');
    // Due 400 ms after the watcher registers, then 30 ms later (GPU 1: 430 ms): well inside a 2 s command.
    writeFileSync(
      script,
      ['devices=2', 'gpu0.uuid=GPU-run-0', 'gpu1.uuid=GPU-run-1', 'gpu0.events=xid:79@400,dbe@30', 'gpu1.events=xid:13@430'].join('\n') + '\n',
    );
    const json = join(dir, 'events.json');
    const md = join(dir, 'events.md');
    const csv = join(dir, 'events-csv');
    const ran = await runOnStandIn(t, ['run', '--json', json, '--markdown', md, '--csv', csv, '--', node, '-e', 'setTimeout(() => {}, 2000)'], lib, script, json, 'GPU events need it');
    if (!ran) return;
    const { r } = ran;
    const s = ran.report.summary;
    assert.equal(s.gpuEventsDropped, 0);
    const events = [...s.gpuEvents].sort((a: { gpuId: number; type: string }, b: { gpuId: number; type: string }) => a.gpuId - b.gpuId || a.type.localeCompare(b.type));
    assert.deepEqual(
      events.map((e: { gpuId: number; uuid: string; type: string; xid: number | null }) => [e.gpuId, e.uuid, e.type, e.xid]),
      [
        [0, 'GPU-run-0', 'ecc_double_bit', null],
        [0, 'GPU-run-0', 'xid', 79],
        [1, 'GPU-run-1', 'xid', 13],
      ],
    );
    const xid79 = events[1];
    assert.match(xid79.text, /^Xid 79 \(GPU fell off the bus/);
    assert.match(events[2].text, /^Xid 13 /);
    for (const e of events) {
      assert.ok(e.elapsedMs >= 0 && e.elapsedMs <= s.durationMs + 100, `event at ${e.elapsedMs} ms into a ${s.durationMs} ms run`);
    }
    // Oldest first.
    const times = s.gpuEvents.map((e: { elapsedMs: number }) => e.elapsedMs);
    assert.deepEqual(times, [...times].sort((a: number, b: number) => a - b));
    assert.match(r.stderr, /GPU events\s+3\n/);
    assert.match(r.stderr, /\+[\d.]+ ?[a-z]+\s+GPU 0\s+Xid 79 \(GPU fell off the bus/);
    assert.match(r.stderr, /\+[\d.]+ ?[a-z]+\s+GPU 1\s+Xid 13 /);
    const mdText = readFileSync(md, 'utf8');
    assert.match(mdText, /\| GPU 0 event at \+[\d.]+ ?[a-z]+ \| Xid 79 \(GPU fell off the bus/);
    const csvText = readFileSync(join(csv, 'summary.csv'), 'utf8');
    assert.match(csvText, /^gpuEventCount,3$/m);
    assert.match(csvText, /^gpuEvent\d,.*GPU 0 Xid 79/m);
  });

  test('no events: the summary says nothing about them and the JSON has an empty list', async (t) => {
    const lib = await fakeNvmlOrSkip(t);
    if (!lib) return;
    const script = join(dir, 'fake-nvml-no-events.txt');
    writeFileSync(script, 'devices=1\n');
    const json = join(dir, 'no-events.json');
    const ran = await runOnStandIn(t, ['run', '--json', json, '--', node, '-e', 'setTimeout(() => {}, 300)'], lib, script, json, 'GPU events need it');
    if (!ran) return;
    const { r } = ran;
    const s = ran.report.summary;
    assert.deepEqual(s.gpuEvents, []);
    assert.equal(s.gpuEventsDropped, 0);
    assert.doesNotMatch(r.stderr, /GPU events/);
  });
});
