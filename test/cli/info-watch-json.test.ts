// perfprobe info and perfprobe watch --json (the terminal view is test/cli/watch-terminal.test.ts).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli-helpers.js';

describe('perfprobe info and watch --json', () => {
  test('info names the backends and the devices', async () => {
    const r = await runCli(['info']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^memory probe:\s+(native|node)/m);
    assert.match(r.stdout, /^GPU probe:\s+(nvml|systeminformation|none)/m);
    assert.match(r.stdout, /^devices:\s+(none found|\d+)/m);
    const j = await runCli(['info', '--json']);
    const info = JSON.parse(j.stdout);
    assert.ok(['native', 'node'].includes(info.memory.backend));
    assert.ok(Array.isArray(info.devices));
  });

  test('watch --json writes one JSON line per sample', async () => {
    const r = await runCli(['watch', '--json', '--interval', '100ms', '--count', '3']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    let last = 0;
    for (const line of lines) {
      const s = JSON.parse(line);
      assert.ok(s.memory.totalMb > 0 && s.memory.usedMb > 0 && s.memory.processMemoryMb > 0);
      assert.ok(Array.isArray(s.gpus));
      assert.ok(s.timestamp >= last);
      last = s.timestamp;
    }
  });

  test('watch refuses to draw on a non-terminal', async () => {
    const r = await runCli(['watch']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a terminal; use 'perfprobe watch --json'/);
  });
});
