// perfprobe run's summary of GPU events (src/cli/run-report.ts): what is shown, what is counted only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize, summaryCsv, summaryMarkdown, summaryText, type RunFacts } from '../../src/cli/run-report.js';
import type { GpuEvent } from '../../src/probes/gpu-events.js';

const START = 1_700_000_000_000;

function facts(events: GpuEvent[], dropped: number): RunFacts {
  return {
    command: ['train'], startTime: START, exitCode: 0, signal: null, durationMs: 5000, userCpuMs: 1, systemCpuMs: 1,
    intervalMs: 100, samplerBackend: 'native', gpuNames: new Map([[0, 'Fake H200']]), energyCounterJoules: new Map(),
    gpuEvents: { events, dropped },
  };
}
const xid = (i: number, at: number): GpuEvent => ({ timestamp: START + at, gpuId: 0, uuid: 'GPU-a', type: 'xid', xid: 13, gpuInstanceId: null, computeInstanceId: null });

test('25 events kept and 5 dropped: 20 lines and "10 more" in the text, all 25 in the JSON with the count of the dropped', () => {
  const events = Array.from({ length: 25 }, (_, i) => xid(i, 100 + i * 10));
  const s = summarize(facts(events, 5), []);
  assert.equal(s.gpuEvents.length, 25);
  assert.equal(s.gpuEventsDropped, 5);
  assert.deepEqual(s.gpuEvents.slice(0, 2).map((e) => e.elapsedMs), [100, 110]);
  const text = summaryText(s);
  assert.match(text, /GPU events\s+30\n/);
  assert.equal(text.match(/GPU 0 {2}Xid 13 \(/g)?.length, 20);
  assert.match(text, /\.\.\. 10 more\n/);
  const md = summaryMarkdown(s);
  assert.equal(md.match(/\| GPU 0 event at \+/g)?.length, 20);
  assert.match(md, /\| GPU events not shown \| 10 \|/);
  assert.match(summaryCsv(s), /^gpuEventCount,30$/m);
});

test('an event from just before the command started counts as at its start; ECC and clock events are described', () => {
  const s = summarize(facts([
    { ...xid(0, -3), type: 'ecc_double_bit', xid: undefined },
    { timestamp: START + 50, gpuId: 0, uuid: 'GPU-a', type: 'clocks_event', reasons: ['sw_power_cap'], gpuInstanceId: null, computeInstanceId: null },
  ], 0), []);
  assert.deepEqual(s.gpuEvents.map((e) => [e.elapsedMs, e.type, e.xid, e.reasons]), [[0, 'ecc_double_bit', null, null], [50, 'clocks_event', null, ['sw_power_cap']]]);
  assert.equal(s.gpuEvents[0]!.text, 'double-bit ECC error (uncorrected)');
  assert.match(s.gpuEvents[1]!.text, /sw_power_cap/);
});

test('no events: nothing in the text, an empty list in the JSON', () => {
  const s = summarize(facts([], 0), []);
  assert.deepEqual([s.gpuEvents, s.gpuEventsDropped], [[], 0]);
  assert.doesNotMatch(summaryText(s), /GPU events/);
  assert.doesNotMatch(summaryMarkdown(s), /event/);
});
