/**
 * Exact floating-point steps shared by the number writer (./number-text.ts:
 * a double's shortest text) and the JSON reader (./json-scan.ts: a
 * decimal's nearest double): the exact powers of ten and Dekker's
 * error-free product.
 */

/** 10^k for k = 0..22: exact doubles. */
// A literal, not Array.from: a packed array, read without hole checks (decimalToDouble is ~10 % slower on a holey one).
export const POW10: readonly number[] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** Veltkamp's splitter for binary64: 2^27 + 1. */
const SPLIT = 134_217_729;

/** a * b - p exactly, where p = fl(a * b) (Dekker's product; |a|, |b| < 2^996, no underflow). */
export function twoProductError(a: number, b: number, p: number): number {
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // index of the high word

/**
 * The double nearest to (m * 10^tn + t) / 10^scale, with m < 10^15, t <
 * 10^tn, 1 <= tn <= 4, scale <= 22: the 16 to 19 significant digits the
 * shortest form of a double has (String(x) writes 17 for most durations),
 * which one division cannot round correctly. The quotient is computed in
 * double-double arithmetic (error-free products and sums, ~106 bits), and
 * rounded once; NaN when it lies so near a halfway point between two
 * doubles that the ~2^-100 error could decide (then the caller asks
 * Number(), as for any form this does not handle). Numbers at most 15
 * digits long take Clinger's exact one-division path instead. The tests
 * check it against Number() on millions of strings, halfway cases too.
 */
export function decimalToDouble(m: number, t: number, tn: number, scale: number): number {
  // W = m * 10^tn + t, exactly, as hi + lo.
  const P = POW10[tn]!;
  const hiProd = m * P;
  const errProd = twoProductError(m, P, hiProd);
  const s1 = hiProd + t;
  const bb = s1 - hiProd;
  const errSum = hiProd - (s1 - bb) + (t - bb);
  const lo = errProd + errSum;
  if (scale === 0) {
    const d = s1 + lo;
    return d;
  }
  // q = W / 10^scale = q1 + q2.
  const D = POW10[scale]!;
  const q1 = s1 / D;
  const tp = q1 * D;
  const te = twoProductError(q1, D, tp);
  const r = s1 - tp - te + lo;
  const q2 = r / D;
  // d = fl(q1 + q2), e = the exact rest (TwoSum).
  const d = q1 + q2;
  const bv = d - q1;
  const e = q1 - (d - bv) + (q2 - bv);
  if (e === 0) return d;
  f64[0] = d;
  const hiWord = u32[HI]!;
  const expBits = (hiWord >>> 20) & 0x7ff;
  if (expBits === 0 || expBits === 0x7ff) return NaN;
  const ulp = 2 ** (expBits - 1075);
  // The halfway point on e's side: half an ulp, a quarter below a power of two (a smaller ulp there).
  const pow2 = (hiWord & 0xfffff) === 0 && u32[1 - HI] === 0;
  const half = e < 0 && pow2 ? ulp / 4 : ulp / 2;
  const margin = half - Math.abs(e);
  // The computed q is within ~2^-100 |q| of the true one; keep far more than that from the halfway point.
  if (margin < ulp * 2 ** -30) return NaN;
  return d;
}
