/**
 * The JSON scanner with the fast paths of the record parsers
 * (./record-parse.ts): a field's expected bytes matched in one compare,
 * object keys found by their bytes with the key expected next tried first,
 * and timestamps in the exports' ISO-8601 form turned into epoch ms without
 * a string. Every fast path falls back to the plain token (JsonScanner) on
 * anything else, so what is accepted and the values read are those of
 * JSON.parse.
 */
import { POW10 } from './exact-float.js';
import { JsonScanner } from './json-scan.js';

export class RecordScanner extends JsonScanner {
  /** The date and time (to the second) of the last timestamp read, and its epoch ms: records a second apart repeat it. */
  private isoPrefix = new Uint8Array(19);
  private isoBase = NaN;

  /** When the bytes at p are `bytes`, moves past them and returns true (the record parsers' fast path). */
  frag(bytes: Uint8Array): boolean {
    const buf = this.buf;
    const p = this.p;
    const n = bytes.length;
    for (let i = 0; i < n; i++) if (buf[p + i] !== bytes[i]) return false;
    this.p = p + n;
    return true;
  }

  /** A value where a string is expected (any other value as value() reads it). */
  str(): unknown {
    return this.buf[this.p] === 34 ? this.string() : this.value();
  }

  /** A value where a number is expected (any other value as value() reads it). */
  num(): unknown {
    const b = this.buf[this.p]!;
    return b === 45 || (b >= 48 && b <= 57) ? this.number() : this.value();
  }

  /**
   * An object key at p (buf[p] is '"') and the ':' after it: the index of
   * the key in `keys` (bytes of each name), trying `hint` first; -1 when
   * it names none of them.
   */
  key(keys: readonly Uint8Array[], names: ReadonlyMap<string, number>, hint: number): number {
    const buf = this.buf;
    const s = this.p + 1;
    let p = s;
    let b = buf[p]!;
    while (b !== 34 && b >= 32 && b !== 92 && b < 128) b = buf[++p]!;
    let index: number;
    if (b === 34) {
      this.p = p + 1;
      const n = p - s;
      index = -1;
      const want = hint < keys.length ? keys[hint]! : undefined;
      if (want !== undefined && want.length === n && sameBytes(buf, s, want)) index = hint;
      else {
        for (let k = 0; k < keys.length; k++) {
          const kb = keys[k]!;
          if (kb.length === n && sameBytes(buf, s, kb)) {
            index = k;
            break;
          }
        }
      }
    } else {
      // Escapes or non-ASCII: decode, then look the name up.
      index = names.get(this.slowString(s, p)) ?? -1;
    }
    let c = buf[this.p]!;
    while (c === 32 || c === 10 || c === 13 || c === 9) c = buf[++this.p]!;
    if (c !== 58) this.fail();
    this.p++;
    return index;
  }

  /**
   * A timestamp value: an ISO-8601 UTC string in the form the exports
   * write (YYYY-MM-DDTHH:MM:SS[.fraction of 1-9 digits]Z) as epoch ms,
   * computed as IsoParser computes it; any other value as JSON.parse gives
   * it (the caller hands it to IsoParser, which accepts numbers and other
   * ISO-8601 strings and names the field when it refuses).
   */
  timestamp(): unknown {
    const buf = this.buf;
    const s = this.p;
    if (buf[s] !== 34) return this.value();
    const q = s + 1;
    // Digits at 0-3, 5-6, 8-9, 11-12, 14-15, 17-18; '-' at 4, 7; 'T' at 10; ':' at 13, 16 (a 0 sentinel fails every test).
    if (
      !(isDigit(buf[q]!) && isDigit(buf[q + 1]!) && isDigit(buf[q + 2]!) && isDigit(buf[q + 3]!) && buf[q + 4] === 45 &&
        isDigit(buf[q + 5]!) && isDigit(buf[q + 6]!) && buf[q + 7] === 45 && isDigit(buf[q + 8]!) && isDigit(buf[q + 9]!) &&
        buf[q + 10] === 84 && isDigit(buf[q + 11]!) && isDigit(buf[q + 12]!) && buf[q + 13] === 58 && isDigit(buf[q + 14]!) &&
        isDigit(buf[q + 15]!) && buf[q + 16] === 58 && isDigit(buf[q + 17]!) && isDigit(buf[q + 18]!))
    ) {
      return this.string();
    }
    let p = q + 19;
    let f = 0;
    let nd = 0;
    if (buf[p] === 46) {
      p++;
      let b = buf[p]!;
      while (b >= 48 && b <= 57) {
        f = f * 10 + (b - 48);
        nd++;
        b = buf[++p]!;
      }
      if (nd === 0 || nd > 9) return this.string();
    }
    if (buf[p] !== 90 || buf[p + 1] !== 34) return this.string();
    const prefix = this.isoPrefix;
    let same = true;
    for (let i = 0; i < 19; i++) {
      if (prefix[i] !== buf[q + i]) {
        same = false;
        break;
      }
    }
    if (!same) {
      const base = Date.parse(`${buf.latin1Slice(q, q + 19)}Z`);
      if (!Number.isFinite(base)) return this.string();
      buf.copy(prefix, 0, q, q + 19);
      this.isoBase = base;
    }
    this.p = p + 2;
    // IsoParser: base + Number(`0.${digits}`) * 1000; f / 10^nd is that same correctly rounded double.
    return nd === 0 ? this.isoBase : this.isoBase + (f / POW10[nd]!) * 1000;
  }
}

function isDigit(b: number): boolean {
  return b >= 48 && b <= 57;
}

function sameBytes(buf: Buffer, s: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (buf[s + i] !== want[i]) return false;
  return true;
}
