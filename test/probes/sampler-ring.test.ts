// The native sampler's ring grows as records arrive (issue 10): what a
// sampler or startMonitoring() costs in memory is bounded by what it holds,
// not by its capacity. Bounds are in bytes and page faults, never in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonStatus, getAddon } from '../../src/native/binding.js';
import { recordSlots } from '../../src/schema/layout.js';
import { DEFAULT_CAPACITY, Sampler, ringCapacityFor } from '../../src/probes/sampler.js';
import { fakeNvmlOrSkip } from '../helpers/fake-nvml-helpers.js';

const root = join(__dirname, '..', '..');
const addon = getAddon();
const noAddon = addon ? false : `addon not loaded: ${addonStatus().error}`;
if (!addon && process.env.CI === 'true') throw new Error(`addon must load in CI: ${addonStatus().error}`);
const CHUNK_BYTES = 64 * 1024;
const MiB = 1048576;

test('ringCapacityFor: eight drains of records, from 64 to the default capacity', () => {
  assert.equal(ringCapacityFor(60_000, 60_000), 64);
  assert.equal(ringCapacityFor(1000, 60_000), 480);
  assert.equal(ringCapacityFor(10, 60_000), 48_000);
  assert.equal(ringCapacityFor(1, 8192), DEFAULT_CAPACITY);
  assert.equal(ringCapacityFor(1, 60_000), DEFAULT_CAPACITY);
});

test('200 samplers at 1 ms start and stop holding the records they wrote, not their capacity', { skip: noAddon }, () => {
  // Each Sampler.start() used to allocate and fault in its whole ring
  // (65,536 records x 88 bytes = 5.5 MiB; 200 at 1 ms took 163 s to start on
  // a loaded machine). Now start() allocates no ring and records arrive in
  // 64 KiB chunks. Bounded by bytes and page faults, never by time.
  const slots = recordSlots(0);
  const chunkRecords = Math.floor(CHUNK_BYTES / (slots * 8));
  const chunkBytes = chunkRecords * slots * 8;
  const faultsBefore = process.resourceUsage().minorPageFault;
  const kept: Sampler[] = [];
  for (let i = 0; i < 200; i++) kept.push(new Sampler({ intervalMs: 1, gpu: false }).start().stop());
  const faults = process.resourceUsage().minorPageFault - faultsBefore;
  let held = 0;
  let written = 0;
  for (const s of kept) {
    const st = s.stats();
    assert.ok(st.written >= 1, 'the first record is taken at start');
    // What it wrote, in whole chunks (+1 for a chunk allocated but not needed), never the capacity.
    const bound = (Math.ceil(st.written / chunkRecords) + 1) * chunkBytes;
    assert.ok(st.ringBytes > 0 && st.ringBytes <= bound, `ringBytes ${st.ringBytes} for ${st.written} records (bound ${bound})`);
    assert.ok(st.ringMaxBytes >= DEFAULT_CAPACITY * slots * 8, `ringMaxBytes ${st.ringMaxBytes}`);
    held += st.ringBytes;
    written += st.written;
  }
  assert.ok(held <= (Math.ceil(written / chunkRecords) + 200) * chunkBytes, `${held} bytes of ring held by 200 samplers`);
  // 200 whole rings would be 200 x 5.5 MiB / 4 KiB = 281,600 page faults.
  assert.ok(faults < 200 * 100, `${faults} minor page faults for 200 starts and stops`);
  // Records drain as before.
  const s = kept[0]!;
  assert.equal(s.drain().count, s.stats().written);
});

test('a ring that fills grows chunk by chunk up to its bound, and keeps dropping the oldest', { skip: noAddon }, async () => {
  const s = new Sampler({ intervalMs: 1, capacity: 2000, gpu: false }).start();
  const max = s.stats().ringMaxBytes;
  assert.ok(max >= 2000 * recordSlots(0) * 8 && max <= 2000 * recordSlots(0) * 8 + 2 * CHUNK_BYTES, `ringMaxBytes ${max}`);
  // Bounded in records, not time: wait (at most 60 s of 5 ms pauses) until
  // it has overflowed.
  for (let i = 0; i < 12_000 && s.stats().dropped === 0; i++) await new Promise((r) => setTimeout(r, 5));
  s.stop();
  const st = s.stats();
  assert.ok(st.dropped > 0, 'overflowed');
  assert.ok(st.ringBytes <= max, `ringBytes ${st.ringBytes} within its bound ${max}`);
  assert.ok(st.ringBytes >= 2000 * recordSlots(0) * 8, 'full: every chunk allocated');
  const batch = s.drain();
  assert.equal(batch.count, 2000);
  assert.equal(batch.droppedTotal, st.written - 2000);
});

function scriptFor(devices: number): string {
  const lines = [`devices=${devices}`];
  for (let i = 0; i < devices; i++) lines.push(`gpu${i}.name=Stand-in ${i}`, `gpu${i}.mem_total=85899345920`, `gpu${i}.util=${10 + i}`);
  return lines.join('\n') + '\n';
}

for (const gpus of [8, 16])
  test(`startMonitoring() at the defaults with ${gpus} GPUs (stand-in NVML) adds under 5 MB of RSS`, { skip: noAddon }, async (t) => {
    // Before: the ring of 65,536 records x (11 + 16 x ${gpus}) doubles was
    // faulted in at start: +70 MB RSS with 8 GPUs, +134 MB with 16.
    const lib = await fakeNvmlOrSkip(t);
    if (!lib) return;
    const dir = mkdtempSync(join(tmpdir(), 'perfprobe-ring-'));
    try {
      const script = join(dir, 'nvml.txt');
      writeFileSync(script, scriptFor(gpus));
      const index = JSON.stringify(join(root, 'src', 'index.ts'));
      const code = `
        const pp = require(${index});
        if (pp.probeInfo().gpu.backend !== 'nvml') throw new Error('stand-in NVML not in use: ' + JSON.stringify(pp.probeInfo().gpu));
        const gpuCount = pp.readGpusSync().length;
        const c = new pp.PerformanceMetricsCollector();
        global.gc();
        const before = process.memoryUsage.rss();
        c.startMonitoring();
        // The sampler takes its first record at once: wait for it by count
        // (at most 2,000 polls), so its ring chunk is part of what is measured.
        let taken = 0;
        const poll = (i) => {
          taken += c.ingestSamples();
          if (taken === 0 && i < 2000) return setTimeout(() => poll(i + 1), 5);
          const grown = process.memoryUsage.rss() - before;
          c.stopMonitoring();
          console.log(JSON.stringify({ gpuCount, taken, grown, gpus: c.getGpuUsageStats().count }));
        };
        poll(0);`;
      const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', code], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, PERFPROBE_NVML_LIBRARY: lib, PERFPROBE_FAKE_NVML_SCRIPT: script, PERFPROBE_NO_WARNINGS: '1' },
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.equal(out.gpuCount, gpus);
      assert.ok(out.taken >= 1, 'the first record was taken in');
      assert.ok(out.gpus >= gpus, `${out.gpus} GPU records`);
      assert.ok(out.grown < 5 * MiB, `startMonitoring() grew RSS by ${(out.grown / MiB).toFixed(1)} MiB with ${gpus} GPUs`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
