/**
 * Text written as bytes, for the million-record exports: the writers put
 * cached byte fragments (keys, operation names, escaped strings, timestamp
 * prefixes) and digits straight into a Buffer, so a record costs a few
 * copies instead of a string built by concatenation, flattened and encoded
 * again (the string writers in ./record-text.ts stay, as the reference the
 * tests compare these with byte for byte).
 *
 * ByteSink double-buffers: one filled buffer is being written while the
 * writer fills the other (at most two buffers of FLUSH_BYTES and one record
 * held), and flush() makes the writer wait when the previous write has not
 * finished (backpressure).
 */

/**
 * A buffer is handed to the file once it holds this many bytes: 1 MiB (188
 * writes for a 1M-record JSON export instead of 750 at 256 KiB; each
 * write costs the main thread ~50-150 us to dispatch on this 2-core
 * machine: 1M-record JSON export CPU -10 %, CSV wall -17 %, measured
 * interleaved in one process), for at most ~2 MiB held.
 */
export const FLUSH_BYTES = 1 << 20;

/**
 * Writes the decimal digits of n (0 <= n < 2^31) into buf at pos, no room
 * check; returns the position after them. Int32 arithmetic (a division by a
 * constant the JIT turns into a multiply), no Math.floor.
 */
export function writeDigits(buf: Uint8Array, pos: number, n: number): number {
  let x = n | 0;
  const count = x < 10 ? 1 : x < 100 ? 2 : x < 1000 ? 3 : x < 10000 ? 4 : x < 100000 ? 5 : x < 1000000 ? 6 : x < 10000000 ? 7 : x < 100000000 ? 8 : x < 1000000000 ? 9 : 10;
  let p = pos + count;
  while (x >= 10) {
    const q = (x / 10) | 0;
    buf[--p] = 48 + x - q * 10;
    x = q;
  }
  buf[--p] = 48 + x;
  return pos + count;
}

export class ByteSink {
  buf: Buffer;
  pos = 0;
  /** The second buffer, made at the first flush. */
  private spare: Buffer | null = null;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly write: (chunk: Uint8Array) => Promise<void>,
    private readonly size = FLUSH_BYTES + (1 << 14),
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** The bytes written so far, handed over (the caller owns them); the sink goes on in `next` (at least the sink's size), else a fresh buffer. */
  take(next?: Buffer): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = next !== undefined && next.length >= this.size ? next : Buffer.allocUnsafe(this.size);
    this.pos = 0;
    return out;
  }

  /** Puts `buf` in as the buffer, empty, and returns the one it had (render() lends a pooled sink a buffer for the whole text). */
  swap(buf: Buffer): Buffer {
    const old = this.buf;
    this.buf = buf;
    this.pos = 0;
    return old;
  }

  /** Room for n more bytes (grows the buffer: one record may be long). */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(bigger, 0, 0, this.pos);
      this.buf = bigger;
    }
  }

  /** Bytes (no room check: call ensure first). */
  put(b: Uint8Array): void {
    const n = b.length;
    const buf = this.buf;
    let pos = this.pos;
    if (n <= 24) for (let i = 0; i < n; i++) buf[pos++] = b[i]!;
    else {
      buf.set(b, pos);
      pos += n;
    }
    this.pos = pos;
  }

  /** A string of code units < 0x80 (numbers, ISO-8601 text), no room check. */
  ascii(s: string): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** Any string as UTF-8 (room checked: a UTF-16 code unit is at most 3 bytes). */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A non-negative safe integer's decimal digits, no room check. */
  uint(n: number): void {
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = 48 + n;
      return;
    }
    if (n <= 0x7fffffff) {
      this.pos = writeDigits(buf, this.pos, n);
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let pos = this.pos + digits;
    this.pos = pos;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      buf[--pos] = 48 + (n - q * 10);
      n = q;
    }
    buf[--pos] = 48 + n;
  }

  /** n (0 <= n < 2^31) written with exactly `width` digits (leading zeros), no room check. */
  fixed(n: number, width: number): void {
    const buf = this.buf;
    let pos = this.pos + width;
    this.pos = pos;
    let x = n | 0;
    for (let i = 0; i < width; i++) {
      const q = (x / 10) | 0;
      buf[--pos] = 48 + x - q * 10;
      x = q;
    }
  }

  /** Hands what the buffer holds to the file; resolves once the write before it has finished. */
  flush(): Promise<void> {
    if (this.pos === 0) return this.inflight ?? Promise.resolve();
    const full = this.buf.subarray(0, this.pos);
    const prev = this.inflight;
    // The next buffer: the spare, free once the previous write (which used it) is done.
    const next = this.spare ?? Buffer.allocUnsafe(this.size);
    this.spare = this.buf;
    this.buf = next;
    this.pos = 0;
    const done = prev ? prev.then(() => this.write(full)) : this.write(full);
    done.catch(() => undefined); // observed by the next flush() or end()
    this.inflight = done;
    return prev ?? Promise.resolve();
  }

  /** Flushes when the buffer holds FLUSH_BYTES or more: a promise to await then, else undefined. */
  maybeFlush(): Promise<void> | undefined {
    return this.pos >= FLUSH_BYTES ? this.flush() : undefined;
  }

  async end(): Promise<void> {
    await this.flush();
    if (this.inflight) await this.inflight;
  }
}

/** Per-key byte fragments, made once for the first 65,536 distinct keys; the last key asked is checked first (a job id repeats for a batch of records). */
export class ByteFragments {
  private map = new Map<string, Buffer>();
  private lastKey: string | null = null;
  private lastValue: Buffer = Buffer.alloc(0);
  constructor(private readonly make: (key: string) => string) {}
  get(key: string): Buffer {
    if (key === this.lastKey) return this.lastValue;
    let f = this.map.get(key);
    if (f === undefined) {
      f = Buffer.from(this.make(key), 'utf8');
      if (this.map.size < 65536) this.map.set(key, f);
    }
    this.lastKey = key;
    this.lastValue = f;
    return f;
  }
  /** Whether the fragment of `key` is kept (one of the first 65,536 keys). */
  holds(key: string): boolean {
    return this.map.has(key);
  }
}
