/**
 * A double's shortest round-trip text (exactly what Number#toString and
 * JSON.stringify write) straight into a ByteSink, without building a
 * string: String(x) costs ~200 ns and a heap string per duration, the
 * largest single cost of a million-record JSON export.
 *
 * The fast path takes the finite non-integers with 1e-6 <= |x| < 1e15 (the
 * ones Number#toString writes in plain decimal notation) and finds the
 * spec's digits (ECMA-262 Number::toString: the fewest significant digits
 * whose decimal value reads back as x; among those the one closest to x)
 * with double arithmetic that is exact where it decides:
 * - 15 digits or fewer: m = round(x * 10^k15) is the only candidate (a
 *   decimal of at most 15 digits that reads back as x is unique, and the
 *   rounding error of the product is under 0.25), and m / 10^k15 === x
 *   tests exactly whether it reads back (m and 10^k are exact doubles, and
 *   IEEE division rounds correctly, as reading the decimal does);
 * - 16 digits: x * 10^k16 exactly as p + e (Dekker's product), the two
 *   integers around it tested the same way, the closer one that reads back
 *   taken (when that product is 2^53 or more, which cannot be tested
 *   exactly: fallback);
 * - else 17 digits: the integer closest to x * 10^k17 (17 digits always
 *   read back), written from p and e without forming it as one double.
 * Everything else (integers, tiny, huge, exact ties, a decimal exponent
 * guessed wrong near a power of ten) is written from String(x).
 * test/exporters/number-text.test.ts compares it with String(x) over
 * millions of doubles of every kind.
 */
import type { ByteSink } from './byte-sink.js';
import { POW10, twoProductError } from './exact-float.js';

const TWO53 = 2 ** 53;

/** Decimal digits of x's integer part for x >= 1, else -(zeros after the point): 10^(n-1) <= x < 10^n (a guess near powers of ten below 1). */
function decimalExponent(x: number): number {
  if (x >= 1) {
    let n = 1;
    while (n < 16 && x >= POW10[n]!) n++;
    return n;
  }
  let n = 0;
  while (n > -6 && x < 1 / POW10[1 - n]!) n--;
  return n;
}

/** Writes String(x) as bytes (every code unit is ASCII). */
function fallback(x: number, o: ByteSink): void {
  o.ascii(String(x));
}

/**
 * Writes hi's hiCount digits then lo's loCount digits (each below 2^31,
 * zero-padded to its count) as the decimal (hi, lo) * 10^-k in plain
 * notation (no room check): "0.000ddd" or "ddd.ddd".
 */
function place(hi: number, hiCount: number, lo: number, loCount: number, k: number, o: ByteSink): void {
  const buf = o.buf;
  let pos = o.pos;
  const count = hiCount + loCount;
  const intDigits = count - k;
  // Where digit i (0 = first) goes: start + i, plus one after the point.
  let start = pos;
  if (intDigits <= 0) {
    buf[pos++] = 48; // 0
    buf[pos++] = 46; // .
    for (let i = intDigits; i < 0; i++) buf[pos++] = 48;
    start = pos;
    pos += count;
  } else {
    buf[start + intDigits] = 46; // .
    pos += count + 1;
  }
  const point = intDigits <= 0 ? count : intDigits;
  let x = lo | 0;
  for (let i = count - 1; i >= hiCount; i--) {
    const q = (x / 10) | 0;
    buf[start + i + (i >= point ? 1 : 0)] = 48 + x - q * 10;
    x = q;
  }
  x = hi | 0;
  for (let i = hiCount - 1; i >= 0; i--) {
    const q = (x / 10) | 0;
    buf[start + i + (i >= point ? 1 : 0)] = 48 + x - q * 10;
    x = q;
  }
  o.pos = pos;
}

/** place() of a safe integer m of `count` digits (split at 10^8). */
function placeSafe(m: number, count: number, k: number, o: ByteSink): void {
  if (count <= 8) return place(0, 0, m, count, k, o);
  const hi = Math.floor(m / 1e8);
  let lo = m - hi * 1e8;
  let h = hi;
  if (lo < 0) {
    h -= 1;
    lo += 1e8;
  } else if (lo >= 1e8) {
    h += 1;
    lo -= 1e8;
  }
  place(h, count - 8, lo, 8, k, o);
}

/**
 * Writes the text of a finite number exactly as String(x) (JSON.stringify)
 * does, no room check (at most 25 bytes).
 */
export function writeNumber(x: number, o: ByteSink): void {
  if (Number.isInteger(x)) {
    if (x >= 0 && x <= Number.MAX_SAFE_INTEGER) o.uint(x);
    else fallback(x, o);
    return;
  }
  let a = x;
  if (a < 0) {
    a = -a;
    if (!(a >= 1e-6 && a < 1e15)) return fallback(x, o);
    o.buf[o.pos++] = 45; // -
  } else if (!(a >= 1e-6 && a < 1e15)) return fallback(x, o);
  const n = decimalExponent(a);

  // At most 15 significant digits.
  const k15 = 15 - n;
  const p15 = POW10[k15]!;
  const m15 = Math.round(a * p15);
  if (m15 / p15 === a) {
    if (m15 < 1e14 || m15 >= 1e15) return fallback(a, o);
    let m = m15;
    let k = k15;
    while (k > 0 && m % 10 === 0) {
      m /= 10;
      k--;
    }
    let count = 1;
    while (count < 15 && m >= POW10[count]!) count++;
    return placeSafe(m, count, k, o);
  }

  // x * 10^k16 exactly, as p + e (Dekker's two-product: no overflow or underflow in this range).
  const k16 = k15 + 1;
  const t16 = POW10[k16]!;
  const p = a * t16;
  const e = twoProductError(a, t16, p);
  // A 16-digit candidate of 2^53 or more cannot be tested exactly: fallback (leading digits 9007... only).
  if (!(p >= 1e15 && p < TWO53 - 2)) return fallback(a, o);
  {
    const f = Math.floor(p);
    const r = p - f; // exact
    // floor(p + e) and whether the exact value is nearer the integer below it (e vs 0.5 - r: both exact).
    let lo: number;
    let half: number; // frac(p + e) - 0.5, only its sign used: compare e with 0.5 - r
    if (r === 0 && e < 0) {
      lo = f - 1;
      half = e + 0.5; // frac = 1 + e
    } else {
      lo = f;
      half = e - (0.5 - r);
    }
    if (half === 0) return fallback(a, o);
    const near = half < 0 ? lo : lo + 1;
    const far = half < 0 ? lo + 1 : lo;
    const found = near / t16 === a ? near : far / t16 === a ? far : -1;
    if (found >= 0) {
      if (found < 1e15 || found >= 1e16 || found % 10 === 0) return fallback(a, o);
      return placeSafe(found, 16, k16, o);
    }
  }

  // 17 digits: the integer nearest x * 10^k17 = 10 * (p + e) exactly (10p + 10e, both products recomputed exactly).
  const k17 = k16 + 1;
  const t17 = POW10[k17]!;
  const q = a * t17;
  const g = twoProductError(a, t17, q);
  // q >= 2^53 is an even integer; the nearest integer to q + g is q + round(g), unless g is a tie.
  if (!(q >= 1e16 && q < 1e17)) return fallback(a, o);
  const gf = Math.floor(g);
  if (g - gf === 0.5) return fallback(a, o);
  const t = Math.round(g);
  let hi = Math.floor(q / 1e9);
  let lo9 = q - hi * 1e9; // exact: hi * 1e9 and the difference are exact integers
  if (lo9 < 0) {
    hi -= 1;
    lo9 += 1e9;
  } else if (lo9 >= 1e9) {
    hi += 1;
    lo9 -= 1e9;
  }
  lo9 += t;
  if (lo9 < 0) {
    hi -= 1;
    lo9 += 1e9;
  } else if (lo9 >= 1e9) {
    hi += 1;
    lo9 -= 1e9;
  }
  if (hi < 1e7 || hi >= 1e8 || lo9 % 10 === 0) return fallback(a, o);
  place(hi, 8, lo9, 9, k17, o);
}
