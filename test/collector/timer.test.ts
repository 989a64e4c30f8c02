// Timers (src/collector/timer.ts): the monotonic clock, end() once, `using` records on scope exit, errors recorded as failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMetricsCollector } from '../../src/index.js';

const quiet = { probes: { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' as const }, gpu: { backend: 'none' as const } }) } };

/** Blocks the thread for ms (no timer-queue lateness in the measurement). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test('a 20 ms sleep measures 20 to 30 ms', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const t = c.startTimer('sleep');
  sleepSync(20);
  const ms = t.end();
  assert.ok(ms >= 20 && ms <= 30, `${ms} ms`);
  const viaMeasure = c.measurePerformance('sleep', () => sleepSync(20));
  assert.equal(viaMeasure, undefined);
  const recs = [...c.processingRecords({ operation: 'sleep' })];
  assert.equal(recs.length, 2);
  for (const r of recs) assert.ok(r.durationMs >= 20 && r.durationMs <= 30, `${r.durationMs} ms`);
  c.close();
});

test('`using` records on scope exit, once', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  {
    using t = c.startTimer('decode', { photoId: 7, jobId: 'j1', stage: 'exif' });
    assert.equal(t.ended, false);
  }
  let recs = [...c.processingRecords()];
  assert.equal(recs.length, 1);
  assert.equal(recs[0].operation, 'decode');
  assert.equal(recs[0].photoId, 7);
  assert.equal(recs[0].jobId, 'j1');
  assert.equal(recs[0].stage, 'exif');
  assert.equal(recs[0].success, true);
  {
    using t = c.startTimer('decode');
    t.end({ success: false, error: new Error('bad header') });
  }
  recs = [...c.processingRecords()];
  assert.equal(recs.length, 2, 'end() then dispose records once');
  assert.equal(recs[1].success, false);
  assert.equal(recs[1].errorMessage, 'bad header');
  c.close();
});

test('end() returns the duration and a second end() records nothing', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const t = c.startTimer('x');
  const a = t.end();
  const b = t.end({ success: false });
  assert.equal(a, b);
  assert.equal(c.getProcessingTimeStats().count, 1);
  assert.equal(c.getProcessingTimeStats().failureCount, 0);
  c.close();
});

test('measurePerformance: async success returns the value and records the awaited time', async () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const v = await c.measurePerformance('fetch', async () => {
    await new Promise((r) => setTimeout(r, 15));
    return 'done';
  });
  assert.equal(v, 'done');
  const [r] = [...c.processingRecords()];
  assert.equal(r.success, true);
  assert.ok(r.durationMs >= 14, `${r.durationMs}`);
  c.close();
});

test('measurePerformance: async failure records the message and rethrows the same error', async () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const boom = new Error('upstream 503');
  await assert.rejects(
    c.measurePerformance('fetch', async () => {
      await new Promise((r) => setTimeout(r, 1));
      throw boom;
    }, { jobId: 'job_9' }),
    (e) => e === boom,
  );
  const [r] = [...c.processingRecords()];
  assert.equal(r.success, false);
  assert.equal(r.errorMessage, 'upstream 503');
  assert.equal(r.jobId, 'job_9');
  c.close();
});

test('measurePerformance: sync failure rethrows the same error; thrown non-errors too', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const boom = new TypeError('nope');
  assert.throws(() => c.measurePerformance('parse', () => { throw boom; }), (e) => e === boom);
  assert.throws(() => c.measurePerformance('parse', () => { throw 'plain string'; }), (e) => e === 'plain string');
  const recs = [...c.processingRecords()];
  assert.deepEqual(recs.map((r) => [r.success, r.errorMessage]), [[false, 'nope'], [false, 'plain string']]);
  assert.equal(c.measurePerformance('sum', () => 1 + 2), 3);
  c.close();
});

test('durations come from the monotonic clock, not the wall clock', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const realNow = Date.now;
  try {
    const t = c.startTimer('jump');
    Date.now = () => realNow() - 3_600_000; // wall clock set back an hour
    const ms = t.end();
    assert.ok(ms >= 0 && ms < 1000, `${ms}`);
  } finally {
    Date.now = realNow;
  }
  c.close();
});
