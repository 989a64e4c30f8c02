/**
 * Text codecs of the file formats, one value at a time: ISO-8601
 * timestamps (written with microseconds, parsed back), JSON strings and
 * numbers, CSV cells (neutralised against formula injection, quoted per
 * RFC 4180) and CSV numbers, and the file-name stamp. Every writer and
 * reader of src/exporters/files and `perfprobe run` / `compare` use these.
 */
import { rangeError, typeError } from '../../errors.js';

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** YYYYMMDD_HHMMSS in local time, as the seed's datetime.now().strftime. */
export function fileStamp(date: Date = new Date()): string {
  return (
    `${date.getFullYear()}${pad2(date.getMonth() + 1)}${pad2(date.getDate())}_` +
    `${pad2(date.getHours())}${pad2(date.getMinutes())}${pad2(date.getSeconds())}`
  );
}

/**
 * ISO-8601 UTC with microseconds, e.g. 2026-11-27T16:00:00.123456Z. The
 * "YYYY-MM-DDTHH:MM:SS" prefix is cached per second, so a run of records
 * costs one toISOString per distinct second.
 */
export class IsoFormatter {
  private sec = NaN;
  private prefix = '';
  format(ms: number): string {
    let sec = Math.floor(ms / 1000);
    let micros = Math.round((ms - sec * 1000) * 1000);
    if (micros >= 1_000_000) {
      sec += 1;
      micros -= 1_000_000;
    }
    if (sec !== this.sec) {
      this.sec = sec;
      this.prefix = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return `${this.prefix}.${String(micros).padStart(6, '0')}Z`;
  }
}

/** Parses what IsoFormatter writes (and any ISO-8601 string Date.parse accepts, and epoch-ms numbers). */
export class IsoParser {
  private prefix = '';
  private base = NaN;
  parse(field: string, value: unknown): number {
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value !== 'string') throw typeError(field, 'an ISO-8601 timestamp string', value);
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(value);
    if (m && m[3] === 'Z') {
      if (m[1] !== this.prefix) {
        this.prefix = m[1]!;
        this.base = Date.parse(`${m[1]}Z`);
      }
      if (!Number.isFinite(this.base)) throw rangeError(field, 'a valid ISO-8601 timestamp', value);
      const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
      return this.base + frac;
    }
    const t = Date.parse(value);
    if (!Number.isFinite(t)) throw rangeError(field, 'a valid ISO-8601 timestamp', value);
    return t;
  }
}

/** A string encoder whose null is `nullText`, cached per string (operation names, job ids and stages repeat). */
class StringCache {
  private readonly cache: Fragments;
  constructor(
    encode: (s: string) => string,
    private readonly nullText: string,
  ) {
    this.cache = new Fragments(encode);
  }
  str(s: string | null | undefined): string {
    return s == null ? this.nullText : this.cache.get(s);
  }
}

/** JSON text of a string (null: `null`), cached. */
export class JsonStrings extends StringCache {
  constructor() {
    super(JSON.stringify, 'null');
  }
}

/** A JSON number: the shortest round-trip form; null for null and non-finite. */
export function jsonNum(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? String(n) : 'null';
}

/**
 * One CSV cell for a string: neutralised against spreadsheet formula
 * injection (a leading = + - @ tab or CR gets a ' in front, as OWASP
 * advises), then quoted per RFC 4180 when it holds a comma, quote, CR or LF
 * or was neutralised. Numbers are written by csvNum() and never touched.
 */
export function csvText(s: string | null | undefined): string {
  if (s == null) return '';
  if (s.length === 0) return '';
  const c = s.charCodeAt(0);
  let neutral = false;
  // = + - @ \t \r
  if (c === 61 || c === 43 || c === 45 || c === 64 || c === 9 || c === 13) {
    s = `'${s}`;
    neutral = true;
  }
  if (neutral || /[",\r\n]/.test(s)) return `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** CSV cell of a string (csvText; null: empty), cached. */
export class CsvStrings extends StringCache {
  constructor() {
    super(csvText, '');
  }
}

/**
 * A CSV number: at most 6 decimals (1 ns for durations in ms, about 1 byte
 * for MiB), trailing zeros dropped; integers as they are. Spreadsheets keep
 * 15 significant digits anyway, and this is 2-3x cheaper than the shortest
 * round-trip form String() builds (the JSON export keeps that, for import).
 */
export function csvNum(n: number | null | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  if (Number.isInteger(n)) return String(n);
  const scaled = Math.round(n * 1e6);
  if (!Number.isSafeInteger(scaled)) return String(n);
  const neg = scaled < 0;
  const m = neg ? -scaled : scaled;
  const ip = Math.floor(m / 1e6);
  let fp = m - ip * 1e6;
  if (fp === 0) return neg && ip !== 0 ? `-${ip}` : String(ip);
  let digits = 6;
  while (fp % 10 === 0) {
    fp /= 10;
    digits--;
  }
  return `${neg ? '-' : ''}${ip}.${String(fp).padStart(digits, '0')}`;
}

/** Per-key text fragments, made once for the first 65,536 distinct keys, so a record costs a few concatenations. */
export class Fragments {
  private map = new Map<string, string>();
  constructor(private readonly make: (key: string) => string) {}
  get(key: string): string {
    let f = this.map.get(key);
    if (f === undefined) {
      f = this.make(key);
      if (this.map.size < 65536) this.map.set(key, f);
    }
    return f;
  }
}
