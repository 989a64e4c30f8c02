/**
 * Shared argument handling for the perfprobe subcommands: node:util parseArgs
 * in strict mode, with unknown options refused by a one-line message that
 * suggests the nearest known option.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UsageError';
    this.exitCode = exitCode;
  }
}

/** A runtime failure the user can act on (port in use, unwritable path): one line, exit code 1. */
export class CliError extends UsageError {
  constructor(message: string, exitCode = 1) {
    super(message, exitCode);
    this.name = 'CliError';
  }
}

export function levenshtein(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a small edit distance (or a prefix match), else undefined. */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(input) && input.length >= 2 ? 0.5 : levenshtein(input, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor((best?.length ?? 0) / 3));
  return bestDistance <= limit ? best : undefined;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * parseArgs with strict checking; every option also accepts --help/-h.
 * Errors become UsageError with a "did you mean" hint.
 */
export function parseCommandArgs(command: string, argv: string[], options: Options, allowPositionals: boolean): Parsed {
  const all: Options = { ...options, help: { type: 'boolean', short: 'h' } };
  try {
    const { values, positionals } = parseArgs({ args: argv, options: all, allowPositionals, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    const e = err as Error & { code?: string };
    const names = Object.keys(all).map((n) => `--${n}`);
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const m = /'([^']+)'/.exec(e.message);
      const given = (m?.[1] ?? '').split('=')[0]!;
      const hint = given.startsWith('--') ? suggest(given, names) : undefined;
      throw new UsageError(
        `perfprobe ${command}: unknown option '${given}'${hint ? ` (did you mean '${hint}'?)` : ''}; see 'perfprobe ${command} --help'`,
      );
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const m = /'([^']+)'/.exec(e.message);
      throw new UsageError(`perfprobe ${command}: unexpected argument '${m?.[1] ?? ''}'; see 'perfprobe ${command} --help'`);
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const m = /'(--?[\w-]+)/.exec(e.message);
      const name = m?.[1] ?? '';
      const i = argv.indexOf(name);
      const next = i >= 0 ? argv[i + 1] : undefined;
      if (next === undefined) throw new UsageError(`perfprobe ${command}: ${name} needs a value; see 'perfprobe ${command} --help'`);
      throw new UsageError(
        `perfprobe ${command}: ${name} must be followed by a value, got ${JSON.stringify(next)} (negative values are refused; write ${name}=VALUE for a value that starts with '-')`,
      );
    }
    throw new UsageError(`perfprobe ${command}: ${e.message.split('\n')[0]}`);
  }
}

/** Turns an errors.ts argument error for an option into a UsageError (one line). */
export function optionError(command: string, err: unknown): never {
  const e = err as Error;
  throw new UsageError(`perfprobe ${command}: ${e.message}`);
}
