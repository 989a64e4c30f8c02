/**
 * String interning with reference counts: the store keeps a small integer
 * per record instead of a string, and a string is forgotten when the last
 * record naming it leaves the history (so unique job ids or error messages
 * cannot grow the table without bound). Id 0 means null.
 *
 * What the table keeps is a flat copy of the caller's string, never the
 * caller's string itself. V8 represents `s.slice(a, b)` (13 characters or
 * more) as a SlicedString pointing into `s`, and `a + b` as a ConsString
 * pointing at both: keeping such a string keeps its whole source alive (a
 * 1,024-character cut of a 1 MB error message held the 1 MB). Strings of
 * fewer than 13 characters are never sliced or cons strings in V8, so they
 * are kept as they are. test/store/strings.test.ts proves it with heap
 * measurements.
 */

/** V8's SlicedString::kMinLength and ConsString::kMinLength: shorter strings are always flat copies. */
const MIN_INDIRECT_LENGTH = 13;

/**
 * A copy of `s` that does not retain what `s` points into: a ConsString of
 * its first character and the rest, flattened at once (reading a character
 * of a ConsString makes V8 copy both parts into one new sequential string
 * and drop them). About 0.1 us for short strings; used only when a string
 * enters a table.
 */
export function flatCopy(s: string): string {
  if (s.length < MIN_INDIRECT_LENGTH) return s;
  const t = s.charAt(0) + s.slice(1);
  t.charCodeAt(0); // flattens t: its parts (and whatever they point into) are dropped
  return t;
}

/**
 * The internalized (V8 string table) copy of `s`: flat, shared with every
 * equal string literal, so an identity compare against a caller's literal
 * succeeds. For names created rarely (operations): it costs 0.1-2 us.
 */
export function internalize(s: string): string {
  const o: Record<string, number> = { [s]: 0 };
  for (const k in o) return k;
  return flatCopy(s);
}

/** Cache slots of acquire(): one per column that interns, so alternating columns do not evict each other. */
export const SLOT_JOB = 0;
export const SLOT_STAGE = 1;
export const SLOT_ERROR = 2;

export class StringTable {
  private readonly ids = new Map<string, number>();
  private strings: Array<string | undefined> = [undefined];
  private refs: number[] = [0];
  private readonly free: number[] = [];
  /**
   * Per slot, the string last acquired through it and its id: a caller
   * passing the same string again (a job id for a batch of records) costs one
   * compare. A key is the caller's own string only when it is too short to
   * point into another one; otherwise the table's copy (the compare then
   * reads the characters).
   */
  private readonly cacheKeys: Array<string | null> = [null, null, null];
  private readonly cacheIds = new Int32Array(3);

  /** Id of `s` with one more reference; `slot` picks the one-entry cache (SLOT_*). */
  acquire(s: string, slot = SLOT_JOB): number {
    if (s === this.cacheKeys[slot]) {
      const id = this.cacheIds[slot]!;
      this.refs[id]++;
      return id;
    }
    let id = this.ids.get(s);
    if (id === undefined) id = this.insert(s);
    this.refs[id]++;
    this.cacheKeys[slot] = s.length < MIN_INDIRECT_LENGTH ? s : this.strings[id]!;
    this.cacheIds[slot] = id;
    return id;
  }

  private insert(s: string): number {
    const key = flatCopy(s);
    const id = this.free.length > 0 ? this.free.pop()! : this.strings.length;
    this.ids.set(key, id);
    this.strings[id] = key;
    this.refs[id] = 0;
    return id;
  }

  /** One more reference to a held id (a snapshot keeping a record the ring evicted). */
  retain(id: number): void {
    if (id !== 0) this.refs[id]++;
  }

  /** Drops one reference; forgets the string at zero. */
  release(id: number): void {
    if (id === 0) return;
    if (--this.refs[id] === 0) this.forget(id);
  }

  /** Drops n references at once (a run of records sharing the string). */
  releaseN(id: number, n: number): void {
    if (id === 0) return;
    if ((this.refs[id] -= n) === 0) this.forget(id);
  }

  private forget(id: number): void {
    this.ids.delete(this.strings[id]!);
    this.strings[id] = undefined;
    this.free.push(id);
    for (let k = 0; k < 3; k++) if (this.cacheIds[k] === id) this.cacheKeys[k] = null;
  }

  get(id: number): string | null {
    return id === 0 ? null : (this.strings[id] ?? null);
  }

  /** Id of `s` if interned, else -1 (no reference taken). */
  find(s: string): number {
    return this.ids.get(s) ?? -1;
  }

  /** Distinct strings held. */
  get size(): number {
    return this.ids.size;
  }

  clear(): void {
    this.ids.clear();
    this.strings = [undefined];
    this.refs = [0];
    this.free.length = 0;
    this.cacheKeys.fill(null);
  }
}
