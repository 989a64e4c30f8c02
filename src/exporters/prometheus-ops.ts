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
import { type ByteSink } from './files/byte-sink.js';
import { escapeLabelValue, formatValue } from './prometheus-text.js';

const H = 'perfprobe_operation_duration_seconds';
const F = 'perfprobe_operation_failures';
/** Bytes of a line besides its cached fragments: a value's digits (a double's String() is at most 24) and the newline. */
const VALUE_BYTES = 32;

/** One operation's series names with its label, as bytes. */
interface OpFragments {
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

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The per-operation and per-bound byte fragments, kept across scrapes (one per exporter). */
export class OperationFragments {
  private readonly ops = new Map<string, OpFragments>();
  private le: { bounds: readonly number[]; bytes: Buffer[] } | null = null;

  /** The fragments of `op`, made once for the first 100,000 operations. */
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
      f = { bucket, sum, count, failures, longest, ascii: bucket.length === bucketText.length };
      if (this.ops.size < 100_000) this.ops.set(op, f);
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

/** A number as Prometheus writes it (no room check). */
function value(n: number, o: ByteSink): void {
  if (n >= 0 && Number.isSafeInteger(n)) o.uint(n);
  else o.ascii(formatValue(n));
}

const enum Phase {
  HistogramHead,
  Histogram,
  FailuresHead,
  Failures,
  Done,
}

/** The operation families of one snapshot, written a slice at a time. */
export class OperationText {
  private phase = Phase.HistogramHead;
  /** Every byte written so far is ASCII (the text may be read as latin1, a plain copy, instead of decoded as UTF-8). */
  ascii = true;
  private i = 0;
  private readonly le: Buffer[];
  /** Each operation's fragments, looked up in the first pass, reused in the second. */
  private readonly opFrags: OpFragments[] = [];

  constructor(
    private readonly frags: OperationFragments,
    private readonly stats: CumulativeOperationStats,
    private readonly openMetrics: boolean,
  ) {
    this.le = frags.les(stats.boundsMs);
  }

  /** Writes on until `out` holds `sliceBytes` or more, or all is written; true when all is written. */
  write(out: ByteSink, sliceBytes = Infinity): boolean {
    const ops = this.stats.operations;
    const le = this.le;
    const nb = this.stats.boundsMs.length;
    let maxLe = 0;
    for (const b of le) maxLe = Math.max(maxLe, b.length);
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
            const op = ops[this.i]!;
            const f = this.frags.op(op.operation);
            this.opFrags[this.i++] = f;
            if (!f.ascii) this.ascii = false;
            out.ensure((nb + 3) * (f.longest + maxLe + VALUE_BYTES));
            const counts = op.bucketCounts;
            const bucket = f.bucket;
            for (let j = 0; j < nb; j++) {
              out.put(bucket);
              out.put(le[j]!);
              value(counts[j] ?? op.count, out);
              out.buf[out.pos++] = 10;
            }
            out.put(bucket);
            out.put(le[nb]!);
            value(op.count, out);
            out.buf[out.pos++] = 10;
            out.put(f.sum);
            out.ascii(formatValue(op.sumMs / 1000));
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
            out.put(f.failures);
            value(op.failureCount, out);
            out.buf[out.pos++] = 10;
          }
          this.phase = Phase.Done;
          return true;
        default:
          return true;
      }
    }
  }
}
