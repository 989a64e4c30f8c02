/**
 * The processing rows of the JSON and CSV exports written straight from the
 * store's columns (a record's physical slot in the store's view), without a
 * record object per record: the byte fragments of an operation name and of
 * an interned job id, stage or error message are cached per operation id and
 * per string id (checked against the name or string the id holds now, as a
 * string id is reused once its last record is gone).
 *
 * The store's record iterator calls `read` for each record in order, and
 * also, between two steps of the export, for records it must read out before
 * the ring drops them (./../../store/ring.ts spill): those must come back as
 * record objects. So `read` writes bytes only while `direct` is set, which
 * the export loop sets around its synchronous stretches (no record can be
 * added or dropped while they run) and clears while it awaits a write; what
 * it yields then is `true` for a row already written, or a record object for
 * the loop to write with writeProcessingJson / writeProcessingCsv. The rows
 * are the same bytes either way (test/exporters/byte-writers.test.ts).
 */
import type { ProcessingTimeMetric } from '../../schema/processing.js';
import type { ProcessingView } from '../../store/processing.js';
import { processingRecordAt } from '../../store/records.js';
import type { ByteSink } from './byte-sink.js';
import {
  COMMA,
  CSV_FALSE,
  CSV_OK_TAIL_BYTES,
  CSV_TRUE,
  EMPTY,
  JOB_NULL,
  JSON_OK_TAIL_BYTES,
  NULL_BYTES,
  PHOTO_KEY,
  RECORD_FIXED_BYTES,
  STAGE_NULL,
  SUCCESS_FALSE,
  SUCCESS_TRUE,
  csvNumBytes,
  jsonNumBytes,
  writeProcessingCsv,
  writeProcessingJson,
  type ProcessingBytes,
} from './record-text.js';
import type { ByteFragments } from './byte-sink.js';

const SEPARATOR = Buffer.from(',\n', 'latin1');

/**
 * Byte fragments by id: the fragment of the key an id held when it was
 * cached, kept while the id holds that key. Only fragments the
 * ByteFragments keeps anyway (its first 65,536 keys) are cached, so this
 * holds no byte more than it does.
 */
class ById {
  private keys: Array<string | undefined> = [];
  private values: Buffer[] = [];
  constructor(private readonly fragments: ByteFragments) {}
  get(id: number, key: string): Buffer {
    if (this.keys[id] === key) return this.values[id]!;
    const f = this.fragments.get(key);
    if (this.fragments.holds(key)) {
      this.keys[id] = key;
      this.values[id] = f;
    }
    return f;
  }
}

/** The processing rows of one export (JSON array elements or CSV rows), at most `limit`. */
export class ProcessingRows {
  /** Set by the export loop while `read` may write (see the file comment). */
  direct = false;
  /** Rows written so far. */
  count = 0;
  /** The sink rows go to (set once the file is open; `read` writes nothing before, as `direct` is not set). */
  o: ByteSink | null = null;
  private readonly ops: ById;
  private readonly jobs: ById;
  private readonly stages: ById;
  private readonly errors: ById;

  constructor(
    private readonly format: 'json' | 'csv',
    private readonly t: ProcessingBytes,
    private readonly limit: number,
  ) {
    const json = format === 'json';
    this.ops = new ById(json ? t.jsonOps : t.csvOps);
    this.jobs = new ById(json ? t.jsonJob : t.csvJob);
    this.stages = new ById(json ? t.jsonStage : t.csvStage);
    this.errors = new ById(json ? t.js : t.cs);
  }

  /** For the store's iterator: writes the row of slot p (`true`), or returns its record object while not direct; null past the limit. */
  readonly read = (v: ProcessingView, p: number): ProcessingTimeMetric | true | null => {
    if (!this.direct) return processingRecordAt(v, p);
    if (this.count >= this.limit) return null;
    if (this.format === 'json') this.jsonSlot(v, p);
    else this.csvSlot(v, p);
    return true;
  };

  /** Writes a record object's row (one the iterator read out while not direct). */
  record(r: ProcessingTimeMetric): void {
    if (this.count >= this.limit) return;
    if (this.format === 'json') {
      this.separator();
      writeProcessingJson(r, this.t, this.o!);
    } else {
      this.count++;
      writeProcessingCsv(r, this.t, this.o!);
    }
  }

  /** `\n` before the first JSON row, `,\n` before the others. */
  private separator(): void {
    const o = this.o!;
    o.ensure(2);
    if (this.count++ === 0) o.buf[o.pos++] = 10;
    else o.put(SEPARATOR);
  }

  private jsonSlot(v: ProcessingView, p: number): void {
    this.separator();
    const o = this.o!;
    const t = this.t;
    const opId = v.op[p]!;
    const op = this.ops.get(opId, v.aggregates[opId]!.name);
    const photo = v.photo[p]!;
    const ok = v.ok[p] === 1;
    const jobId = v.job[p]!;
    const stageId = v.stage[p]!;
    const errId = v.err[p]!;
    const table = v.table;
    const jobS = jobId === 0 ? null : table.get(jobId);
    const stageS = stageId === 0 ? null : table.get(stageId);
    const errS = errId === 0 ? null : table.get(errId);
    if (ok && photo !== photo && jobS === null && stageS === null && errS === null) {
      o.ensure(RECORD_FIXED_BYTES + op.length);
      t.isoJson.write(v.ts[p]!, o);
      o.put(op);
      jsonNumBytes(v.dur[p]!, o);
      o.put(JSON_OK_TAIL_BYTES);
      return;
    }
    const job = jobS === null ? JOB_NULL : this.jobs.get(jobId, jobS);
    const stage = stageS === null ? STAGE_NULL : this.stages.get(stageId, stageS);
    const err = errS === null ? NULL_BYTES : this.errors.get(errId, errS);
    o.ensure(RECORD_FIXED_BYTES + op.length + job.length + stage.length + err.length);
    t.isoJson.write(v.ts[p]!, o);
    o.put(op);
    jsonNumBytes(v.dur[p]!, o);
    o.put(PHOTO_KEY);
    jsonNumBytes(photo === photo ? photo : null, o);
    o.put(job);
    o.put(stage);
    o.put(ok ? SUCCESS_TRUE : SUCCESS_FALSE);
    o.put(err);
    o.buf[o.pos++] = 125; // }
  }

  private csvSlot(v: ProcessingView, p: number): void {
    this.count++;
    const o = this.o!;
    const t = this.t;
    const opId = v.op[p]!;
    const op = this.ops.get(opId, v.aggregates[opId]!.name);
    const photo = v.photo[p]!;
    const ok = v.ok[p] === 1;
    const jobId = v.job[p]!;
    const stageId = v.stage[p]!;
    const errId = v.err[p]!;
    const table = v.table;
    const jobS = jobId === 0 ? null : table.get(jobId);
    const stageS = stageId === 0 ? null : table.get(stageId);
    const errS = errId === 0 ? null : table.get(errId);
    if (ok && photo !== photo && jobS === null && stageS === null && errS === null) {
      o.ensure(RECORD_FIXED_BYTES + op.length);
      t.iso.write(v.ts[p]!, o);
      o.put(op);
      csvNumBytes(v.dur[p]!, o);
      o.put(CSV_OK_TAIL_BYTES);
      return;
    }
    const job = jobS === null ? COMMA : this.jobs.get(jobId, jobS);
    const stage = stageS === null ? COMMA : this.stages.get(stageId, stageS);
    const err = errS === null ? EMPTY : this.errors.get(errId, errS);
    o.ensure(RECORD_FIXED_BYTES + op.length + job.length + stage.length + err.length);
    t.iso.write(v.ts[p]!, o);
    o.put(op);
    csvNumBytes(v.dur[p]!, o);
    o.buf[o.pos++] = 44; // ,
    csvNumBytes(photo === photo ? photo : null, o);
    o.put(job);
    o.put(stage);
    o.put(ok ? CSV_TRUE : CSV_FALSE);
    o.put(err);
    o.buf[o.pos++] = 13; // \r
    o.buf[o.pos++] = 10; // \n
  }
}

/**
 * Writes every row `rows` yields (from the store's iterator over
 * rows.read), flushing the sink as it fills; `direct` is set only while no
 * await is pending.
 */
export async function writeRows(rows: ProcessingRows, records: Iterable<ProcessingTimeMetric | true>, o: ByteSink): Promise<void> {
  rows.o = o;
  rows.direct = true;
  try {
    for (const r of records) {
      if (r !== true) rows.record(r);
      const p = o.maybeFlush();
      if (p) {
        rows.direct = false;
        await p;
        rows.direct = true;
      }
    }
  } finally {
    rows.direct = false;
  }
}
