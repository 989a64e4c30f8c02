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

async function until(what: string, fn: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

for (const [key, label] of [['q', 'q'], ['C-c', 'Ctrl-C']] as const) {
  test(`watch draws the live view and ${label} quits and restores the terminal`, { skip }, async () => {
    const session = `w${key === 'q' ? 'q' : 'c'}`;
    const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} watch --interval 200ms; echo WATCH-EXIT=$?; sleep 60`;
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
    const pane = () => tmux('capture-pane', '-p', '-t', session);
    const flag = (name: string) => tmux('display-message', '-p', '-t', session, `#{${name}}`).trim();
    try {
      await until('the memory line', () => /^Memory\s+\[[#.]+\] \d+ \/ \d+ MB \([\d.]+%\)/m.test(pane()));
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
      await until('perfprobe to exit', () => /WATCH-EXIT=\d+/.test(pane()));
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
    const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} watch --interval 200ms; echo WATCH-EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-*icanon\\|-*echo' | tr '\\n' ' '; echo STTY-DONE; sleep 60`;
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
    const pane = () => tmux('capture-pane', '-p', '-t', session);
    const flag = (name: string) => tmux('display-message', '-p', '-t', session, `#{${name}}`).trim();
    try {
      await until('the live view', () => /perfprobe pid \d+/.test(pane()));
      const pid = Number(/perfprobe pid (\d+)/.exec(pane())![1]);
      assert.equal(flag('alternate_on'), '1');
      process.kill(pid, signal);
      await until('the shell after perfprobe', () => /STTY-DONE/.test(pane()));
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
  const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} run -- sleep 3; echo RUN-EXIT=$?; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '20', cmd);
  const pane = () => tmux('capture-pane', '-p', '-t', session);
  try {
    await until('the status line', () => /^\[perfprobe\] \d+\.\d s \| tree RSS (\d+ MB|n\/a)/m.test(pane()));
    await until('perfprobe run to exit', () => /RUN-EXIT=\d+/.test(pane()));
    const screen = pane();
    assert.match(screen, /RUN-EXIT=0/);
    assert.match(screen, /wall time\s+3\.\d\d s/);
    assert.doesNotMatch(screen, /\[perfprobe\]/, 'the status line is cleared before the summary');
  } finally {
    spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', session]);
  }
});

test('watch shows each GPU with bars, temperature, power and its processes (stand-in NVML)', { skip }, async (t) => {
  const lib = await fakeNvmlOrSkip(t);
  if (!lib) return;
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-watch-'));
  const script = join(dir, 'nvml.txt');
  writeFileSync(script, ['devices=2', 'gpu0.name=Fake H100', 'gpu0.util=75', 'gpu0.power_mw=250000', 'gpu0.temp=55',
    'gpu0.mem_used=4294967296', 'gpu0.mem_total=85899345920', 'gpu0.procs=self:1073741824', 'gpu1.util=0'].join('\n') + '\n');
  const session = 'wg';
  const cmd = `cd ${quote(ROOT)} && ${CLI.map(quote).join(' ')} watch --interval 200ms; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', '-e', `PERFPROBE_NVML_LIBRARY=${lib}`, '-e', `PERFPROBE_FAKE_NVML_SCRIPT=${script}`, cmd);
  const pane = () => tmux('capture-pane', '-p', '-t', session);
  try {
    await until('the GPU block', () => /^GPU 1 /m.test(pane()));
    const screen = pane();
    assert.match(screen, /^GPU 0\s+Fake H100\s+\[ok\]\s+55 C\s+250\.0 W/m);
    assert.match(screen, /^  util\s+\[#+\.+\] 75%$/m);
    const util = /^  util\s+\[(#+)(\.+)\]/m.exec(screen)!;
    assert.equal(Math.round((util[1]!.length / (util[1]!.length + util[2]!.length)) * 100), 75, 'bar length follows utilization');
    assert.match(screen, /^  memory\s+\[#+\.+\] 4096 \/ 81920 MB \(5\.0%\)$/m);
    assert.match(screen, /^  pid\s+\d+\s+node\s+GPU\s+1024 MB\s+RSS \d+ MB$/m, 'the process using the GPU, with its name and RSS');
    assert.match(screen, /^  util\s+\[\.+\] 0%$/m, '0 % is shown as 0, not as unknown');
    tmux('send-keys', '-t', session, 'q');
  } finally {
    spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', session]);
    rmSync(dir, { recursive: true, force: true });
  }
});
