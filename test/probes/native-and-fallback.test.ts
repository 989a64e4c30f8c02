// One suite, two implementations (as bufferutil does): the native probes
// (addon) and the Node.js fallbacks run the same checks, then a test checks
// that both give the same answers. The fallback suite is also what a process
// with PERFPROBE_ADDON=0 uses (see test/native/addon-missing.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addonStatus, getAddon } from '../../src/native/binding.js';
import { createNativeMemoryReader } from '../../src/probes/memory-native.js';
import { readMemoryNode } from '../../src/probes/memory-node.js';
import { HeaderSlot, MemorySlot, RECORD_MEMORY_OFFSET, recordSlots } from '../../src/schema/layout.js';
import { Sampler, createSamplerBackend } from '../../src/probes/sampler.js';
import type { MemoryReading } from '../../src/probes/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until `done()`, polled every 5 ms at most 60,000 times: bounded work, not a fixed sleep (a loaded machine samples late). */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 60_000 && !done(); i++) await sleep(5);
}
const addon = getAddon();
if (!addon && process.env.CI === 'true') throw new Error(`addon must load in CI: ${addonStatus().error}`);

// Under qemu-user (scripts/emulate.mjs) a process reading its own
// /proc/self/stat gets qemu's answer, whose RSS field is 0, and the fallback
// reads RSS through process.memoryUsage() (libuv parses that file). The
// native probe reads /proc/self/statm, which qemu passes through.
const qemuSelfStat =
  process.env.PERFPROBE_EMULATED === 'qemu-user' &&
  'under qemu-user a process reads its own RSS as 0 (qemu answers /proc/self/stat itself; the fallback reads RSS through process.memoryUsage())';

interface Impl {
  name: 'native' | 'node';
  readMemory: () => MemoryReading;
  sampler: (intervalMs: number, capacity?: number) => Sampler;
}

const impls: Impl[] = [
  {
    name: 'native',
    readMemory: addon ? createNativeMemoryReader(addon) : () => assert.fail('addon not loaded'),
    sampler: (intervalMs, capacity) => new Sampler({ intervalMs, capacity, gpu: false }, createSamplerBackend('native')),
  },
  {
    name: 'node',
    readMemory: readMemoryNode,
    sampler: (intervalMs, capacity) => new Sampler({ intervalMs, capacity, gpu: false }, createSamplerBackend('timer')),
  },
];

for (const impl of impls) {
  const skip = impl.name === 'native' ? !addon && `addon not loaded: ${addonStatus().error}` : qemuSelfStat;
  describe(`${impl.name} probes`, { skip }, () => {
    test('readMemory: consistent fields in MiB', () => {
      const r = impl.readMemory();
      assert.ok(r.totalMb > 64, `totalMb ${r.totalMb}`);
      assert.ok(r.availableMb > 0 && r.availableMb <= r.totalMb);
      assert.ok(Math.abs(r.usedMb + r.availableMb - r.totalMb) < 1e-6);
      assert.ok(Math.abs(r.percent - (100 * r.usedMb) / r.totalMb) < 1e-9);
      assert.ok(r.processMemoryMb > 1 && r.processMemoryMb < r.totalMb);
      assert.ok(r.processPeakMb !== null && r.processPeakMb >= r.processMemoryMb);
      if (r.swapTotalMb !== null) assert.ok(r.swapUsedMb !== null && r.swapUsedMb >= 0 && r.swapUsedMb <= r.swapTotalMb);
      assert.ok(Math.abs(r.timestamp - Date.now()) < 5000);
    });

    test('readMemory: repeated readings stay stable', () => {
      const first = impl.readMemory();
      for (let i = 0; i < 1000; i++) {
        const r = impl.readMemory();
        assert.equal(r.totalMb, first.totalMb);
      }
    });

    test('sampler: records in the shared layout, oldest first', async () => {
      const s = impl.sampler(5).start();
      await waitUntil(() => s.stats().written >= 3);
      s.stop();
      const batch = s.drain();
      assert.equal(batch.recordSlots, recordSlots(0));
      assert.equal(batch.gpuCount, 0);
      assert.ok(batch.count >= 3, `only ${batch.count} records`);
      assert.equal(batch.data.length, batch.count * batch.recordSlots);
      assert.equal(batch.droppedTotal, 0);
      const total = impl.readMemory().totalMb * 1048576;
      let lastNs = 0;
      let lastMs = 0;
      for (let i = 0; i < batch.count; i++) {
        const base = i * batch.recordSlots;
        const ns = batch.data[base + HeaderSlot.monotonicNs]!;
        const ms = batch.data[base + HeaderSlot.wallClockMs]!;
        assert.ok(ns > lastNs && ms >= lastMs, `record ${i} out of order`);
        lastNs = ns;
        lastMs = ms;
        assert.equal(batch.data[base + HeaderSlot.gpuCount], 0);
        assert.equal(batch.data[base + RECORD_MEMORY_OFFSET + MemorySlot.totalBytes], total);
        assert.ok(batch.data[base + RECORD_MEMORY_OFFSET + MemorySlot.processRssBytes]! > 1048576);
      }
      // Same clock as process.hrtime: the newest record is in the recent past.
      const nowNs = Number(process.hrtime.bigint());
      assert.ok(nowNs - lastNs >= 0 && nowNs - lastNs < 5e9);
      assert.ok(Math.abs(Date.now() - lastMs) < 5000);
      assert.equal(s.drain().count, 0, 'a second drain finds nothing new after stop');
    });

    test('sampler: drain(out) fills a reused buffer and leaves the rest waiting', async () => {
      const s = impl.sampler(1, 64).start();
      await waitUntil(() => s.stats().written >= 3);
      s.stop();
      const waiting = s.stats().pending;
      assert.ok(waiting >= 3, `pending ${waiting}`);
      const out = new Float64Array(2 * recordSlots(0) + 5); // room for two whole records
      const first = s.drain(out);
      assert.equal(first.count, 2);
      assert.equal(first.data.buffer, out.buffer, 'a view of the caller buffer, no copy');
      assert.equal(first.data.length, 2 * first.recordSlots);
      const rest = s.drain();
      assert.equal(rest.count, waiting - 2);
      assert.ok(rest.data[HeaderSlot.monotonicNs]! > first.data[first.recordSlots + HeaderSlot.monotonicNs]!, 'oldest first across drains');
      assert.throws(() => s.drain([] as never), { name: 'TypeError', message: /^out must be a Float64Array/ });
    });

    test('sampler: overflow keeps the newest records and counts the dropped ones', async () => {
      const s = impl.sampler(1, 4).start();
      await waitUntil(() => s.stats().written > 8);
      // Every record written after this moment is newer than `mark`: wait
      // for four of them, and they must be the four kept.
      const mark = Number(process.hrtime.bigint());
      const seen = s.stats().written;
      await waitUntil(() => s.stats().written >= seen + 4);
      s.stop();
      const st = s.stats();
      const batch = s.drain();
      assert.equal(batch.count, 4);
      assert.ok(st.written > 8, `written ${st.written}`);
      assert.equal(batch.droppedTotal, st.written - 4);
      const newestNs = batch.data[3 * batch.recordSlots + HeaderSlot.monotonicNs]!;
      const oldestNs = batch.data[HeaderSlot.monotonicNs]!;
      assert.ok(newestNs > oldestNs);
      assert.ok(oldestNs > mark, 'the kept records are the newest: all four taken after the mark');
    });
  });
}

test('native and fallback probes agree', { skip: (!addon && `addon not loaded: ${addonStatus().error}`) || qemuSelfStat }, async () => {
  const [nativeImpl, nodeImpl] = impls as [Impl, Impl];
  const a = nativeImpl.readMemory();
  const b = nodeImpl.readMemory();
  const c = nativeImpl.readMemory();
  assert.equal(a.totalMb, b.totalMb, 'total memory');
  // The machine's available memory moves between reads: 2 % of total.
  assert.ok(Math.abs(a.availableMb - b.availableMb) <= 0.02 * a.totalMb, `available ${a.availableMb} vs ${b.availableMb}`);
  // Process RSS: the fallback read lies between two native reads, 2 % or 2 MiB slack.
  const lo = Math.min(a.processMemoryMb, c.processMemoryMb);
  const hi = Math.max(a.processMemoryMb, c.processMemoryMb);
  const slack = Math.max(0.02 * hi, 2);
  assert.ok(b.processMemoryMb >= lo - slack && b.processMemoryMb <= hi + slack, `rss ${b.processMemoryMb} vs [${lo}, ${hi}]`);
  assert.ok(a.processPeakMb !== null && b.processPeakMb !== null);
  assert.ok(Math.abs(a.processPeakMb - b.processPeakMb) <= Math.max(0.02 * a.processPeakMb, 2));

  const ns = nativeImpl.sampler(5).start();
  const ts = nodeImpl.sampler(5).start();
  await sleep(60);
  ns.stop();
  ts.stop();
  const nb = ns.drain();
  const tb = ts.drain();
  assert.equal(nb.recordSlots, tb.recordSlots);
  const off = RECORD_MEMORY_OFFSET + MemorySlot.totalBytes;
  assert.equal(nb.data[off], tb.data[off]);
  const rss = RECORD_MEMORY_OFFSET + MemorySlot.processRssBytes;
  assert.ok(Math.abs(nb.data[rss]! - tb.data[rss]!) <= Math.max(0.05 * nb.data[rss]!, 4 * 1048576));
});
