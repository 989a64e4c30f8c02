// The streaming JSON reader (src/exporters/files/json-scan.ts, reader.ts,
// record-parse.ts): it accepts what JSON.parse accepts and gives the same
// values, wherever the chunk boundaries fall; importFromJson reads any layout
// (exportJson's own, one line as `jq -c` writes it, pretty-printed) in work
// linear in the file size; its record parser converts and refuses records
// exactly as the JSON.parse-based path (recordsOf) does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importJson, readExportDocument, recordsOf } from '../../src/exporters/files/reader.js';
import { decimalToDouble } from '../../src/exporters/files/exact-float.js';
import { newCollector, tempDir } from '../helpers/export-helpers.js';

const tmp = tempDir('perfprobe-json-reader-');
after(() => tmp.cleanup());
let fileNo = 0;
function file(text: string | Buffer): string {
  const path = join(tmp.dir, `f${fileNo++}.json`);
  writeFileSync(path, text);
  return path;
}

/** A deterministic pseudo-random source (the failures must be reproducible). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STRINGS = ['', 'plain', 'with "quotes"', 'back\\slash', 'tab\there', 'line\nbreak', '\u0001\u001f', 'é ü ß', '日本語', '😀 astral', '\ud800 lone', '</script>', '\u2028\u2029', '\\u0041'];

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return Math.floor((r() - 0.5) * 2e6);
    case 3: return (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
    case 4: return r() < 0.1 ? -0 : r() * 1000;
    case 5: return STRINGS[Math.floor(r() * STRINGS.length)]! + (r() < 0.5 ? String(Math.floor(r() * 100)) : '');
    case 6:
    case 7: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 5);
      for (let i = 0; i < n; i++) o[r() < 0.2 ? STRINGS[Math.floor(r() * STRINGS.length)]! : `k${Math.floor(r() * 8)}`] = randomValue(r, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
  }
}

/** JSON text of v with random whitespace between tokens (JSON.stringify, then spaces/newlines/tabs/CRs inserted at token edges). */
function spaced(v: unknown, r: () => number): string {
  const ws = (): string => (r() < 0.5 ? '' : [' ', '\n', '\t', '\r\n', '  '][Math.floor(r() * 5)]!);
  const go = (x: unknown): string => {
    if (Array.isArray(x)) return `[${ws()}${x.map((e) => `${ws()}${go(e)}${ws()}`).join(',')}${ws()}]`;
    if (x !== null && typeof x === 'object') {
      return `{${ws()}${Object.entries(x).map(([k, e]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${go(e)}${ws()}`).join(',')}${ws()}}`;
    }
    return JSON.stringify(x);
  };
  return `${ws()}${go(v)}${ws()}`;
}

test('documents read as JSON.parse reads them, whatever the layout and wherever the chunks end', async () => {
  const r = rng(7);
  for (let i = 0; i < 120; i++) {
    const doc = { export_time: 'x', processing_metrics: Array.from({ length: 1 + Math.floor(r() * 4) }, () => randomValue(r, 1)), other: randomValue(r, 0) };
    const root = i % 10 === 9 ? randomValue(r, 0) : doc;
    const texts = [JSON.stringify(root), JSON.stringify(root, null, 2), spaced(root, r)];
    for (const text of texts) {
      const path = file(text);
      const expected = JSON.parse(readFileSync(path, 'utf8'));
      // (A 1-byte chunk is one read per byte: only for the first documents.)
      for (const chunkBytes of i < 20 ? [1, 2, 3, 7, 64, 1 << 20] : [3, 7, 64, 1 << 20]) {
        assert.deepStrictEqual(await readExportDocument(path, { chunkBytes }), expected, `doc ${i}, chunk ${chunkBytes}: ${text.slice(0, 200)}`);
      }
    }
  }
});

test('strings: escapes, surrogates, multi-byte UTF-8 and invalid bytes decode as readFileSync(utf8) then JSON.parse', async () => {
  const raw = Buffer.concat([
    Buffer.from('["\\u00e9\\ud83d\\ude00\\ud800x\\"\\\\\\/\\b\\f\\n\\r\\t", "'),
    Buffer.from('é 😀 日本', 'utf8'),
    Buffer.from([0xff, 0xc3, 0x28, 0xe2, 0x82, 0x20, 0xf0, 0x9f, 0x98]), // invalid and truncated sequences
    Buffer.from('", "\\u0041\\u00410", "x"]'),
  ]);
  const path = file(raw);
  const expected = JSON.parse(readFileSync(path, 'utf8'));
  for (const chunkBytes of [1, 2, 5, 1 << 16]) assert.deepStrictEqual(await readExportDocument(path, { chunkBytes }), expected, `chunk ${chunkBytes}`);
  // "__proto__" is an own key, as JSON.parse makes it.
  const proto = (await readExportDocument(file('{"__proto__":{"polluted":1},"a":1}'))) as Record<string, unknown>;
  assert.deepStrictEqual(Object.keys(proto), ['__proto__', 'a']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
});

test('invalid JSON is refused (a SyntaxError) wherever JSON.parse refuses it', async () => {
  const bad = [
    '', ' ', '{', '[', '{"a":}', '{"a" 1}', '{"a":1,}', '[1,]', '[,1]', '01', '1.', '.5', '-', '+1', '1e', '1e+', '--1', '0x10',
    'tru', 'nul', 'falsey', 'True', 'NaN', 'Infinity', '"abc', '"\\x"', '"\\u12g4"', '"a\u0001b"', '"tab\there"', '{"a":1}}', '[1] 2',
    "{'a':1}", '[1 2]', '{"a":1 "b":2}', '\ufeff{}', '[1,\n]', '{"a"}', '{1:2}', '"\\', '[-01]', '[1.e5]', '[.1]', '{"a":1,"b"}',
  ];
  for (const text of bad) {
    assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse accepts ${JSON.stringify(text)}`);
    const path = file(text);
    for (const chunkBytes of [1, 3, 1 << 16]) {
      await assert.rejects(readExportDocument(path, { chunkBytes }), SyntaxError, `${JSON.stringify(text)} (chunk ${chunkBytes})`);
    }
  }
  // Nesting is bounded (JSON.parse's own limit is the stack): a clear error, never a stack overflow.
  await assert.rejects(readExportDocument(file(`${'['.repeat(20_000)}${']'.repeat(20_000)}`)), /nested deeper than 1000 levels/);
  await assert.rejects(readExportDocument(file(`${'{"a":'.repeat(1001)}1${'}'.repeat(1001)}`)), /nested deeper than 1000 levels/);
  const ok = `${'['.repeat(1000)}1${']'.repeat(1000)}`;
  assert.deepStrictEqual(await readExportDocument(file(ok)), JSON.parse(ok));
});

test('skipArrays: a skipped top-level array is scanned (invalid JSON in it is still refused) but none of its elements is kept', async () => {
  const text = '{"perfprobe_run":1,"samples":[{"a":[1,{"b":"]"}]},\n 2, "x"],\r\n\t"summary":{"durationMs":5,"samples":[7]},"other":[1]}';
  const expected = { ...JSON.parse(text), samples: [] };
  const path = file(text);
  for (const chunkBytes of [1, 3, 1 << 16]) {
    assert.deepStrictEqual(await readExportDocument(path, { chunkBytes, skipArrays: new Set(['samples']) }), expected, `chunk ${chunkBytes}`);
  }
  // Only top-level arrays are skipped: summary.samples (nested) and a non-array value stay.
  assert.deepStrictEqual(await readExportDocument(file('{"samples":3,"s":{"samples":[1]}}'), { skipArrays: new Set(['samples']) }), { samples: 3, s: { samples: [1] } });
  for (const bad of ['{"samples":[1,]}', '{"samples":[{"a":}]}', '{"samples":[1 2]}', '{"samples":[1]']) {
    for (const chunkBytes of [1, 1 << 16]) {
      await assert.rejects(readExportDocument(file(bad), { chunkBytes, skipArrays: new Set(['samples']) }), SyntaxError, `${bad} (chunk ${chunkBytes})`);
    }
  }
});

test('numbers read as Number() reads them: shortest forms, 16-19 digit decimals, halfway cases', async () => {
  const r = rng(11);
  const f = new Float64Array(1);
  const u = new BigUint64Array(f.buffer);
  const texts: string[] = [];
  for (let i = 0; i < 60_000; i++) {
    const x = Math.exp(r() * 60 - 30) * (r() < 0.2 ? -1 : 1);
    texts.push(String(x));
    texts.push(String(Math.round(x * 1e6) / 1e6));
    // 16 to 19 significant digits at a random scale of 0-22.
    const digits = 16 + Math.floor(r() * 4);
    let s = String(1 + Math.floor(r() * 9));
    for (let j = 1; j < digits; j++) s += Math.floor(r() * 10);
    const scale = Math.floor(r() * 23);
    const at = digits - scale;
    texts.push(at > 0 ? `${s.slice(0, at)}${scale ? `.${s.slice(at)}` : ''}` : `0.${'0'.repeat(-at)}${s}`);
    // Near the halfway point between a double and the next: its exact decimal, cut to 17-19 digits, +-1 in the last.
    f[0] = Math.exp(r() * 40 - 20);
    const d = f[0];
    u[0] += 1n;
    const d2 = f[0];
    const parts = (v: number): [bigint, number] => {
      f[0] = v;
      const bits = u[0]!;
      return [(bits & ((1n << 52n) - 1n)) | (1n << 52n), Number((bits >> 52n) & 0x7ffn) - 1075];
    };
    const [m1, e1] = parts(d);
    const [m2, e2] = parts(d2);
    const e = Math.min(e1, e2);
    const twiceMid = (m1 << BigInt(e1 - e)) + (m2 << BigInt(e2 - e));
    const k = 1 - e; // mid = twiceMid * 2^(e-1) = twiceMid * 5^k / 10^k
    const exact = (twiceMid * 5n ** BigInt(k)).toString();
    const keep = 17 + Math.floor(r() * 3);
    const head = (BigInt(exact.slice(0, keep)) + BigInt(Math.floor(r() * 3) - 1)).toString().padEnd(exact.length, '0');
    const intLen = exact.length - k;
    texts.push(intLen > 0 ? `${head.slice(0, intLen)}.${head.slice(intLen, Math.max(keep, intLen + 1))}` : `0.${'0'.repeat(-intLen)}${head.slice(0, keep)}`);
  }
  texts.push('0', '-0', '-0.0', '0.000', '1e-7', '5e-324', '1.7976931348623157e308', '1e400', '-1e400', '123456789012345678901234567890', '0.1', '9007199254740993');
  const valid = texts.filter((t) => /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(t));
  assert.ok(valid.length > 200_000);
  const got = (await readExportDocument(file(`[${valid.join(',')}]`))) as number[];
  for (let i = 0; i < valid.length; i++) {
    if (!Object.is(got[i], Number(valid[i]))) assert.fail(`${valid[i]}: read ${got[i]}, Number() gives ${Number(valid[i])}`);
  }
  // The double-double path on its own: the nearest double, or NaN (ask Number()) when too near a halfway point; NaN is rare.
  let unsure = 0;
  for (let i = 0; i < 100_000; i++) {
    const m = 1e14 + Math.floor(r() * 9e14);
    const tn = 1 + Math.floor(r() * 4);
    const t = Math.floor(r() * 10 ** tn);
    const scale = Math.floor(r() * 23);
    const digits = `${m}${String(t).padStart(tn, '0')}`;
    const at = digits.length - scale;
    const text = at > 0 ? `${digits.slice(0, at)}.${digits.slice(at)}0` : `0.${'0'.repeat(-at)}${digits}`;
    const v = decimalToDouble(m, t, tn, scale);
    if (Number.isNaN(v)) unsure++;
    else if (!Object.is(v, Number(text))) assert.fail(`${text}: ${v}, Number() gives ${Number(text)}`);
  }
  // (Some of these are exact ties, e.g. 7967555094506758.5, halfway between two doubles near 8e15.)
  assert.ok(unsure < 1000, `${unsure} of 100,000 left to Number()`);
});

// ------------------------------------------------------------ importFromJson

function records(n: number, extra: (i: number) => Record<string, unknown> = () => ({})): Array<Record<string, unknown>> {
  const t0 = Date.UTC(2026, 0, 2, 3, 4, 5);
  return Array.from({ length: n }, (_, i) => ({
    timestamp: `${new Date(t0 + i * 7).toISOString().slice(0, 23)}${String((i * 7919) % 1000).padStart(3, '0')}Z`, // in time order
    operation: `op_${i % 5}`,
    duration_ms: Math.exp((i % 97) / 10) / 3,
    photo_id: i % 3 === 0 ? i : null,
    job_id: i % 4 === 0 ? `job_${i >> 4}` : null,
    stage: i % 6 === 0 ? 'exif' : null,
    success: i % 11 !== 0,
    error_message: i % 11 === 0 ? `failed "${i}"\n` : null,
    ...extra(i),
  }));
}

function exportText(list: unknown[], layout: 'own' | 'oneline' | 'pretty'): string {
  const doc = { export_time: '2026-01-02T03:04:05.000Z', perfprobe_version: '0.1.0', processing_metrics: list, memory_metrics: [], gpu_metrics: [], summary: { operations: [] } };
  if (layout === 'oneline') return `${JSON.stringify(doc)}\n`;
  if (layout === 'pretty') return JSON.stringify(doc, null, 2);
  return `{"export_time":"${doc.export_time}","perfprobe_version":"0.1.0",\n"processing_metrics":[\n${list.map((r) => JSON.stringify(r)).join(',\n')}],\n"memory_metrics":[],\n"gpu_metrics":[],\n"summary":{"operations":[]}}\n`;
}

test('importFromJson of a one-line file does linear work: bytes scanned again are bounded, whatever the chunk size', async () => {
  // The line-based reader rescanned the growing line on every chunk (23 MB 6.0 s, 46 MB 16.9 s, 92 MB 61.7 s).
  const list = records(20_000);
  const oneLine = file(exportText(list, 'oneline'));
  const size = readFileSync(oneLine).length;
  const longest = Math.max(...list.map((r) => JSON.stringify(r).length));
  for (const chunkBytes of [4096, 65_536]) {
    const stats = { bytes: 0, rescanned: 0 };
    const c = newCollector({ maxHistorySize: 50_000 });
    await importJson(c, oneLine, { chunkBytes, stats });
    assert.equal(c.getProcessingTimeStats().count, list.length);
    assert.equal(stats.bytes, size);
    // Each chunk boundary rescans at most the unit it cut (a record, or the short top-level keys).
    const chunks = Math.ceil(size / chunkBytes);
    assert.ok(stats.rescanned <= chunks * (longest + 64), `rescanned ${stats.rescanned} bytes over ${chunks} chunks (longest record ${longest})`);
    assert.ok(stats.rescanned < size * 0.1, `rescanned ${stats.rescanned} of ${size}`);
  }
  // A unit far bigger than a chunk (a 2 MB string in one record) is not rescanned per chunk: the window doubles.
  const huge = records(3, (i) => (i === 1 ? { error_message: 'x'.repeat(2 << 20), success: false } : {}));
  const big = file(exportText(huge, 'oneline'));
  const stats = { bytes: 0, rescanned: 0 };
  const c = newCollector();
  await importJson(c, big, { chunkBytes: 4096, stats });
  assert.ok(stats.rescanned <= 3 * stats.bytes, `rescanned ${stats.rescanned} for a ${stats.bytes}-byte file`);
  assert.equal([...c.processingRecords()][1]!.errorMessage!.length, 1024, 'stored cut at the documented 1024 characters');
});

test('importFromJson: own, one-line and pretty layouts, keys in any order, unknown and duplicate keys, as JSON.parse + recordsOf', async () => {
  const list = records(3000);
  // Variants the record parser's fast path does not take: other key orders, whitespace, extra keys, escaped key names, duplicates.
  const odd = list.map((r, i) => {
    if (i % 7 === 1) return Object.fromEntries(Object.entries(r).reverse());
    if (i % 7 === 2) return { ...r, extra: { nested: [1, 2, { x: null }] } };
    if (i % 7 === 3) return { duration_ms: -1, ...r }; // a duplicate: the last one counts
    if (i % 7 === 4) { const { photo_id: _p, job_id: _j, stage: _s, error_message: _e, ...rest } = r; return rest; } // absent nullable fields
    return r;
  });
  const texts = [exportText(list, 'own'), exportText(list, 'oneline'), exportText(list, 'pretty'), exportText(odd, 'pretty'), exportText(odd, 'oneline')];
  texts.push(texts[4]!.replace(/"duration_ms"/g, '"duration\\u005fms"').replace(/"operation"/, ' "operation" '));
  for (const text of texts) {
    const path = file(text);
    const expected = recordsOf(JSON.parse(text), 'processing');
    for (const chunkBytes of [7, 1 << 20]) {
      const c = newCollector({ maxHistorySize: 10_000 });
      await importJson(c, path, { chunkBytes });
      const got = [...c.processingRecords()];
      assert.equal(got.length, expected.length);
      for (let i = 0; i < got.length; i++) assert.deepStrictEqual(got[i], expected[i], `record ${i} (chunk ${chunkBytes}): ${text.slice(0, 80)}`);
    }
  }
});

test('importFromJson refuses a bad record with the message the JSON.parse path gives, and imports nothing', async () => {
  const good = records(5);
  const bads: Array<Record<string, unknown> | unknown> = [
    { ...good[0], timestamp: 'yesterday' },
    { ...good[0], timestamp: null },
    { ...good[0], timestamp: 1e999 },
    { ...good[0], timestamp: '2026-13-01T00:00:00.000000Z' },
    { ...good[0], operation: '' },
    { ...good[0], operation: 'x'.repeat(300) },
    { ...good[0], operation: 5 },
    { ...good[0], duration_ms: -1 },
    { ...good[0], duration_ms: '5' },
    { ...good[0], duration_ms: null },
    { ...good[0], photo_id: 1.5 },
    { ...good[0], job_id: 7 },
    { ...good[0], success: 'yes' },
    { ...good[0], success: null },
    { ...good[0], error_message: { a: 1 } },
    (() => { const { duration_ms: _d, ...rest } = good[0]!; return rest; })(),
    (() => { const { success: _s, ...rest } = good[0]!; return rest; })(),
    [1, 2],
    'a string',
    null,
  ];
  for (const bad of bads) {
    const list = [good[1], good[2], bad, good[3]];
    const text = exportText(list, 'oneline');
    let expected = '';
    try {
      recordsOf(JSON.parse(text), 'processing');
    } catch (err) {
      expected = (err as Error).message;
    }
    assert.notEqual(expected, '', `the JSON.parse path refuses ${JSON.stringify(bad)}`);
    assert.match(expected, /^processing_metrics\[2\]/);
    const c = newCollector();
    c.recordProcessingTime('keep', 1);
    await assert.rejects(importJson(c, file(text), { chunkBytes: 5 }), (e: Error) => e.message === expected, `${JSON.stringify(bad)}: ${expected}`);
    assert.equal(c.getProcessingTimeStats().count, 1, 'nothing imported');
  }
  // A record array that is not an array, and a document that is not an object.
  await assert.rejects(importJson(newCollector(), file('{"processing_metrics": 5}')), /^TypeError: processing_metrics must be an array, got 5/);
  await assert.rejects(importJson(newCollector(), file('[1,2]')), /must be a perfprobe JSON export \(an object\), got an array/);
  await assert.rejects(importJson(newCollector(), file('{"processing_metrics": [')), (e: Error & { code?: string }) => e.code === 'ERR_PERFPROBE_IMPORT_FAILED' && /JSON/.test(e.message));
});
