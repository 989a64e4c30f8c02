/**
 * A JSON scanner over a file read in chunks: the tokens of RFC 8259 read
 * straight from the bytes, accepting exactly what JSON.parse accepts and
 * giving the same values (strings decoded as readFileSync(path, 'utf8')
 * would, numbers correctly rounded), without ever making the file one
 * string.
 *
 * The caller parses in units (one record of an array, one value) that are
 * retried whole when the bytes run out in the middle: a method that needs a
 * byte past the end throws INCOMPLETE, the caller calls refill(), which
 * keeps the bytes from `mark` (the start of the unfinished unit) and reads
 * on, and parses the unit again from `mark`. refill() grows the window
 * whenever the unfinished unit fills half of it, so each retry has at least
 * twice the bytes of the one before: a unit of n bytes is scanned at most
 * about 3n times in all, however it falls across chunks (a one-line file, a
 * 100 MB string), and the work is linear in the file size. `rescanned`
 * counts the bytes scanned again (the tests bound it).
 *
 * Bounds: the window holds the largest unit (a record, or one top-level
 * value that is not an array) plus one chunk; nesting deeper than
 * MAX_DEPTH is refused (JSON.parse's limit is the stack).
 */
import { promises as fsp } from 'node:fs';
import { POW10, decimalToDouble } from './exact-float.js';

/** Thrown (never escapes the reader) when a unit needs bytes past the window. */
export const INCOMPLETE: { readonly incomplete: true } = Object.freeze({ incomplete: true });

/** Deepest nesting of arrays and objects accepted (perfprobe's own files nest 4 deep). */
export const MAX_DEPTH = 1000;

/** Bytes read per chunk. */
export const CHUNK_BYTES = 1 << 20;

/** Direct-mapped cache of short ASCII strings without escapes (operation names, ids, stages repeat). */
const CACHE_SLOTS = 4096;
const CACHE_MAX_LENGTH = 128;

export class JsonScanner {
  /** The window: file bytes [base, base + end), and a 0 byte at [end] (a sentinel no token can hold). */
  buf: Buffer;
  p = 0;
  end = 0;
  /** Start of the unit being parsed: refill() keeps the bytes from here. */
  mark = 0;
  /** File offset of buf[0]. */
  base = 0;
  eof = false;
  /** Bytes scanned again after a unit ran past the window (work beyond one pass over the file). */
  rescanned = 0;
  private readonly cacheHash = new Int32Array(CACHE_SLOTS);
  private readonly cacheText: Array<string | undefined> = new Array(CACHE_SLOTS).fill(undefined);

  constructor(
    private readonly fh: fsp.FileHandle,
    chunkBytes = CHUNK_BYTES,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(chunkBytes, 16) + 1);
    this.buf[0] = 0;
  }

  /**
   * Reads the next chunk, keeping the bytes from `mark` (moved to the
   * front); resets `p` to `mark`. Sets `eof` when the file has no more.
   */
  async refill(): Promise<void> {
    this.rescanned += this.end - this.mark;
    const keep = this.mark;
    const pending = this.end - keep;
    let buf = this.buf;
    if (pending * 2 > buf.length - 1) {
      // The unfinished unit fills half the window: double it (so retries double too).
      const bigger = Buffer.allocUnsafe(2 * (buf.length - 1) + 1);
      buf.copy(bigger, 0, keep, this.end);
      buf = this.buf = bigger;
    } else if (keep > 0) {
      buf.copyWithin(0, keep, this.end);
    }
    this.base += keep;
    this.mark = 0;
    this.p = 0;
    this.end = pending;
    // Fill the room (a short read would break the doubling that keeps retries linear).
    const cap = buf.length - 1;
    while (this.end < cap) {
      const { bytesRead } = await this.fh.read(buf, this.end, cap - this.end, this.base + this.end);
      if (bytesRead === 0) {
        this.eof = true;
        break;
      }
      this.end += bytesRead;
    }
    buf[this.end] = 0;
  }

  // ------------------------------------------------------------- errors

  /** The SyntaxError JSON.parse would throw here (or INCOMPLETE at the end of the window). */
  fail(at = this.p): never {
    if (at >= this.end) {
      if (!this.eof) throw INCOMPLETE;
      throw new SyntaxError(`Unexpected end of JSON input (at byte ${this.base + at})`);
    }
    const b = this.buf[at]!;
    const shown = b >= 32 && b < 127 ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
    throw new SyntaxError(`Unexpected token ${shown} in JSON at byte ${this.base + at}`);
  }

  // --------------------------------------------------------- primitives

  /** Skips whitespace; returns the byte at p (0 at the end of the window). */
  ws(): number {
    const buf = this.buf;
    let p = this.p;
    let b = buf[p]!;
    while (b === 32 || b === 10 || b === 13 || b === 9) b = buf[++p]!;
    this.p = p;
    return b;
  }

  /** Skips whitespace and one expected byte. */
  expect(byte: number): void {
    if (this.ws() !== byte) this.fail();
    this.p++;
  }

  /** True when only whitespace is left in the file (false: more to read, or something else follows). */
  atEnd(): boolean {
    this.ws();
    if (this.p < this.end) return false;
    if (!this.eof) throw INCOMPLETE;
    return true;
  }

  /** A string token at p (buf[p] is '"'). */
  string(): string {
    const buf = this.buf;
    const s = this.p + 1;
    let p = s;
    let h = 0;
    let b = buf[p]!;
    while (b !== 34 && b >= 32 && b !== 92 && b < 128) {
      h = (Math.imul(h, 31) + b) | 0;
      b = buf[++p]!;
    }
    if (b === 34) {
      this.p = p + 1;
      const n = p - s;
      if (n > CACHE_MAX_LENGTH) return buf.latin1Slice(s, p);
      const slot = (h ^ (h >>> 12) ^ n) & (CACHE_SLOTS - 1);
      const hit = this.cacheText[slot];
      if (hit !== undefined && this.cacheHash[slot] === h && hit.length === n) {
        let i = 0;
        while (i < n && hit.charCodeAt(i) === buf[s + i]) i++;
        if (i === n) return hit;
      }
      const text = buf.latin1Slice(s, p);
      this.cacheText[slot] = text;
      this.cacheHash[slot] = h;
      return text;
    }
    return this.slowString(s, p);
  }

  /** The rest of a string with escapes, bytes >= 0x80 or a control byte, from `p` (its start at `s`). */
  protected slowString(s: number, p: number): string {
    const buf = this.buf;
    let out = '';
    let seg = s;
    for (;;) {
      const b = buf[p]!;
      if (b === 34) {
        this.p = p + 1;
        return seg === s ? buf.utf8Slice(s, p) : out + buf.utf8Slice(seg, p);
      }
      if (b === 92) {
        if (p > seg) out += buf.utf8Slice(seg, p);
        const e = buf[p + 1]!;
        let c: number;
        switch (e) {
          case 34: c = 34; break;
          case 92: c = 92; break;
          case 47: c = 47; break;
          case 98: c = 8; break;
          case 102: c = 12; break;
          case 110: c = 10; break;
          case 114: c = 13; break;
          case 116: c = 9; break;
          case 117: {
            c = 0;
            for (let k = 2; k < 6; k++) {
              const x = buf[p + k]!;
              const d = x >= 48 && x <= 57 ? x - 48 : x >= 97 && x <= 102 ? x - 87 : x >= 65 && x <= 70 ? x - 55 : -1;
              if (d < 0) this.fail(p + k);
              c = c * 16 + d;
            }
            out += String.fromCharCode(c);
            p += 6;
            seg = p;
            continue;
          }
          default:
            this.fail(p + 1);
        }
        out += String.fromCharCode(c);
        p += 2;
        seg = p;
        continue;
      }
      if (b < 32) this.fail(p); // a control byte, or the end of the window (0)
      p++;
    }
  }

  /** A number token at p (a '-' or a digit). */
  number(): number {
    const buf = this.buf;
    const s = this.p;
    let p = s;
    let b = buf[p]!;
    const neg = b === 45;
    if (neg) b = buf[++p]!;
    // The significant digits: the first 15 in m (exact), up to 4 more in t (tn of them); beyond: `many`.
    let m = 0;
    let sig = 0;
    let t = 0;
    let tn = 0;
    let many = false;
    let scale = 0;
    if (b === 48) b = buf[++p]!;
    else if (b >= 49 && b <= 57) {
      do {
        if (sig < 15) {
          m = m * 10 + (b - 48);
          sig++;
        } else if (tn < 4) {
          t = t * 10 + (b - 48);
          tn++;
        } else many = true;
        b = buf[++p]!;
      } while (b >= 48 && b <= 57);
    } else this.fail(p);
    if (b === 46) {
      b = buf[++p]!;
      if (b < 48 || b > 57) this.fail(p);
      do {
        if (sig < 15) {
          m = m * 10 + (b - 48);
          if (m !== 0) sig++; // leading zeros are not significant
        } else if (tn < 4) {
          t = t * 10 + (b - 48);
          tn++;
        } else many = true;
        scale++;
        b = buf[++p]!;
      } while (b >= 48 && b <= 57);
    }
    let exponent = false;
    if (b === 101 || b === 69) {
      exponent = true;
      b = buf[++p]!;
      if (b === 43 || b === 45) b = buf[++p]!;
      if (b < 48 || b > 57) this.fail(p);
      do b = buf[++p]!;
      while (b >= 48 && b <= 57);
    }
    // A number cut by the end of the window may go on in the next chunk.
    if (p >= this.end && !this.eof) throw INCOMPLETE;
    this.p = p;
    let v = NaN;
    if (!exponent && !many && scale <= 22) {
      // scale counts the fraction's digits, m and t hold its significant ones: value = (m * 10^tn + t) / 10^scale.
      v = tn === 0 ? (scale === 0 ? m : m / POW10[scale]!) : decimalToDouble(m, t, tn, scale);
    }
    if (v !== v) return Number(buf.latin1Slice(s, p));
    return neg ? -v : v;
  }

  /** true, false or null at p. */
  private literal(): boolean | null {
    const buf = this.buf;
    const p = this.p;
    const b = buf[p]!;
    if (b === 116 && buf[p + 1] === 114 && buf[p + 2] === 117 && buf[p + 3] === 101) {
      this.p = p + 4;
      return true;
    }
    if (b === 102 && buf[p + 1] === 97 && buf[p + 2] === 108 && buf[p + 3] === 115 && buf[p + 4] === 101) {
      this.p = p + 5;
      return false;
    }
    if (b === 110 && buf[p + 1] === 117 && buf[p + 2] === 108 && buf[p + 3] === 108) {
      this.p = p + 4;
      return null;
    }
    // The first byte that differs (or the end of the window).
    const word = b === 116 ? 'true' : b === 102 ? 'false' : 'null';
    let k = 0;
    while (buf[p + k] === word.charCodeAt(k)) k++;
    return this.fail(p + k);
  }

  /** Any JSON value at p (after whitespace), as JSON.parse builds it. */
  value(depth = 0): unknown {
    const b = this.ws();
    if (b === 34) return this.string();
    if (b === 45 || (b >= 48 && b <= 57)) return this.number();
    if (b === 123) return this.object(depth + 1);
    if (b === 91) return this.array(depth + 1);
    if (b === 116 || b === 102 || b === 110) return this.literal();
    return this.fail();
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw new SyntaxError(`JSON nested deeper than ${MAX_DEPTH} levels (at byte ${this.base + this.p})`);
    this.p++;
    const o: Record<string, unknown> = {};
    let b = this.ws();
    if (b === 125) {
      this.p++;
      return o;
    }
    for (;;) {
      if (b !== 34) this.fail();
      const key = this.string();
      this.expect(58);
      const v = this.value(depth);
      // As JSON.parse: an own property even for "__proto__".
      if (key === '__proto__') Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true });
      else o[key] = v;
      b = this.ws();
      if (b === 44) {
        this.p++;
        b = this.ws();
        continue;
      }
      if (b === 125) {
        this.p++;
        return o;
      }
      this.fail();
    }
  }

  private array(depth: number): unknown[] {
    if (depth > MAX_DEPTH) throw new SyntaxError(`JSON nested deeper than ${MAX_DEPTH} levels (at byte ${this.base + this.p})`);
    this.p++;
    const a: unknown[] = [];
    let b = this.ws();
    if (b === 93) {
      this.p++;
      return a;
    }
    for (;;) {
      a.push(this.value(depth));
      b = this.ws();
      if (b === 44) {
        this.p++;
        continue;
      }
      if (b === 93) {
        this.p++;
        return a;
      }
      this.fail();
    }
  }
}

declare global {
  interface Buffer {
    /** Node's own decoders behind Buffer#toString (Node 0.x to 22), without its argument handling. */
    latin1Slice(start: number, end: number): string;
    utf8Slice(start: number, end: number): string;
  }
}
