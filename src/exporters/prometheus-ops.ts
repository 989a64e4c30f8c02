/**
 * The operation families of a scrape (the duration histogram and the
 * failure counter), written as bytes: 22 lines per operation, so 10,000
 * operations are ~220,000 lines and ~18 MB. Built by string concatenation
 * that cost 340-610 ms and mostly GC; here each line is a few copies of
 * cached byte fragments (per operation: the series name with its label; per
 * bound: the `le` label) and the digits of its value, put into a ByteSink.
 *
 * OperationText walks the families a slice at a time (write() stops once
 * the sink holds `sliceBytes`), so a stream can hand each slice to the
 * socket and let the event loop run between slices; render() runs it to the
 * end into one buffer.
 */
import type { CumulativeOperationStats } from '../types.js';
import { type ByteSink, writeDigits } from './files/byte-sink.js';
import { writeNumber } from './files/number-text.js';
import { escapeLabelValue, formatValue } from './prometheus-text.js';

const H = 'perfprobe_operation_duration_seconds';
const F = 'perfprobe_operation_failures';
/** Bytes of a line besides its cached fragments: a value's digits (a double's String() is at most 24) and the newline. */
const VALUE_BYTES = 32;

/** One operation's series names with its label, as bytes. */
interface OpFragments {
  /** The operation. */
  name: string;
  /** `..._bucket{operation="x"` (an `le` fragment follows). */
  bucket: Buffer;
  /** `..._sum{operation="x"} `. */
  sum: Buffer;
  /** `..._count{operation="x"} `. */
  count: Buffer;
  /** `perfprobe_operation_failures_total{operation="x"} `. */
  failures: Buffer;
  /** The longest of the four. */
  longest: number;
  /** The operation name is ASCII (so are the fragments). */
  ascii: boolean;
}

/** Operations whose fragments are kept (beyond it they are made per scrape). */
const MAX_CACHED = 100_000;

/** Bytes as little-endian 32-bit words, the last zero-padded. */
function words(b: Buffer): Uint32Array {
  const w = new Uint32Array(Math.ceil(b.length / 4));
  new Uint8Array(w.buffer).set(b);
  return w;
}

const NO_VIEW = new DataView(new ArrayBuffer(0));

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The per-operation and per-bound byte fragments, kept across scrapes (one per exporter). */
export class OperationFragments {
  private readonly ops = new Map<string, OpFragments>();
  private readonly byIndex: OpFragments[] = [];
  private le: { bounds: readonly number[]; bytes: Buffer[] } | null = null;

  /**
   * The fragments of the operation at index i of a snapshot: those found at
   * i last time when it is the same operation (a snapshot lists operations
   * in the same order scrape after scrape: one string comparison, no hash
   * lookup), else by name.
   */
  at(i: number, op: string): OpFragments {
    const f = this.byIndex[i];
    if (f !== undefined && f.name === op) return f;
    const found = this.op(op);
    if (i < MAX_CACHED) this.byIndex[i] = found;
    return found;
  }

  /** The fragments of `op`, made once for the first MAX_CACHED operations. */
  op(op: string): OpFragments {
    let f = this.ops.get(op);
    if (f === undefined) {
      const lab = `operation="${escapeLabelValue(op)}"`;
      const bucketText = `${H}_bucket{${lab}`;
      const bucket = Buffer.from(bucketText, 'utf8');
      const sum = Buffer.from(`${H}_sum{${lab}} `, 'utf8');
      const count = Buffer.from(`${H}_count{${lab}} `, 'utf8');
      const failures = Buffer.from(`${F}_total{${lab}} `, 'utf8');
      const longest = Math.max(bucket.length, sum.length, count.length, failures.length);
      f = { name: op, bucket, sum, count, failures, longest, ascii: bucket.length === bucketText.length };
      if (this.ops.size < MAX_CACHED) this.ops.set(op, f);
    }
    return f;
  }

  /** `,le="<bound in seconds>"} ` per bound, then `,le="+Inf"} `. */
  les(bounds: readonly number[]): Buffer[] {
    const c = this.le;
    if (c && (c.bounds === bounds || (c.bounds.length === bounds.length && c.bounds.every((b, i) => b === bounds[i])))) return c.bytes;
    const bytes = bounds.map((b) => latin1(`,le="${formatValue(b / 1000)}"} `));
    bytes.push(latin1(',le="+Inf"} '));
    this.le = { bounds, bytes };
    return bytes;
  }
}

/**
 * Writes a number as Prometheus does into out's buffer at pos (no room
 * check): the digits of a count, else its shortest round-trip text, else
 * +Inf/-Inf/NaN. Returns the position after it.
 */
function valueAt(out: ByteSink, buf: Buffer, pos: number, n: number): number {
  if (n >= 0 && n <= 0x7fffffff && (n | 0) === n) return writeDigits(buf, pos, n);
  out.pos = pos;
  if (Number.isFinite(n)) writeNumber(n, out);
  else out.ascii(formatValue(n));
  return out.pos;
}

/** valueAt() at out's position. */
function value(n: number, o: ByteSink): void {
  o.pos = valueAt(o, o.buf, o.pos, n);
}

const enum Phase {
  HistogramHead,
  Histogram,
  FailuresHead,
  Failures,
  Done,
}

const NO_STATS: CumulativeOperationStats = { boundsMs: [], operations: [] };

/**
 * The operation families of a snapshot, written a slice at a time: begin()
 * with the snapshot's figures, write() until it returns true, end(). One is
 * reused scrape after scrape (see ScrapeWriter in ./prometheus.ts).
 */
export class OperationText {
  private phase = Phase.Done;
  /** Every byte written so far is ASCII (the text may be read as latin1, a plain copy, instead of decoded as UTF-8). */
  ascii = true;
  private i = 0;
  private stats = NO_STATS;
  private openMetrics = false;
  private le: Buffer[] = [];
  private leBytes: number[] = [];
  /** The le fragments as little-endian 32-bit words, zero-padded: written a word at a time. */
  private leWords: Uint32Array[] = [];
  /** Room one le fragment may take: its bytes and up to 3 of padding. */
  private maxLe = 0;
  /** Each operation's fragments, looked up in the first pass, reused in the second. */
  private readonly opFrags: OpFragments[] = [];

  constructor(private readonly frags: OperationFragments) {}

  /** Starts the text of `stats`. */
  begin(stats: CumulativeOperationStats, openMetrics: boolean): this {
    this.stats = stats;
    this.openMetrics = openMetrics;
    this.phase = Phase.HistogramHead;
    this.i = 0;
    this.ascii = true;
    const le = this.frags.les(stats.boundsMs);
    if (le !== this.le) {
      this.le = le;
      this.leBytes = le.map((b) => b.length);
      this.leWords = le.map(words);
      // The longest le fragment and the padding of its last word (written whole).
      this.maxLe = Math.max(0, ...this.leBytes) + 3;
    }
    this.opFrags.length = stats.operations.length;
    return this;
  }

  /** Lets go of the snapshot (kept until the next begin() otherwise). */
  end(): void {
    this.stats = NO_STATS;
    this.phase = Phase.Done;
  }

  /** Writes on until `out` holds `sliceBytes` or more, or all is written; true when all is written. */
  write(out: ByteSink, sliceBytes = Infinity): boolean {
    const ops = this.stats.operations;
    const nb = this.stats.boundsMs.length;
    const maxLe = this.maxLe;
    const leWords = this.leWords;
    const leBytes = this.leBytes;
    let view: DataView<ArrayBufferLike> = NO_VIEW;
    let viewOf: Buffer | null = null;
    for (;;) {
      switch (this.phase) {
        case Phase.HistogramHead:
          out.text(`# HELP ${H} Duration of recorded operations in seconds.\n# TYPE ${H} histogram\n`);
          if (this.openMetrics) out.text(`# UNIT ${H} seconds\n`);
          this.phase = Phase.Histogram;
          break;
        case Phase.Histogram:
          while (this.i < ops.length) {
            if (out.pos >= sliceBytes) return false;
            const i = this.i++;
            const op = ops[i]!;
            const f = this.frags.at(i, op.operation);
            this.opFrags[i] = f;
            if (!f.ascii) this.ascii = false;
            out.ensure((nb + 3) * (f.longest + maxLe + VALUE_BYTES));
            // The bucket lines, ~85 % of the text: the buffer and position in locals, the counts' digits written in place.
            const counts = op.bucketCounts;
            const bucket = f.bucket;
            const buf = out.buf;
            if (viewOf !== buf) {
              view = new DataView(buf.buffer, buf.byteOffset, buf.length);
              viewOf = buf;
            }
            let pos = out.pos;
            for (let j = 0; j <= nb; j++) {
              buf.set(bucket, pos);
              pos += bucket.length;
              // The le fragment as 32-bit words (its padding past the end is overwritten by the digits and newline).
              const w = leWords[j]!;
              for (let k = 0; k < w.length; k++) view.setUint32(pos + 4 * k, w[k]!, true);
              pos += leBytes[j]!;
              pos = valueAt(out, buf, pos, j < nb ? (counts[j] ?? op.count) : op.count);
              buf[pos++] = 10;
            }
            out.pos = pos;
            out.put(f.sum);
            value(op.sumMs / 1000, out);
            out.buf[out.pos++] = 10;
            out.put(f.count);
            value(op.count, out);
            out.buf[out.pos++] = 10;
          }
          this.phase = Phase.FailuresHead;
          this.i = 0;
          break;
        case Phase.FailuresHead:
          out.text(
            this.openMetrics
              ? `# HELP ${F} Operations recorded as failed.\n# TYPE ${F} counter\n`
              : `# HELP ${F}_total Operations recorded as failed.\n# TYPE ${F}_total counter\n`,
          );
          this.phase = Phase.Failures;
          break;
        case Phase.Failures:
          while (this.i < ops.length) {
            if (out.pos >= sliceBytes) return false;
            const op = ops[this.i]!;
            const f = this.opFrags[this.i++]!;
            out.ensure(f.failures.length + VALUE_BYTES);
            const buf = out.buf;
            let pos = out.pos;
            buf.set(f.failures, pos);
            pos += f.failures.length;
            pos = valueAt(out, buf, pos, op.failureCount);
            buf[pos] = 10;
            out.pos = pos + 1;
          }
          this.phase = Phase.Done;
          return true;
        default:
          return true;
      }
    }
  }
}
