// Stored strings (src/schema/field.ts capString, src/store/intern.ts): jobId, stage and errorMessage are cut at
// their caps and visibly marked, a cut string survives a round trip unchanged, operation names over the cap are
// still a RangeError, and what the store keeps is a flat copy that does not hold the caller's string alive (heap
// measured in child processes under --expose-gc: 10,000 distinct 1 MB error messages, 1 MB job ids and stages,
// short slices of 1 MB strings as job ids, operation names and memory labels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_JOB_ID_LENGTH,
  MAX_OPERATION_LENGTH,
  MAX_STAGE_LENGTH,
  PerformanceMetricsCollector,
} from '../../src/index.js';
import { capString } from '../../src/schema/field.js';
import { flatCopy, internalize } from '../../src/store/intern.js';
import { expectArgError, quiet, root } from '../helpers/collector-helpers.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MARK = /\u2026\[truncated (\d+) chars\]$/;

/** Asserts `stored` is `original` cut at `cap` and marked, and returns how many characters were kept. */
function assertCut(stored: string | null, original: string, cap: number, what: string): number {
  assert.ok(stored !== null, `${what} is null`);
  assert.ok(stored.length <= cap, `${what}: ${stored.length} characters, cap ${cap}`);
  const m = MARK.exec(stored);
  assert.ok(m, `${what} ends with the marker: ...${JSON.stringify(stored.slice(-40))}`);
  const kept = m.index;
  assert.equal(kept + Number(m[1]), original.length, `${what}: kept + dropped = original length`);
  assert.equal(stored.slice(0, kept), original.slice(0, kept), `${what}: the kept part is the original's start`);
  assert.ok(kept >= cap - 30, `${what}: keeps ${kept} of ${cap}`);
  return kept;
}

const text = (n: number, seed = 0): string => {
  let s = '';
  while (s.length < n) s += `${seed}-${s.length}:abcdefghijklmnopqrstuvwxyz;`;
  return s.slice(0, n);
};

test('jobId, stage and errorMessage are cut at their caps and marked; at the cap they are kept whole', () => {
  assert.deepEqual([MAX_OPERATION_LENGTH, MAX_JOB_ID_LENGTH, MAX_STAGE_LENGTH, MAX_ERROR_MESSAGE_LENGTH], [256, 256, 256, 1024]);
  const c = new PerformanceMetricsCollector({}, quiet);
  const job = text(5000, 1);
  const stage = text(300, 2);
  const err = text(1_000_000, 3);
  c.recordProcessingTime('op', 1, { jobId: job, stage, errorMessage: err });
  c.recordProcessingTime('op', 2, { jobId: text(256, 4), stage: text(257, 5), errorMessage: text(1024, 6) });
  const [a, b] = [...c.processingRecords()];
  assertCut(a.jobId, job, MAX_JOB_ID_LENGTH, 'jobId');
  assertCut(a.stage, stage, MAX_STAGE_LENGTH, 'stage');
  assertCut(a.errorMessage, err, MAX_ERROR_MESSAGE_LENGTH, 'errorMessage');
  assert.equal(a.success, false, 'an errorMessage still means failure');
  assert.equal(b.jobId, text(256, 4), 'exactly at the cap: unchanged');
  assertCut(b.stage, text(257, 5), MAX_STAGE_LENGTH, 'one over the cap');
  assert.equal(b.errorMessage, text(1024, 6));
  c.close();
});

test('errors of measurePerformance and timers are cut the same way; operation names over the cap stay a RangeError', async () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  const message = text(50_000, 7);
  assert.throws(() => c.measurePerformance('sync', () => { throw new Error(message); }), { message });
  await assert.rejects(c.measurePerformance('async', async () => { throw new Error(message); }), { message });
  c.startTimer('timer').end({ error: new Error(message) });
  const records = [...c.processingRecords()];
  assert.equal(records.length, 3);
  for (const r of records) assertCut(r.errorMessage, message, MAX_ERROR_MESSAGE_LENGTH, `${r.operation} errorMessage`);
  const long = 'o'.repeat(MAX_OPERATION_LENGTH + 1);
  expectArgError(() => c.recordProcessingTime(long, 1), 'operation', RangeError);
  expectArgError(() => c.measurePerformance(long, () => 1), 'operation', RangeError);
  expectArgError(() => c.startTimer(long), 'operation', RangeError);
  assert.throws(() => c.importRecords({ processing: [{ ...records[0], operation: long }] }), /processing\[0\]\.operation must be a string of 1 to 256 characters/);
  c.recordProcessingTime('o'.repeat(MAX_OPERATION_LENGTH), 1);
  assert.equal([...c.processingRecords()].at(-1)!.operation, 'o'.repeat(MAX_OPERATION_LENGTH));
  c.close();
});

test('a cut never splits a surrogate pair, and the marker counts what was dropped whatever its digits', () => {
  for (let pad = 225; pad < 240; pad++) {
    const s = 'a'.repeat(pad) + '\u{1F600}'.repeat(40);
    const cut = capString(s, 256);
    assert.ok(cut.length <= 256);
    assert.doesNotMatch(cut, LONE_SURROGATE, `pad ${pad}: a lone surrogate in ${JSON.stringify(cut.slice(-30))}`);
    assertCut(cut, s, 256, `pad ${pad}`);
  }
  for (const n of [257, 265, 266, 356, 1256, 10_256, 1_000_256]) assertCut(capString('x'.repeat(n), 256), 'x'.repeat(n), 256, `${n} characters`);
  assert.equal(capString('short', 256), 'short');
});

test('a cut string read back and stored again is unchanged (import, re-import)', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  c.recordProcessingTime('op', 1, { jobId: text(999, 8), stage: text(999, 9), errorMessage: text(9999, 10) });
  const first = [...c.processingRecords()];
  const d = new PerformanceMetricsCollector({}, quiet);
  d.importRecords({ processing: first });
  d.importRecords({ processing: [...d.processingRecords()] });
  for (const r of d.processingRecords()) {
    assert.equal(r.jobId, first[0].jobId);
    assert.equal(r.stage, first[0].stage);
    assert.equal(r.errorMessage, first[0].errorMessage);
  }
  // Imports are capped like the record path.
  const e = new PerformanceMetricsCollector({}, quiet);
  e.importRecords({ processing: [{ ...first[0], jobId: text(10_000, 11), errorMessage: text(10_000, 12) }] });
  const [r] = [...e.processingRecords()];
  assertCut(r.jobId, text(10_000, 11), MAX_JOB_ID_LENGTH, 'imported jobId');
  assertCut(r.errorMessage, text(10_000, 12), MAX_ERROR_MESSAGE_LENGTH, 'imported errorMessage');
  for (const x of [c, d, e]) x.close();
});

test('flatCopy and internalize keep the content', () => {
  for (const s of ['', 'a', 'twelve chars', 'thirteen char', text(300, 13), '\u{1F600}'.repeat(20), '123', '__proto__']) {
    assert.equal(flatCopy(s), s);
    assert.equal(internalize(s), s);
  }
  assert.equal(internalize(`ab${'c'.repeat(20)}`), `ab${'c'.repeat(20)}`);
});

/** Runs `code` (TypeScript, `@SRC@` = src/index.ts) in a child under --expose-gc; returns its last stdout line, parsed. */
function heapChild(code: string): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-strings-'));
  try {
    const file = join(dir, 'child.mts');
    writeFileSync(file, code.replaceAll('@SRC@', JSON.stringify(join(root, 'src/index.ts'))));
    const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=256', '--import', 'tsx', file], {
      cwd: root, env: { ...process.env, PERFPROBE_NO_WARNINGS: '1' }, encoding: 'utf8', maxBuffer: 1 << 20,
    });
    assert.equal(r.status, 0, `child failed (${r.signal ?? r.status}): ${r.stderr.slice(-2000)}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CHILD_HEAD = `
  import perfprobe from @SRC@;
  const { PerformanceMetricsCollector } = perfprobe;
  const probes = { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' as const }, gpu: { backend: 'none' as const } }) };
  /** Heap and off-heap bytes in use after a full GC (the 1 MB strings below are external, so both count). */
  const used = (): number => { (globalThis as any).gc(); const m = process.memoryUsage(); return m.heapUsed + m.external; };
  const buf = Buffer.alloc(1 << 20, 0x78);
  /** A distinct 1 MB string of its own (a fresh copy of buf, marked with i). */
  const distinctMb = (i: number): string => {
    buf.writeUInt32LE(i, 0);
    for (let k = 0; k < 4; k++) buf[k] |= 0x40;
    return buf.latin1Slice(0, buf.length);
  };
  const MB = 1048576;
`;

test('10,000 distinct 1 MB error messages grow the heap by less than 30 MB (history 10,000)', (t) => {
  // Before the fix each stored errorMessage was a slice of its 1 MB message (1 MB held per record): the child stops
  // and reports as soon as the growth passes the bound, so it never holds gigabytes.
  const out = heapChild(`${CHILD_HEAD}
    const c = new PerformanceMetricsCollector({ maxHistorySize: 10_000, enableMemoryTracking: false, enableGpuTracking: false }, { probes });
    c.recordProcessingTime('warm', 1, { errorMessage: 'x'.repeat(2000) });
    c.clearMetrics();
    const before = used();
    let n = 0;
    let growthMb = 0;
    for (let i = 0; i < 10_000; i++) {
      const message = distinctMb(i);
      try { c.measurePerformance('fails', () => { throw new Error(message); }); } catch {}
      n++;
      if (i % 1000 === 999) {
        growthMb = (used() - before) / MB;
        if (growthMb >= 30) break;
      }
    }
    growthMb = (used() - before) / MB;
    const last = [...c.processingRecords()].at(-1)!;
    console.log(JSON.stringify({ n, growthMb, held: c.getProcessingTimeStats().count, lastLength: last.errorMessage!.length, lastTail: last.errorMessage!.slice(-30) }));
  `);
  t.diagnostic(`heap + external growth: ${(out.growthMb as number).toFixed(1)} MB for ${out.n} messages`);
  assert.equal(out.n, 10_000, `stopped after ${out.n} messages: ${(out.growthMb as number).toFixed(1)} MB grown`);
  assert.equal(out.held, 10_000);
  assert.ok((out.growthMb as number) < 30, `heap grew ${(out.growthMb as number).toFixed(1)} MB`);
  assert.ok((out.lastLength as number) <= MAX_ERROR_MESSAGE_LENGTH);
  assert.match(out.lastTail as string, MARK);
});

test('1 MB job ids and stages, and short slices of 1 MB strings as job ids, operation names and memory labels, are not retained', (t) => {
  const out = heapChild(`${CHILD_HEAD}
    const c = new PerformanceMetricsCollector({ maxHistorySize: 10_000, maxOperations: 1000, enableMemoryTracking: true, enableGpuTracking: false }, { probes });
    c.recordProcessingTime('warm', 1, { jobId: 'warm-up-job-id', stage: 'warm-up-stage' });
    c.recordMemoryUsage('warm-up-label');
    const result: Record<string, number> = {};
    const cases: Array<[string, (i: number) => void]> = [
      ['jobId', (i) => c.recordProcessingTime('op', 1, { jobId: distinctMb(i) })],
      ['stage', (i) => c.recordProcessingTime('op', 1, { stage: distinctMb(i) })],
      ['jobId slice', (i) => c.recordProcessingTime('op', 1, { jobId: distinctMb(i).slice(3, 43) })],
      ['stage slice', (i) => c.recordProcessingTime('op', 1, { stage: distinctMb(i).slice(1, 200) })],
      ['operation slice', (i) => c.recordProcessingTime(distinctMb(i).slice(0, 100), 1)],
      ['memory label slice', (i) => c.recordMemoryUsage(distinctMb(i).slice(0, 50))],
    ];
    for (const [name, record] of cases) {
      const before = used();
      for (let i = 0; i < 200; i++) {
        record(i);
        if (i % 20 === 19 && used() - before > 8 * MB) break;
      }
      result[name] = (used() - before) / MB;
    }
    console.log(JSON.stringify(result));
  `);
  t.diagnostic(Object.entries(out).map(([k, v]) => `${k} ${(v as number).toFixed(2)} MB`).join(', '));
  for (const [name, mb] of Object.entries(out)) assert.ok((mb as number) < 4, `${name}: 200 records grew the heap ${(mb as number).toFixed(1)} MB`);
  assert.equal(Object.keys(out).length, 6);
});
