// perfprobe info and perfprobe watch --json (the terminal view is test/cli/watch-terminal.test.ts).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli-helpers.js';
import { fakeNvmlOrSkip } from '../helpers/fake-nvml-helpers.js';

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

  test('watch --json carries every GPU field and the GPU events since the previous line (stand-in NVML)', async (t) => {
    const lib = await fakeNvmlOrSkip(t);
    if (!lib) return;
    const dir = mkdtempSync(join(tmpdir(), 'perfprobe-watch-json-'));
    try {
      const script = join(dir, 'nvml.txt');
      writeFileSync(script, 'gpu0.pstate=3\ngpu0.clocks_reasons=4\ngpu0.procs=self:1048576\ngpu0.events=xid:13@50,sbe@10\n');
      const r = await runCli(['watch', '--json', '--interval', '500ms', '--count', '4'], { PERFPROBE_NVML_LIBRARY: lib, PERFPROBE_FAKE_NVML_SCRIPT: script });
      assert.equal(r.code, 0, r.stderr);
      const samples = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(samples.length, 4);
      const g = samples[0].gpus[0];
      assert.deepEqual([g.performanceState, g.clocksEventReasons, g.processes[0].name, g.processes[0].type], [3, ['sw_power_cap'], 'node', 'compute']);
      const events = samples.flatMap((s: { events: Array<{ type: string; xid?: number }> }) => s.events);
      assert.deepEqual(events.map((e: { type: string; xid?: number }) => [e.type, e.xid]), [['xid', 13], ['ecc_single_bit', undefined]], 'each event once, in order');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('watch refuses to draw on a non-terminal', async () => {
    const r = await runCli(['watch']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a terminal; use 'perfprobe watch --json'/);
  });
});
