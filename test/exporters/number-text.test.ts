// writeNumber (src/exporters/files/number-text.ts) writes a double's text
// without building a string; it must write exactly String(x) (what
// JSON.stringify writes) for every finite double. Compared here over
// seeded random doubles of every kind: random bit patterns (subnormals,
// huge, tiny, negative), log-uniform magnitudes, durations as
// performance.now() gives them, decimals of few digits, powers of two (the
// asymmetric rounding interval), neighbours of powers of ten (where the
// decimal exponent is guessed), integers around 2^53, and the values whose
// 16-digit form starts at 9007... (the fallback to String).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteSink } from '../../src/exporters/files/byte-sink.js';
import { writeNumber } from '../../src/exporters/files/number-text.js';

const sink = new ByteSink(async () => undefined, 256);
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function text(x: number): string {
  sink.pos = 0;
  writeNumber(x, sink);
  return sink.buf.latin1Slice(0, sink.pos);
}

/** Checks every value of `values`; returns how many (mismatches fail with the first few named). */
function checkAll(values: Iterable<number>): number {
  const bad: string[] = [];
  let n = 0;
  for (const x of values) {
    n++;
    const want = String(x);
    const got = text(x);
    if (got !== want && bad.length < 5) bad.push(`${want} (bits ${bits(x)}) written as ${got}`);
  }
  assert.deepEqual(bad, []);
  return n;
}

function bits(x: number): string {
  f64[0] = x;
  return `${u32[1]!.toString(16)}:${u32[0]!.toString(16)}`;
}

/** A seeded 32-bit generator (xorshift32), so a failure repeats. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const COUNT = 100_000;

test('writeNumber writes String(x) for random bit patterns (subnormals, huge, tiny, negative)', () => {
  const r = rng(1);
  const n = checkAll(
    (function* () {
      for (let i = 0; i < COUNT; i++) {
        u32[0] = r();
        u32[1] = r();
        const x = f64[0]!;
        if (Number.isFinite(x)) yield x;
      }
    })(),
  );
  assert.ok(n > COUNT * 0.99);
});

test('writeNumber writes String(x) for log-uniform magnitudes 1e-9..1e17, both signs, and for durations', () => {
  const r = rng(2);
  const unit = () => r() / 4294967296;
  checkAll(
    (function* () {
      for (let i = 0; i < COUNT; i++) {
        const x = 10 ** (unit() * 26 - 9);
        yield i % 7 === 0 ? -x : x;
        yield Math.exp(unit() * 8 - 3); // the bench's durations, 0.05..150 ms
        yield 1000 * unit() + unit() / 1024; // performance.now() differences
      }
    })(),
  );
});

test('writeNumber writes String(x) for decimals of 1 to 17 significant digits', () => {
  const r = rng(3);
  checkAll(
    (function* () {
      for (let i = 0; i < COUNT; i++) {
        const m = r() * 4294967296 + r();
        const k = r() % 20;
        const x = m / 10 ** k;
        yield x;
        yield Number(x.toPrecision(1 + (i % 17)));
        yield Number((r() % 100000).toString()) / 10 ** (r() % 8);
      }
    })(),
  );
});

test('writeNumber writes String(x) at powers of two and ten, their neighbours, 2^53 and the 1e-6 / 1e15 / 1e21 edges', () => {
  const values: number[] = [0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308];
  const neighbours = (x: number): void => {
    for (let d = -4; d <= 4; d++) {
      f64[0] = x;
      const lo = u32[0]! + d;
      if (lo < 0 || lo > 0xffffffff) continue;
      u32[0] = lo;
      values.push(f64[0]!, -f64[0]!);
    }
  };
  for (let e = -1074; e <= 1023; e++) neighbours(2 ** e);
  for (let j = -323; j <= 308; j++) neighbours(Number(`1e${j}`));
  for (const x of [2 ** 53, 2 ** 52, 1e-6, 1e-7, 1e15, 1e16, 1e17, 1e21, 9007199254740993, 0.1 + 0.2, 1 / 3, 2 / 3]) neighbours(x);
  for (let i = 0; i < 2000; i++) values.push(2 ** 53 - 1000 + i, 2 ** 52 + i + 0.5, 0.9007199254740992 + i * 1e-16, 9.007199254740992e-3 * (1 + i * 1e-15));
  assert.ok(checkAll(values) > 40_000);
});
