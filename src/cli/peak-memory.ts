/**
 * The peak memory of `perfprobe run`'s command as the kernel knows it, so a
 * spike between two samples is not missed:
 *
 * - `cgroup`: where the command can run in its own cgroup v2 (we are root,
 *   or inside a delegated subtree we may write, and the memory controller is
 *   enabled there; Linux >= 5.19 for memory.peak), a child cgroup is made,
 *   the command is moved into it BEFORE it execs (spawned through /bin/sh,
 *   which writes its own pid to cgroup.procs and then execs the command, so
 *   every page the command and its descendants ever charge is counted), its
 *   memory.peak is read after the exit and the cgroup removed. memory.peak is
 *   the exact peak of the memory charged to the tree, which also counts page
 *   cache and kernel memory the tree caused, not only resident pages.
 * - `hwm`: the largest per-process high-water mark: VmHWM of each process
 *   of the tree (read by the native sampler every 50 ms while they live) and
 *   ru_maxrss of the reaped tree (getrusage(RUSAGE_CHILDREN) after the exit).
 *   Each is a floor under the tree's peak (the tree holds at least what its
 *   biggest process held), exact for a one-process command.
 * - `sampled`: the largest tree RSS sum the sampler saw.
 *
 * The run reports the cgroup's peak where it has one, else the larger of the
 * other two, and names it (choosePeak).
 * PERFPROBE_RUN_CGROUP=0 turns the cgroup off.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsc, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, posix } from 'node:path';
import { getAddon } from '../native/binding.js';

export type PeakRssSource = 'cgroup' | 'hwm' | 'sampled';

export interface PeakMemoryFacts {
  /** memory.peak of the command's own cgroup, bytes; null when it did not run in one. */
  cgroupBytes: number | null;
  /** Largest VmHWM read from any process of the tree, bytes; null when none was read. */
  hwmBytes: number | null;
  /** ru_maxrss of the reaped children (when it rose during the run), bytes; null otherwise. */
  reapedBytes: number | null;
}

const MB = 1048576;

/**
 * The peak to report, with its source: the cgroup's memory.peak when the
 * command ran in its own cgroup (the exact peak of what the tree was charged;
 * it counts shared pages once, so it can be below a sum of RSS that counts
 * them in every process, and it includes page cache the tree caused); else
 * the larger of the high-water marks and the sampled tree sum (MB), the
 * high-water marks on a tie. Both null when nothing is known.
 */
export function choosePeak(sampledMb: number | null, facts: PeakMemoryFacts | undefined): { peakRssMb: number | null; peakRssSource: PeakRssSource | null } {
  const known = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;
  if (known(facts?.cgroupBytes)) return { peakRssMb: facts!.cgroupBytes! / MB, peakRssSource: 'cgroup' };
  const hwm = [facts?.hwmBytes, facts?.reapedBytes].filter(known);
  const hwmMb = hwm.length ? Math.max(...hwm) / MB : null;
  const sampled = known(sampledMb) ? sampledMb : null;
  if (hwmMb !== null && (sampled === null || hwmMb >= sampled)) return { peakRssMb: hwmMb, peakRssSource: 'hwm' };
  if (sampled !== null) return { peakRssMb: sampled, peakRssSource: 'sampled' };
  return { peakRssMb: null, peakRssSource: null };
}

/** getrusage(RUSAGE_CHILDREN) ru_maxrss in bytes (native addon), or null. */
export function reapedChildrenPeakRssBytes(): number | null {
  const fn = getAddon()?.childrenPeakRssBytes;
  if (typeof fn !== 'function') return null;
  const v = (fn as () => number | null)();
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Decodes the octal escapes (\040 for a space) of /proc/self/mountinfo. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The cgroup v2 directory this process is in, from /proc/self/mountinfo and
 * /proc/self/cgroup text; null without a cgroup2 mount or a `0::` line.
 */
export function ownCgroupDir(mountinfo: string, cgroup: string): { mountPoint: string; dir: string } | null {
  const line = cgroup.split('\n').find((l) => l.startsWith('0::'));
  if (!line) return null;
  const path = line.slice(3).trim();
  for (const m of mountinfo.split('\n')) {
    const sep = m.indexOf(' - ');
    if (sep < 0 || m.slice(sep + 3).split(' ')[0] !== 'cgroup2') continue;
    const f = m.slice(0, sep).split(' ');
    const root = unescapeMountField(f[3] ?? '/');
    const mountPoint = unescapeMountField(f[4] ?? '');
    if (!mountPoint) continue;
    // Our path is relative to the cgroup namespace's root, as is the mount's root.
    if (root !== '/' && path !== root && !path.startsWith(root + '/')) continue;
    const rel = root === '/' ? path : path.slice(root.length);
    const dir = posix.join(mountPoint, rel || '/');
    return { mountPoint, dir: dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir };
  }
  return null;
}

/** The executable `file` would run as (PATH search like execvp), or null when there is none. */
export function findExecutable(file: string, pathEnv = process.env.PATH ?? ''): string | null {
  const candidates = file.includes('/') ? [file] : pathEnv.split(delimiter).map((d) => join(d || '.', file));
  for (const c of candidates) {
    try {
      const st = statSync(c);
      // An execute bit, as exec needs (access(X_OK) says yes to root for any file with one).
      if (!st.isFile() || (st.mode & 0o111) === 0) continue;
      accessSync(c, fsc.X_OK);
      return isAbsolute(c) ? c : join(process.cwd(), c);
    } catch {
      /* not here */
    }
  }
  return null;
}

const SHELL = '/bin/sh';
// $0 = the cgroup.procs file; "$@" = the command. The shell moves itself into
// the cgroup, says so on fd 3, closes fd 3 and execs the command (same pid).
const MOVE_AND_EXEC = '{ echo $$ > "$0"; } 2>/dev/null && echo moved >&3; exec 3>&-; exec "$@"';

/**
 * How to spawn `file args` so that it runs with its cgroup.procs at
 * `procsPath` from its very start: /bin/sh writes its own pid there, says
 * "moved" on fd 3 (a pipe; see movedSignal), closes fd 3 and execs the
 * command, which keeps the pid (signals, exit status) and inherits only
 * stdin, stdout and stderr. When the write fails the command runs anyway,
 * without a word on its stderr.
 */
export function cgroupLaunch(procsPath: string, file: string, args: string[]): { file: string; args: string[]; stdio: ['inherit', 'inherit', 'inherit', 'pipe'] } {
  return { file: SHELL, args: ['-c', MOVE_AND_EXEC, procsPath, file, ...args], stdio: ['inherit', 'inherit', 'inherit', 'pipe'] };
}

/** Resolves true once the shell of cgroupLaunch said it moved (false when fd 3 closed without it, or there is none). */
export function movedSignal(child: ChildProcess): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const pipe = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
    if (!pipe) return resolve(false);
    let said = '';
    pipe.on('data', (d: Buffer) => (said += d.toString()));
    pipe.on('error', () => resolve(false));
    pipe.on('close', () => resolve(said.includes('moved')));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A child cgroup v2 for one run (see the file comment); create() returns null where there is none to be had. */
export class RunCgroup {
  private constructor(
    readonly dir: string,
    private readonly ownDir: string,
  ) {}

  /**
   * Makes the cgroup, in our own cgroup or the nearest ancestor whose
   * subtree has the memory controller and where we may create one. Null off
   * Linux, without cgroup v2 or memory.peak, without permission, when
   * PERFPROBE_RUN_CGROUP=0, or when `file` is not an executable (the plain
   * spawn then reports it as before).
   */
  static create(file: string, env: NodeJS.ProcessEnv = process.env): RunCgroup | null {
    if (process.platform !== 'linux' || env.PERFPROBE_RUN_CGROUP === '0') return null;
    if (!existsSync(SHELL) || findExecutable(file, env.PATH ?? '') === null) return null;
    let own: { mountPoint: string; dir: string } | null;
    try {
      own = ownCgroupDir(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
    } catch {
      return null;
    }
    if (!own) return null;
    for (let dir = own.dir; dir.startsWith(own.mountPoint); dir = dirname(dir)) {
      let controllers: string[] = [];
      try {
        controllers = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
      } catch {
        /* not readable: try further up */
      }
      if (controllers.includes('memory')) {
        RunCgroup.removeStale(dir);
        const child = join(dir, `perfprobe-run-${process.pid}-${randomBytes(4).toString('hex')}`);
        try {
          mkdirSync(child);
        } catch {
          if (dir === own.mountPoint) break;
          continue; // not ours to write: an ancestor may be
        }
        if (existsSync(join(child, 'memory.peak')) && existsSync(join(child, 'cgroup.procs'))) return new RunCgroup(child, own.dir);
        try {
          rmdirSync(child);
        } catch {
          /* leave it */
        }
        return null; // no memory.peak (Linux < 5.19): nowhere will have it
      }
      if (dir === own.mountPoint) break;
    }
    return null;
  }

  /** Removes empty cgroups of earlier runs whose perfprobe is gone (killed before it could clean up). */
  private static removeStale(parent: string): void {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^perfprobe-run-(\d+)-[0-9a-f]+$/.exec(name);
      if (!m || alive(Number(m[1]))) continue;
      try {
        rmdirSync(join(parent, name)); // fails while processes are in it: then it stays
      } catch {
        /* in use or not ours */
      }
    }
  }

  /** How to spawn `file args` so that it runs in this cgroup (cgroupLaunch). */
  wrap(file: string, args: string[]): ReturnType<typeof cgroupLaunch> {
    return cgroupLaunch(join(this.dir, 'cgroup.procs'), file, args);
  }

  /** memory.peak in bytes, or null. */
  peakBytes(): number | null {
    try {
      const v = Number(readFileSync(join(this.dir, 'memory.peak'), 'utf8').trim());
      return Number.isFinite(v) ? v : null;
    } catch {
      return null;
    }
  }

  /** Removes the cgroup; processes still in it (orphans of the command) are moved back to ours first. */
  remove(): void {
    try {
      rmdirSync(this.dir);
      return;
    } catch {
      /* populated: move what is left back */
    }
    try {
      for (const pid of readFileSync(join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          writeFileSync(join(this.ownDir, 'cgroup.procs'), pid);
        } catch {
          /* exited meanwhile */
        }
      }
      rmdirSync(this.dir);
    } catch {
      /* left for removeStale() of a later run */
    }
  }
}
