// perfprobe watch in a real pseudo-terminal (tmux): the screen shows the
// memory line, the alternate screen and hidden cursor are used while it runs,
// and q or Ctrl-C quits and restores the terminal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/cli-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';
import { fakeNvmlOrSkip } from '../helpers/fake-nvml-helpers.js';

const haveTmux = spawnSync('tmux', ['-V']).status === 0;
if (!haveTmux && process.env.CI === 'true') {
  test('tmux is installed (required in CI)', () => assert.fail("tmux not found: .ci/run must install Debian's tmux"));
}
const skip = haveTmux ? false : 'tmux not found (install Debian tmux)';
const SOCKET = `perfprobe-watch-test-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

after(() => {
  if (haveTmux) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
});

/**
 * Polls the pane until `want(screen)`. The wait is bounded by the work, not
 * by wall time: it fails at once when `ended` matches the screen first (the
 * command exited without drawing what was awaited: its output is in the
 * failure), and after HANG_GUARD_MS only when it hangs.
 */
async function until(what: string, pane: () => string, want: (screen: string) => boolean, ended?: RegExp): Promise<void> {
  const end = Date.now() + HANG_GUARD_MS;
  for (;;) {
    const screen = pane();
    if (want(screen)) return;
    if (ended?.test(screen)) assert.fail(`the command ended before ${what}:\n${screen}`);
    if (Date.now() > end) assert.fail(`no ${what} in ${HANG_GUARD_MS} ms (a hang):\n${screen}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const [key, label] of [['q', 'q'], ['C-c', 'Ctrl-C']] as const) {
  test(`watch draws the live view and ${label} quits and restores the terminal`, { skip }, async () => {
    const session = `w${key === 'q' ? 'q' : 'c'}`;
    const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} watch --interval 200ms; echo WATCH-EXIT=$?; sleep 600`;
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
    const pane = () => tmux('capture-pane', '-p', '-t', session);
    const flag = (name: string) => tmux('display-message', '-p', '-t', session, `#{${name}}`).trim();
    try {
      await until('the memory line', pane, (p) => /^Memory\s+\[[#.]+\] \d+ \/ \d+ MB \([\d.]+%\)/m.test(p), /WATCH-EXIT=/);
      const screen = pane();
      assert.match(screen, /^perfprobe watch .* \(q to quit\)/m);
      assert.match(screen, /^Process\s+perfprobe pid \d+\s+RSS [\d.]+ MB/m);
      assert.match(screen, /^GPU (0|\s+none found)/m);
      assert.equal(flag('alternate_on'), '1', 'alternate screen in use');
      assert.equal(flag('cursor_flag'), '0', 'cursor hidden');
      // Redrawn in place: the header line appears once however many refreshes happened.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(pane().match(/^perfprobe watch /gm)?.length, 1);

      tmux('send-keys', '-t', session, key);
      await until('perfprobe to exit', pane, (p) => /WATCH-EXIT=\d+/.test(p));
      assert.match(pane(), /WATCH-EXIT=0/);
      assert.equal(flag('alternate_on'), '0', 'alternate screen left');
      assert.equal(flag('cursor_flag'), '1', 'cursor shown again');
      assert.doesNotMatch(pane(), /^Memory\s+\[/m, 'the live view is gone with the alternate screen');
    } finally {
      spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', session]);
    }
  });
}

for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  test(`watch stopped by ${signal} restores the terminal (screen, cursor, line mode)`, { skip }, async () => {
    const session = `s${signal.toLowerCase()}`;
    const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} watch --interval 200ms; echo WATCH-EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-*icanon\\|-*echo' | tr '\\n' ' '; echo STTY-DONE; sleep 600`;
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
    const pane = () => tmux('capture-pane', '-p', '-t', session);
    const flag = (name: string) => tmux('display-message', '-p', '-t', session, `#{${name}}`).trim();
    try {
      await until('the live view', pane, (p) => /perfprobe pid \d+/.test(p), /WATCH-EXIT=/);
      const pid = Number(/perfprobe pid (\d+)/.exec(pane())![1]);
      assert.equal(flag('alternate_on'), '1');
      process.kill(pid, signal);
      await until('the shell after perfprobe', pane, (p) => /STTY-DONE/.test(p));
      assert.equal(flag('alternate_on'), '0', 'alternate screen left');
      assert.equal(flag('cursor_flag'), '1', 'cursor shown again');
      assert.match(pane(), /^icanon echo STTY-DONE/m, 'the terminal is back in line mode with echo');
    } finally {
      spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', session]);
    }
  });
}

test('perfprobe run shows a live status line on a terminal and clears it at the end', { skip }, async () => {
  const session = 'rs';
  // The command runs until the test has seen the status line (it waits for a file), not for a fixed time.
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-run-status-'));
  const flagFile = join(dir, 'go');
  const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} run -- sh -c ${quote(`while [ ! -e ${quote(flagFile)} ]; do sleep 0.1; done`)}; echo RUN-EXIT=$?; sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '20', cmd);
  const pane = () => tmux('capture-pane', '-p', '-t', session);
  try {
    await until('the status line', pane, (p) => /^\[perfprobe\] \d+\.\d s \| tree RSS (\d+ MB|n\/a)/m.test(p), /RUN-EXIT=/);
    writeFileSync(flagFile, '');
    await until('perfprobe run to exit', pane, (p) => /RUN-EXIT=\d+/.test(p));
    const screen = pane();
    assert.match(screen, /RUN-EXIT=0/);
    assert.match(screen, /wall time\s+(\d+ ms|\d+\.\d\d s|\d+ min \d+\.\d s)$/m);
    assert.doesNotMatch(screen, /\[perfprobe\]/, 'the status line is cleared before the summary');
  } finally {
    spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', session]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watch shows each GPU with bars, P-state, throttle reasons, PCIe/ECC/MIG, an nvitop-like process table and the GPU events (stand-in NVML)', { skip }, async (t) => {
  const lib = await fakeNvmlOrSkip(t);
  if (!lib) return;
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-watch-'));
  const script = join(dir, 'nvml.txt');
  writeFileSync(script, ['devices=2', 'gpu0.name=Fake H100', 'gpu0.util=75', 'gpu0.power_mw=250000', 'gpu0.temp=55',
    'gpu0.mem_used=4294967296', 'gpu0.mem_total=85899345920', 'gpu0.procs=self:1073741824', 'gpu0.gprocs=self:1073741824',
    'gpu0.putil=self:70:10:0:0@100', 'gpu0.pstate=2', 'gpu0.clocks_reasons=4', 'gpu0.mem_temp=71', 'gpu0.enc_util=5', 'gpu0.dec_util=6',
    'gpu0.pcie_gen=5', 'gpu0.pcie_width=16', 'gpu0.ecc=1', 'gpu0.ecc_cv=3', 'gpu0.ecc_uv=0', 'gpu0.events=xid:79@300',
    'gpu1.util=0', 'gpu1.ecc=0', 'gpu1.mig=1', 'gpu1.mig_pending=1', 'gpu1.mig_devices=1:0:10737418240:1073741824:MIG-test-1'].join('\n') + '\n');
  const session = 'wg';
  const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} watch --interval 200ms; echo WATCH-EXIT=$?; sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '50', '-e', `PERFPROBE_NVML_LIBRARY=${lib}`, '-e', `PERFPROBE_FAKE_NVML_SCRIPT=${script}`, cmd);
  const pane = () => tmux('capture-pane', '-p', '-t', session);
  try {
    await until('the GPU block and the Xid event', pane, (p) => /^GPU 1 /m.test(p) && /Xid 79/.test(p), /WATCH-EXIT=/);
    const screen = pane();
    assert.match(screen, /^GPU 0\s+Fake H100\s+\[ok\]\s+P2\s+55 C \(memory 71 C\)\s+250\.0 W \/ 700 W/m);
    assert.match(screen, /^  util\s+\[#+\.+\] 75%   enc 5%  dec 6%$/m);
    const util = /^  util\s+\[(#+)(\.+)\]/m.exec(screen)!;
    assert.equal(Math.round((util[1]!.length / (util[1]!.length + util[2]!.length)) * 100), 75, 'bar length follows utilization');
    assert.match(screen, /^  memory\s+\[#+\.+\] 4096 \/ 81920 MB \(5\.0%\)$/m);
    assert.match(screen, /^  clocks  held by sw_power_cap$/m, 'the throttle reason by name');
    assert.match(screen, /^  PCIe Gen5 x16   ECC 3 corrected, 0 uncorrected \(since boot\)   MIG off$/m);
    // nvitop's process table: pid, name, type, GPU memory, SM %, host RSS.
    assert.match(screen, /^\s+PID  NAME\s+TYPE\s+GPU MEM\s+SM  HOST RSS$/m);
    assert.match(screen, /^\s+\d+  node\s+C\+G\s+1024 MB\s+70%  \d+ MB$/m, 'this process: on both lists, named, its SM %');
    assert.match(screen, /^  util\s+\[\.+\] 0%$/m, '0 % is shown as 0, not as unknown');
    assert.match(screen, /^  PCIe Gen5 x16   MIG on$/m);
    assert.match(screen, /^    MIG 0  GI 1 CI 0  1024 \/ 10240 MB  MIG-test-1$/m);
    assert.match(screen, /^GPU events$/m);
    assert.match(screen, /^  \d\d:\d\d:\d\d  GPU 0  Xid 79 \(GPU fell off the bus/m, 'the event with its meaning');
    tmux('send-keys', '-t', session, 'q');
  } finally {
    spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', session]);
    rmSync(dir, { recursive: true, force: true });
  }
});
