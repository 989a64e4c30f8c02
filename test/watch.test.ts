// perfprobe watch in a real pseudo-terminal (tmux): the screen shows the
// memory line, the alternate screen and hidden cursor are used while it runs,
// and q or Ctrl-C quits and restores the terminal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { CLI, ROOT } from './cli-helpers.js';

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
