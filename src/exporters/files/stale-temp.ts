/**
 * Temporary files of the atomic writer (./atomic.ts), and the removal of
 * those a killed process left behind.
 *
 * A temporary file is named
 *   `.<final name>.<pid>.<start>.<scope>.<random>.tmp`
 * where `pid` is the writing process, `start` its start time as the kernel
 * counts it (Linux: field 22 of /proc/<pid>/stat, clock ticks since boot;
 * 0 where the platform does not say), `scope` 8 hex digits naming the host
 * and PID namespace it ran in (a hash of os.hostname() and the inode of
 * /proc/self/ns/pid), and `random` 12 hex digits.
 *
 * A `kill -9` during an export leaves its temporary file (a 1M-record JSON
 * export is ~27 MB) with no one to remove it, so every later write into the
 * same directory first removes the temporary files whose writer is gone:
 *  - same scope (this host, this PID namespace): removed when no process
 *    has that pid, or when the process that has it started at another time
 *    than the writer (the pid was reused). A live writer's file is never
 *    touched (our own concurrent exports included).
 *  - another scope (another host on a shared file system, another
 *    container sharing the directory): left alone, since this process
 *    cannot tell whether that writer lives.
 *  - the older name `.<final name>.<pid>.<random>.tmp` (perfprobe before
 *    the start time was recorded) of an export file name perfprobe picks
 *    (`metrics_YYYYMMDD_HHMMSS[_n].json`, `<type>_metrics_..._.csv`): removed
 *    when no process has that pid and it has not changed for
 *    LEGACY_STALE_MS (it carries no scope, so the age stands in for it).
 * The sweep is best effort: an error while listing or removing is ignored
 * (the export itself must not fail because of someone else's file).
 */
import { promises as fsp, readFileSync, readlinkSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** An older-format temporary file must be this old (mtime) before it is judged stale. */
export const LEGACY_STALE_MS = 15 * 60_000;

/** Start time of process `pid` in clock ticks since boot (Linux /proc), or null where unknown / no such process. */
export function processStartTicks(pid: number | 'self'): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces and ')': split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]); // field 22 overall; fields[0] is field 3 (state)
  return Number.isSafeInteger(start) && start >= 0 ? start : null;
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

let own: { pid: number; start: number; scope: string } | null = null;

/** This process's identity in temporary-file names (computed once; a fork gets a new pid, so it is keyed by pid). */
function ownIdentity(): { pid: number; start: number; scope: string } {
  if (own === null || own.pid !== process.pid) {
    const scope = createHash('sha256').update(`${hostname()}\0${pidNamespace()}`).digest('hex').slice(0, 8);
    own = { pid: process.pid, start: processStartTicks('self') ?? 0, scope };
  }
  return own;
}

/** The temporary file name for `finalName` (a name, not a path). */
export function tempName(finalName: string): string {
  const me = ownIdentity();
  return `.${finalName}.${me.pid}.${me.start}.${me.scope}.${randomBytes(6).toString('hex')}.tmp`;
}

const TEMP = /^\..+\.(\d{1,10})\.(\d{1,20})\.([0-9a-f]{8})\.[0-9a-f]{12}\.tmp$/;
const LEGACY = /^\.(?:(?:processing|memory|gpu)_)?metrics_\d{8}_\d{6}(?:_\d+)?\.(?:json|csv)\.(\d{1,10})\.[0-9a-f]{12}\.tmp$/;

/** True when a process with this pid exists (in this PID namespace). */
function pidAlive(pid: number): boolean {
  if (pid <= 0) return true; // not a pid a writer could have had: never judged dead
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Why the temporary file `name` belongs to no live writer, or null when it
 * may (or is not one of ours). `startOf` and `alive` are the platform's
 * answers (injectable for tests).
 */
export function staleReason(
  name: string,
  ageMs: number,
  startOf: (pid: number) => number | null = processStartTicks,
  alive: (pid: number) => boolean = pidAlive,
): string | null {
  const me = ownIdentity();
  const m = TEMP.exec(name);
  if (m) {
    const pid = Number(m[1]);
    const start = Number(m[2]);
    if (m[3] !== me.scope) return null;
    if (pid === me.pid && start === me.start) return null; // ours: an export of this process in flight
    const now = startOf(pid);
    if (now === null) return alive(pid) ? null : `process ${pid} is gone`;
    // Start times are known here (Linux): a different one is a different process with a reused pid.
    if (start !== 0 && now !== start) return `process ${pid} is another process (started at tick ${now}, the writer at ${start})`;
    return null;
  }
  const l = LEGACY.exec(name);
  if (l) {
    const pid = Number(l[1]);
    if (ageMs < LEGACY_STALE_MS || pid === me.pid) return null;
    return alive(pid) ? null : `process ${pid} is gone`;
  }
  return null;
}

/**
 * Removes the temporary files in `directory` whose writer is gone (see the
 * file comment); resolves to the names removed. Never rejects.
 */
export async function removeStaleTemps(directory: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fsp.readdir(directory);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (name.charCodeAt(0) !== 46 /* . */ || !name.endsWith('.tmp')) continue;
    const path = join(directory, name);
    try {
      const st = await fsp.lstat(path);
      if (!st.isFile()) continue;
      if (staleReason(name, Date.now() - st.mtimeMs) === null) continue;
      await fsp.unlink(path);
      removed.push(name);
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
  return removed;
}
