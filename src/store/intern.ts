/**
 * String interning with reference counts: the store keeps a small integer
 * per record instead of a string, and a string is forgotten when the last
 * record naming it leaves the history (so unique job ids or error messages
 * cannot grow the table without bound). Id 0 means null.
 */
export class StringTable {
  private readonly ids = new Map<string, number>();
  private strings: Array<string | undefined> = [undefined];
  private refs: number[] = [0];
  private readonly free: number[] = [];

  /** Id of `s` with one more reference. */
  acquire(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.free.length > 0 ? this.free.pop()! : this.strings.length;
      this.ids.set(s, id);
      this.strings[id] = s;
      this.refs[id] = 0;
    }
    this.refs[id]++;
    return id;
  }

  /** Drops one reference; forgets the string at zero. */
  release(id: number): void {
    if (id === 0) return;
    if (--this.refs[id] === 0) {
      this.ids.delete(this.strings[id]!);
      this.strings[id] = undefined;
      this.free.push(id);
    }
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
  }
}
