/**
 * `perfprobe compare BASE.json CURRENT.json [--threshold 5%]`: per operation,
 * the p50 and p95 change and a verdict from a Mann-Whitney U test on the
 * stored durations combined with the threshold: a change is a regression
 * only when it is both statistically significant (p < alpha) and larger than
 * the threshold, so noise is not called a regression. The test is exact
 * (the distribution of U, counted) for tie-free samples under EXACT_MAX_SIZE
 * each, as R's wilcox.test does, and the tie-corrected normal approximation
 * otherwise. Percentiles are the project's nearest rank
 * (src/stats/percentile.ts). Exit 1 on a regression, 0 otherwise, 2 on bad
 * input (usage, a path that is missing, a directory or not permitted, a
 * file that is not valid JSON, a record that is not valid, named), 3 when
 * compare itself fails (a bug, or a read failing with EIO, EMFILE...): a
 * crash never looks like a regression nor like a bad file.
 */
import { readExportDocument, recordsOf } from '../exporters/files/reader.js';
import type { ProcessingTimeMetric } from '../types.js';
import { percentileOfSorted } from '../stats/percentile.js';
import { isArgumentError } from '../errors.js';
import { CliError, UsageError, parseCommandArgs } from './args.js';

export const COMPARE_HELP = `Usage: perfprobe compare BASE.json CURRENT.json [options]

Compares two JSON exports (exportToJson, POST /api/metrics/export/json) per
operation: p50 and p95 change and a verdict. A change is a regression or an
improvement only when a Mann-Whitney U test on the stored durations finds it
significant (p < alpha) AND the median moved by more than the threshold.
Two 'perfprobe run --json' files are compared by their wall time (durationMs)
against the threshold alone (one measurement each: no statistical test).
The test is exact for tie-free samples of fewer than 50 each, else the
normal approximation with the tie correction. p50 and p95 are nearest-rank
percentiles (the value of rank ceil(q x n)), as everywhere in perfprobe.

Exit status: 1 when any operation regressed, 0 otherwise; 2 on bad input (a
usage error, a missing file, a directory or no permission, a file that is not
a perfprobe file, a record that is not valid, named); 3 when compare itself
fails (an I/O error such as EIO while reading, or a bug).

Options:
  --threshold <percent>  smallest median change that counts (default 5%)
  --alpha <p>            significance level of the test (default 0.05)
  --json                 print the comparison as JSON instead of a table
  -h, --help             show this help
`;

export type Verdict = 'regression' | 'improvement' | 'no change' | 'added' | 'removed' | 'too few samples';

export interface OperationComparison {
  operation: string;
  baseCount: number;
  currentCount: number;
  baseP50Ms: number | null;
  currentP50Ms: number | null;
  p50ChangePercent: number | null;
  baseP95Ms: number | null;
  currentP95Ms: number | null;
  p95ChangePercent: number | null;
  pValue: number | null;
  verdict: Verdict;
}

/** Nearest-rank percentile of an ascending array (q in 0..1): src/stats/percentile.ts. */
export const percentile = percentileOfSorted;

/** Exact p-values are computed for tie-free samples smaller than this each (R's wilcox.test: 50). */
export const EXACT_MAX_SIZE = 50;

/**
 * The null distribution of U for sizes n1, n2 without ties: counts[u] is how
 * many of the C(n1 + n2, n1) orderings have U = u (U: the pairs in which the
 * first sample's value is the larger), exact in BigInt. By the largest value:
 * f(m, n, u) = f(m - 1, n, u - n) (it is the first sample's, above all n)
 * + f(m, n - 1, u) (it is the second's).
 */
export function exactUCounts(n1: number, n2: number): bigint[] {
  // prev[m] = f(m, n - 1, .), cur[m] = f(m, n, .); f(m, 0, .) = [1].
  let prev: bigint[][] = Array.from({ length: n1 + 1 }, () => [1n]);
  for (let n = 1; n <= n2; n++) {
    const cur: bigint[][] = [];
    for (let m = 0; m <= n1; m++) {
      const row = new Array<bigint>(m * n + 1).fill(0n);
      const below = prev[m]!;
      for (let u = 0; u < below.length; u++) row[u] = below[u]!;
      if (m > 0) {
        const left = cur[m - 1]!;
        for (let u = 0; u < left.length; u++) row[u + n] = row[u + n]! + left[u]!;
      }
      cur.push(row);
    }
    prev = cur;
  }
  return prev[n1]!;
}

/** Two-sided exact p-value of U for tie-free samples of sizes n1, n2: 2 P(U <= min(u, n1 n2 - u)), at most 1. */
export function exactPValue(u: number, n1: number, n2: number): number {
  const counts = exactUCounts(n1, n2);
  const k = Math.min(u, n1 * n2 - u);
  let tail = 0n;
  let total = 0n;
  for (let i = 0; i < counts.length; i++) {
    total += counts[i]!;
    if (i <= k) tail += counts[i]!;
  }
  return Math.min(1, (2 * Number(tail)) / Number(total));
}

/** Complementary error function (Numerical Recipes erfcc, |error| < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/**
 * Two-sided Mann-Whitney U test: exact for tie-free samples under
 * EXACT_MAX_SIZE each, else the normal approximation with tie and continuity
 * corrections. Returns U of the first sample, the p-value and which it is.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): { u: number; pValue: number; method: 'exact' | 'normal' } {
  const n1 = a.length;
  const n2 = b.length;
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const n = all.length;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (all[k]!.g === 0) rankSumA += rank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  if (tieTerm === 0 && n1 > 0 && n2 > 0 && n1 < EXACT_MAX_SIZE && n2 < EXACT_MAX_SIZE) return { u, pValue: exactPValue(u, n1, n2), method: 'exact' };
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, pValue: 1, method: 'normal' };
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { u, pValue: Math.min(1, erfc(Math.max(z, 0) / Math.SQRT2)), method: 'normal' };
}

const change = (base: number | null, cur: number | null): number | null =>
  base === null || cur === null || base === 0 ? null : ((cur - base) / base) * 100;

export function compareOperation(
  operation: string,
  base: readonly number[],
  current: readonly number[],
  thresholdPercent: number,
  alpha: number,
): OperationComparison {
  const a = [...base].sort((x, y) => x - y);
  const b = [...current].sort((x, y) => x - y);
  const p50a = percentile(a, 0.5);
  const p50b = percentile(b, 0.5);
  const p95a = percentile(a, 0.95);
  const p95b = percentile(b, 0.95);
  const p50Change = change(p50a, p50b);
  let verdict: Verdict;
  let pValue: number | null = null;
  if (a.length === 0) verdict = 'added';
  else if (b.length === 0) verdict = 'removed';
  else if (a.length < 3 || b.length < 3) verdict = 'too few samples';
  else {
    pValue = mannWhitneyU(a, b).pValue;
    const significant = pValue < alpha;
    if (significant && p50Change !== null && p50Change > thresholdPercent) verdict = 'regression';
    else if (significant && p50Change !== null && p50Change < -thresholdPercent) verdict = 'improvement';
    else verdict = 'no change';
  }
  return {
    operation,
    baseCount: a.length,
    currentCount: b.length,
    baseP50Ms: p50a,
    currentP50Ms: p50b,
    p50ChangePercent: p50Change,
    baseP95Ms: p95a,
    currentP95Ms: p95b,
    p95ChangePercent: change(p95a, p95b),
    pValue,
    verdict,
  };
}

/** Bad input (a file that cannot be read, is not a perfprobe file, or holds an invalid record): exit 2. */
const inputError = (message: string): CliError => new CliError(message, 2);

/**
 * The file system errors that are the user's to fix (a wrong path, a
 * directory, no permission): exit 2. Any other (EIO from a failing disk,
 * EMFILE, ENOMEM) means compare itself could not do its work: exit 3.
 */
const USER_FS_ERRORS: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'ELOOP', 'ENAMETOOLONG']);

/**
 * The top-level arrays compare never reads: a run report's samples (one per
 * line, a 1 GB report is almost all samples) and an export's memory and GPU
 * records. They are scanned (the file must be valid JSON) but not kept, so
 * reading a run report takes memory for its summary only.
 */
const UNUSED_ARRAYS: ReadonlySet<string> = new Set(['samples', 'memory_metrics', 'gpu_metrics']);

type Loaded = { kind: 'export'; operations: Map<string, number[]> } | { kind: 'run'; durationMs: number; command: string };

/**
 * A JSON export (read as importFromJson reads it: streamed in exportJson's
 * own layout, every record checked against the processing schema) or a
 * `perfprobe run --json` file.
 */
export async function loadComparable(path: string): Promise<Loaded> {
  let doc: unknown;
  try {
    doc = await readExportDocument(path, { skipArrays: UNUSED_ARRAYS });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e instanceof SyntaxError) throw inputError(`perfprobe compare: ${path}: not valid JSON (${e.message.replace(/\s+/g, ' ')})`);
    if (typeof e?.code === 'string' && USER_FS_ERRORS.has(e.code)) throw inputError(`perfprobe compare: ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    if (isArgumentError(e)) throw inputError(`perfprobe compare: ${path}: ${e.message}`);
    // Anything else (EIO, EMFILE, ENOMEM, a bug in the reader) is not the file's fault: compare failed, exit 3.
    throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const d = doc as Record<string, unknown>;
  if (d && typeof d === 'object' && Array.isArray(d.processing_metrics)) {
    let records: ProcessingTimeMetric[];
    try {
      records = recordsOf<ProcessingTimeMetric>(d, 'processing');
    } catch (err) {
      if (!isArgumentError(err)) throw err; // a bug, not a bad record: exit 3
      throw inputError(`perfprobe compare: ${path}: ${err.message}`);
    }
    const ops = new Map<string, number[]>();
    for (const r of records) {
      let list = ops.get(r.operation);
      if (!list) ops.set(r.operation, (list = []));
      list.push(r.durationMs);
    }
    return { kind: 'export', operations: ops };
  }
  const summary = d?.summary as Record<string, unknown> | undefined;
  if (d && d.perfprobe_run !== undefined && summary && typeof summary.durationMs === 'number') {
    return { kind: 'run', durationMs: summary.durationMs, command: Array.isArray(summary.command) ? summary.command.join(' ') : '' };
  }
  throw inputError(
    `perfprobe compare: ${path}: not a perfprobe JSON export (no processing_metrics array) nor a 'perfprobe run --json' file (no summary.durationMs)`,
  );
}

export function parseThreshold(text: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  const v = m ? Number(m[1]) : NaN;
  if (!m || !Number.isFinite(v) || v > 1000) {
    throw new UsageError(`perfprobe compare: --threshold must be a percentage from 0% to 1000% such as 5%, got ${JSON.stringify(text)}`);
  }
  return v;
}

const ms = (v: number | null): string => (v === null ? '-' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toPrecision(3));
const pct = (v: number | null): string => (v === null ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`);

export function formatTable(rows: string[][]): string {
  // (A loop, not Math.max(...rows): 130,000 operations overflowed the stack.)
  const widths = rows[0]!.map((_, i) => rows.reduce((w, r) => (r[i]!.length > w ? r[i]!.length : w), 0));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export async function compareCommand(argv: string[]): Promise<number> {
  try {
    return await compareFiles(argv);
  } catch (err) {
    if (err instanceof UsageError) throw err; // usage and input errors: their one line, exit 2
    // compare itself failed: exit 3, never 1 (which says "regression").
    process.stderr.write(`perfprobe compare: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 3;
  }
}

async function compareFiles(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'compare',
    argv,
    { threshold: { type: 'string' }, alpha: { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    process.stdout.write(COMPARE_HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError(`perfprobe compare: expected two files, BASE.json and CURRENT.json, got ${positionals.length}; see 'perfprobe compare --help'`);
  }
  const threshold = values.threshold === undefined ? 5 : parseThreshold(values.threshold as string);
  let alpha = 0.05;
  if (values.alpha !== undefined) {
    alpha = Number(values.alpha);
    if (!(alpha > 0 && alpha < 1)) throw new UsageError(`perfprobe compare: --alpha must be a number between 0 and 1 such as 0.05, got ${JSON.stringify(values.alpha)}`);
  }
  const [basePath, curPath] = positionals as [string, string];
  const base = await loadComparable(basePath);
  const cur = await loadComparable(curPath);
  if (base.kind !== cur.kind) {
    throw inputError(`perfprobe compare: ${basePath} is a ${base.kind === 'run' ? "'perfprobe run' file" : 'JSON export'} but ${curPath} is not; compare files of the same kind`);
  }
  if (base.kind === 'run' && cur.kind === 'run') {
    const c = change(base.durationMs, cur.durationMs);
    const verdict: Verdict = c !== null && c > threshold ? 'regression' : c !== null && c < -threshold ? 'improvement' : 'no change';
    if (values.json) process.stdout.write(JSON.stringify({ thresholdPercent: threshold, durationMs: { base: base.durationMs, current: cur.durationMs, changePercent: c, verdict } }, null, 2) + '\n');
    else
      process.stdout.write(
        formatTable([
          ['measurement', 'base', 'current', 'change', 'verdict'],
          ['wall time (ms)', ms(base.durationMs), ms(cur.durationMs), pct(c), verdict],
        ]) + `(one measurement per file: threshold ${threshold}% only, no statistical test)\n`,
      );
    return verdict === 'regression' ? 1 : 0;
  }
  if (base.kind !== 'export' || cur.kind !== 'export') return 2;
  const names = [...new Set([...base.operations.keys(), ...cur.operations.keys()])].sort();
  const results = names.map((op) => compareOperation(op, base.operations.get(op) ?? [], cur.operations.get(op) ?? [], threshold, alpha));
  const regressions = results.filter((r) => r.verdict === 'regression').length;
  if (values.json) {
    process.stdout.write(JSON.stringify({ thresholdPercent: threshold, alpha, regressions, operations: results }, null, 2) + '\n');
  } else if (results.length === 0) {
    process.stdout.write('no operations in either file\n');
  } else {
    const rows = [['operation', 'n base', 'n cur', 'p50 base ms', 'p50 cur ms', 'p50 change', 'p95 base ms', 'p95 cur ms', 'p95 change', 'p-value', 'verdict']];
    for (const r of results)
      rows.push([r.operation, String(r.baseCount), String(r.currentCount), ms(r.baseP50Ms), ms(r.currentP50Ms), pct(r.p50ChangePercent), ms(r.baseP95Ms), ms(r.currentP95Ms), pct(r.p95ChangePercent), r.pValue === null ? '-' : r.pValue < 0.0001 ? '<0.0001' : r.pValue.toFixed(4), r.verdict]);
    process.stdout.write(formatTable(rows));
    process.stdout.write(`${regressions} regression(s); threshold ${threshold}% on the median, Mann-Whitney U at alpha ${alpha}\n`);
  }
  return regressions > 0 ? 1 : 0;
}
