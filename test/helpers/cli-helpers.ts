// Shared by the CLI tests: runs the perfprobe command from src through tsx
// (the same code `npm test` compiles to dist/cli/main.js).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { HANG_GUARD_MS } from './hang-guard.js';

export const ROOT = join(__dirname, '..', '..');
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
export const CLI = [process.execPath, '--import', 'tsx', MAIN];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(CLI[0]!, [...CLI.slice(1), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * The first match of `pattern` in what the child writes to `stream`. The
 * wait ends on the child's own events: it rejects at once, with what the
 * child wrote to stderr (and to `stream`), when the child exits or closes
 * `stream` without the match; after HANG_GUARD_MS only when it hangs.
 */
export function outputMatch(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, what: string, hangGuardMs = HANG_GUARD_MS): Promise<RegExpExecArray> {
  let text = '';
  let stderr = '';
  const out = child[stream]!;
  return new Promise<RegExpExecArray>((resolve, reject) => {
    const written = () => (stream === 'stderr' ? stderr : `${stream}: ${text}\nstderr: ${stderr}`);
    const done = (err: Error | null, m?: RegExpExecArray) => {
      clearTimeout(timer);
      out.off('data', onData).off('end', onEnd);
      if (stream !== 'stderr') child.stderr?.off('data', onStderr);
      child.off('exit', onExit).off('error', onError);
      if (err) reject(err);
      else resolve(m!);
    };
    const onStderr = (d: Buffer) => (stderr += d);
    const onData = (d: Buffer) => {
      text += d;
      if (stream === 'stderr') stderr = text;
      const m = pattern.exec(text);
      if (m) done(null, m);
    };
    const onEnd = () => done(new Error(`${what}: the child closed ${stream} without it: ${written()}`));
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => done(new Error(`${what}: the child exited (${signal ?? code}) without it: ${written()}`));
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => done(new Error(`${what}: not in ${hangGuardMs} ms (a hang): ${written()}`)), hangGuardMs);
    out.on('data', onData).on('end', onEnd);
    if (stream !== 'stderr') child.stderr?.on('data', onStderr);
    child.on('exit', onExit).on('error', onError);
  });
}

/** The URL `perfprobe serve` prints on its "listening on" line (on stderr); see outputMatch. */
export async function listeningUrl(server: ChildProcess, hangGuardMs = HANG_GUARD_MS): Promise<string> {
  return (await outputMatch(server, 'stderr', /listening on (http:\/\/127\.0\.0\.1:\d+)/, 'the listening line of perfprobe serve', hangGuardMs))[1]!;
}

/** The child's exit and output; a child still running after `hangGuardMs` is killed (a hang detector, not a time limit). */
export function collect(child: ChildProcess, hangGuardMs = HANG_GUARD_MS): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`perfprobe did not finish in ${hangGuardMs} ms (a hang); stderr: ${stderr}`));
    }, hangGuardMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, hangGuardMs?: number): Promise<CliResult> {
  return collect(startCli(args, env), hangGuardMs);
}
