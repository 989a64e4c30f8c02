/**
 * Functions compiled from a schema table. Where a record object or a line
 * of text is built per record (decoding a GPU block, reading a record out
 * of the store, writing JSON or CSV), a loop over the fields costs 20-30x a
 * hand-written object literal or concatenation (V8's keyed stores and
 * loads with changing keys), so the layers above generate the
 * straight-line function from the table once, at load. The source is made
 * only from schema constants (keys must be plain identifiers, strings are
 * JSON-quoted), never from input.
 */

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `key` as a property name in generated code (throws unless a plain identifier). */
export function ident(key: string): string {
  if (!IDENTIFIER.test(key)) throw new Error(`schema key ${JSON.stringify(key)} is not a plain identifier`);
  return key;
}

/** A string constant in generated code. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * An object literal from [key, expression] pairs, in order. A dotted key
 * (`eccErrors.corrected`) nests: its expression becomes a property of an
 * object literal under the first part, placed where the group first appears.
 */
export function objectLiteral(entries: ReadonlyArray<readonly [string, string]>): string {
  const order: string[] = [];
  const flat = new Map<string, string>();
  const groups = new Map<string, Array<readonly [string, string]>>();
  for (const [key, expr] of entries) {
    const dot = key.indexOf('.');
    if (dot < 0) {
      order.push(ident(key));
      flat.set(key, expr);
      continue;
    }
    const head = ident(key.slice(0, dot));
    let g = groups.get(head);
    if (!g) {
      groups.set(head, (g = []));
      order.push(head);
    }
    g.push([key.slice(dot + 1), expr]);
  }
  return `{ ${order.map((k) => `${k}: ${flat.has(k) ? flat.get(k)! : objectLiteral(groups.get(k)!)}`).join(', ')} }`;
}

/**
 * Compiles `function name(params) { body }` with `env`'s entries in scope
 * (helpers and constants the body uses).
 */
export function compile<F extends (...args: never[]) => unknown>(
  name: string,
  params: readonly string[],
  body: string,
  env: Readonly<Record<string, unknown>> = {},
): F {
  const names = Object.keys(env);
  for (const n of [name, ...names, ...params]) ident(n);
  const source = `return function ${name}(${params.join(', ')}) {\n${body}\n};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...names, source)(...names.map((n) => env[n])) as F;
}
