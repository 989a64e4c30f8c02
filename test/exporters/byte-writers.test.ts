// The JSON and CSV exports write processing records as bytes (cached byte
// fragments, digits and writeNumber's double text put into a ByteSink) instead of building strings:
// each byte writer must write exactly the bytes of its string twin
// (processingJson, processingCsv, themselves checked against the
// schema-compiled writers in test/schema/writers-follow-schema.test.ts), and
// the sink must hand the file every byte in order, never reuse a buffer
// whose write has not finished, and hold at most two buffers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ByteSink, FLUSH_BYTES } from '../../src/exporters/files/byte-sink.js';
import {
  processingBytes,
  processingCsv,
  processingJson,
  processingText,
  writeProcessingCsv,
  writeProcessingJson,
} from '../../src/exporters/files/record-text.js';
import type { ProcessingTimeMetric } from '../../src/schema/processing.js';
import { newCollector, tempDir } from '../helpers/export-helpers.js';

/** Every combination of the optional fields, awkward strings (quotes, commas, formulas, non-ASCII, astral) and numbers. */
function records(): ProcessingTimeMetric[] {
  const strings = [null, 'job_001', '=1+2', 'a,"b"\nc', '-x', '', 'größe ✓', 'emoji 😀 \u2028', '\\ back\tslash'];
  const numbers = [
    0, -0, 1, 9, 10, 123456789, 2 ** 53 - 1, 2 ** 53 + 2, 1e21, 0.1, 1.5e-7, 0.0000005, 1.0000004, 123.456789012, -0.25, -3, -1e-9, 5e-324,
    // Through writeNumber's three paths (15, 16 and 17 digits), its fallbacks (16 digits from 9007..., the 1e-6 and 1e15 edges) and both signs.
    0.1 + 0.2, 1 / 3, 12.345678901234567, 0.9007199254740993, 99.99999999999999, 999999999999999.9, 1e-6, 9.999999999999999e-7, -2 / 3, 4503599627370496.5,
  ];
  const ops = ['decode', 'say "hi", ok', 'résumé', '+formula'];
  const out: ProcessingTimeMetric[] = [];
  // Timestamps across second boundaries, with microsecond fractions that round up to the next second.
  let t = Date.UTC(2024, 0, 2, 3, 4, 5, 678) + 0.25;
  let i = 0;
  for (let mask = 0; mask < 32; mask++) {
    for (const s of strings) {
      for (const n of numbers) {
        i++;
        t += i % 5 === 0 ? 999.9996 : 1.5;
        out.push({
          timestamp: t,
          operation: ops[i % ops.length]!,
          durationMs: Math.abs(n) + (i % 3) * 0.125,
          photoId: mask & 1 ? n : null,
          jobId: mask & 2 ? s : null,
          stage: mask & 4 ? s : null,
          success: (mask & 8) === 0,
          errorMessage: mask & 16 ? s : null,
        });
      }
    }
  }
  return out;
}

/** A sink into memory: each handed chunk copied after a delay (a slow disk), so a reused buffer would show. */
function memorySink(delayMs = 0) {
  const chunks: Buffer[] = [];
  let inflight = 0;
  let maxInflight = 0;
  const sink = new ByteSink(async (chunk) => {
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    await new Promise((r) => setTimeout(r, delayMs));
    chunks.push(Buffer.from(chunk as Uint8Array));
    inflight--;
  });
  return { sink, bytes: () => Buffer.concat(chunks), count: () => chunks.length, maxInflight: () => maxInflight };
}

test('the byte writers write exactly the bytes of processingJson and processingCsv, record by record', () => {
  const text = processingText();
  const bytes = processingBytes();
  let n = 0;
  for (const r of records()) {
    const o = new ByteSink(async () => undefined, 64);
    writeProcessingJson(r, bytes, o);
    assert.equal(o.buf.subarray(0, o.pos).toString('utf8'), processingJson(r, text), `JSON of ${JSON.stringify(r)}`);
    o.pos = 0;
    writeProcessingCsv(r, bytes, o);
    assert.equal(o.buf.subarray(0, o.pos).toString('utf8'), processingCsv(r, text), `CSV of ${JSON.stringify(r)}`);
    n++;
  }
  assert.equal(n, 32 * 9 * 28);
});

test('ByteSink: every byte reaches the file in order, buffers are not reused before their write ends, at most two held', async () => {
  const { sink, bytes, count, maxInflight } = memorySink(1);
  const expected: string[] = [];
  const t = processingBytes();
  const text = processingText();
  const all = records();
  for (let k = 0; k < 6; k++) {
    for (const r of all) {
      writeProcessingJson(r, t, sink);
      expected.push(processingJson(r, text));
      const p = sink.maybeFlush();
      if (p) await p;
    }
  }
  // A record longer than the buffer grows it.
  const long = 'x'.repeat(3 * FLUSH_BYTES);
  sink.text(long);
  expected.push(long);
  await sink.end();
  assert.equal(bytes().toString('utf8'), expected.join(''));
  assert.ok(count() >= 5, `written in several chunks (${count()})`);
  assert.equal(maxInflight(), 1, 'one write in flight at a time');
});

test('a JSON and a CSV export of records with every awkward field are the string writers\' lines, byte for byte', async () => {
  const tmp = tempDir('perfprobe-bytes-');
  try {
    const c = newCollector({ exportDirectory: tmp.dir, maxHistorySize: 200_000 });
    // What an import accepts: photo ids are non-negative safe integers.
    const all = records().filter((r) => r.photoId === null || (Number.isSafeInteger(r.photoId) && r.photoId >= 0));
    const now = Date.now();
    // Recent timestamps in the same order and spacing (imports keep what they are given).
    const base = all[0]!.timestamp;
    c.importRecords({ processing: all.map((r) => ({ ...r, timestamp: now - 3_600_000 + (r.timestamp - base) / 1000 })) });
    const stored = [...c.processingRecords()];
    assert.equal(stored.length, all.length);
    const text = processingText();
    const json = readFileSync(await c.exportToJson(), 'utf8');
    const body = stored.map((r) => processingJson(r, text)).join(',\n');
    assert.ok(json.includes(`"processing_metrics":[\n${body}]`), 'the JSON export holds the string writer\'s lines');
    const csv = readFileSync(await c.exportToCsv('processing'), 'utf8');
    const rows = stored.map((r) => processingCsv(r, text)).join('');
    assert.equal(csv.slice(csv.indexOf('\r\n') + 2), rows);
    c.close();
  } finally {
    tmp.cleanup();
  }
});

test('exports written from the columns while records are added and evicted (rows read out as objects mixed with rows written from slots) are the string writers\' lines, byte for byte', async () => {
  const tmp = tempDir('perfprobe-bytes-evict-');
  try {
    const all = records().filter((r) => r.photoId === null || (Number.isSafeInteger(r.photoId) && r.photoId >= 0));
    const c = newCollector({ exportDirectory: tmp.dir, maxHistorySize: all.length });
    const now = Date.now();
    const base = all[0]!.timestamp;
    c.importRecords({ processing: all.map((r) => ({ ...r, timestamp: now - 3_600_000 + (r.timestamp - base) / 1000 })) });
    const stored = [...c.processingRecords()];
    const json = c.exportToJson();
    const csv = c.exportToCsv('processing');
    let finished = false;
    const both = Promise.all([json, csv]).finally(() => (finished = true));
    // Bounded in count: 500 new records per turn (each evicting one held record the exports have not written yet).
    let turns = 0;
    for (; turns < 40 && !finished; turns++) {
      for (let i = 0; i < 500; i++) c.recordProcessingTime('late', 1, { jobId: `late_${i}`, stage: 'x' });
      await new Promise((r) => setImmediate(r));
    }
    const [jsonPath, csvPath] = await both;
    assert.ok(turns >= 2, `records were evicted while the exports ran (${turns} turns)`);
    const text = processingText();
    const body = stored.map((r) => processingJson(r, text)).join(',\n');
    const doc = readFileSync(jsonPath, 'utf8');
    assert.ok(doc.includes(`"processing_metrics":[\n${body}]`), 'the JSON export holds the string writer\'s lines');
    const rows = readFileSync(csvPath, 'utf8');
    assert.equal(rows.slice(rows.indexOf('\r\n') + 2), stored.map((r) => processingCsv(r, text)).join(''));
    c.close();
  } finally {
    tmp.cleanup();
  }
});

test('past the first 65,536 distinct strings (fragments no longer kept), rows from the columns are still the string writers\' lines', async () => {
  const tmp = tempDir('perfprobe-bytes-many-');
  try {
    const n = 70_000;
    const c = newCollector({ exportDirectory: tmp.dir, maxHistorySize: n });
    for (let i = 0; i < n; i++) c.recordProcessingTime(`op_${i % 3}`, i / 7, { success: false, errorMessage: `error "${i}", again`, jobId: `j${i % 70_001}` });
    const stored = [...c.processingRecords()];
    const text = processingText();
    const doc = readFileSync(await c.exportToJson(), 'utf8');
    assert.ok(doc.includes(`"processing_metrics":[\n${stored.map((r) => processingJson(r, text)).join(',\n')}]`));
    const csv = readFileSync(await c.exportToCsv('processing'), 'utf8');
    assert.equal(csv.slice(csv.indexOf('\r\n') + 2), stored.map((r) => processingCsv(r, text)).join(''));
    c.close();
  } finally {
    tmp.cleanup();
  }
});
