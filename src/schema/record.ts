/**
 * A record schema: one metric type's fields in record order, which is also
 * the JSON key order and the CSV column order. Every writer and reader of
 * that type (store columns, record objects, JSON and CSV export, import
 * validation) is built from it or checked against it
 * (test/schema/writers-follow-schema.test.ts).
 */
import { typeError } from '../errors.js';
import { compile, ident, quote } from './compile.js';
import { MAX_OPERATION_LENGTH, checkField, fitsExpression, type FieldSpec } from './field.js';

export type MetricType = 'processing' | 'memory' | 'gpu';
export const METRIC_TYPES: readonly MetricType[] = ['processing', 'memory', 'gpu'];

export interface RecordSchema<R extends object = Record<string, unknown>> {
  readonly type: MetricType;
  /** Key of this type's array in a JSON export, e.g. 'processing_metrics'. */
  readonly arrayKey: string;
  /** In record order (= JSON key order = CSV column order). */
  readonly fields: readonly FieldSpec<keyof R & string>[];
}

/**
 * A memory or GPU schema: `timestamp`, then one float64 store column per
 * entry of `columns` (NaN = null), then the `operation` label.
 */
export interface SampleSchema<R extends object = Record<string, unknown>, C extends string = string> extends RecordSchema<R> {
  readonly columns: readonly FieldSpec<C>[];
  /** Column index of each column key (the store's `values[i]`). */
  readonly column: { readonly [K in C]: number };
}

type Missing<R, F extends readonly FieldSpec[]> = Exclude<keyof R, F[number]['key']>;
type Complete<R, F extends readonly FieldSpec[]> = [Missing<R, F>] extends [never] ? unknown : { missingFields: Missing<R, F> };

/** A record schema whose fields must name every key of R (a compile error lists the missing ones). */
export function recordSchema<R extends object>() {
  return <const F extends readonly FieldSpec<keyof R & string>[]>(type: MetricType, arrayKey: string, fields: F & Complete<R, F>): RecordSchema<R> =>
    Object.freeze({ type, arrayKey, fields: Object.freeze([...fields]) });
}

/** A sample schema: timestamp, columns, operation. */
export function sampleSchema<R extends object>() {
  return <const F extends readonly FieldSpec<keyof R & string>[]>(
    type: MetricType,
    arrayKey: string,
    fields: F & Complete<R, F>,
  ): SampleSchema<R, Exclude<F[number]['key'], 'timestamp' | 'operation'>> => {
    const all = [...fields];
    if (all[0]?.key !== 'timestamp' || all[all.length - 1]?.key !== 'operation') {
      throw new Error(`${type} schema: fields must start with timestamp and end with operation`);
    }
    const columns = all.slice(1, -1);
    for (const c of columns) {
      if (c.kind !== 'number' && c.kind !== 'id') throw new Error(`${type} schema: column ${c.key} must be a number or id (a float64 column)`);
    }
    const column = Object.fromEntries(columns.map((c, i) => [c.key, i]));
    return Object.freeze({ type, arrayKey, fields: Object.freeze(all), columns: Object.freeze(columns), column: Object.freeze(column) }) as never;
  };
}

/**
 * Throws a TypeError/RangeError unless `r` is a record of `schema`: every
 * field checked by its kind, in schema order. Errors name the field as
 * `${where}.${key}` (names 'key': importRecords) or `${where}.${snake}`
 * (names 'snake': a JSON export). Compiled per schema (the test of each
 * field inlined, named property loads): a good record costs a few
 * comparisons and allocates nothing.
 */
export function checkRecord(
  schema: { readonly fields: readonly FieldSpec[] },
  r: unknown,
  where: string,
  names: 'key' | 'snake',
  notObject = 'a record object',
): void {
  if (r === null || typeof r !== 'object') throw typeError(where, notObject, r);
  let byName = checkers.get(schema.fields);
  if (!byName) checkers.set(schema.fields, (byName = { key: compileCheck(schema.fields, 'key'), snake: compileCheck(schema.fields, 'snake') }));
  byName[names](r, where);
}

type Check = (r: unknown, where: string) => void;
const checkers = new WeakMap<readonly FieldSpec[], { key: Check; snake: Check }>();

function compileCheck(fields: readonly FieldSpec[], names: 'key' | 'snake'): Check {
  const body = fields
    .map((f, i) => {
      const v = `r.${ident(f.key)}`;
      const name = quote(`.${names === 'key' ? f.key : f.snake}`);
      return `if (!${fitsExpression(f, v)}) checkField(F[${i}], ${v}, where + ${name});`;
    })
    .join('\n');
  return compile('checkRecord', ['r', 'where'], body, { F: fields, checkField, MAX_OPERATION_LENGTH });
}
