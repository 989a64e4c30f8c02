/**
 * Small /proc readers used by the CLI (Linux only; elsewhere they return null).
 * The native sampler measures tree RSS itself; these are the fallback when the
 * addon is not available, and the source of CPU times.
 */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

let pageSize: number | undefined;
/**
 * The kernel page size (the unit of the rss field of /proc/<pid>/stat): 4 KiB
 * on x86-64, 4, 16 or 64 KiB on arm64. Found once by comparing this process's
 * VmRSS (kB) with its rss in pages.
 */
function pageBytes(): number {
  if (pageSize !== undefined) return pageSize;
  pageSize = 4096;
  try {
    const vm = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'));
    const pages = Number(readFileSync('/proc/self/statm', 'latin1').split(' ')[1]);
    if (vm && pages > 0) {
      const ratio = (Number(vm[1]) * 1024) / pages;
      pageSize = [4096, 16384, 65536].reduce((best, p) => (Math.abs(p - ratio) < Math.abs(best - ratio) ? p : best), 4096);
    }
  } catch {
    /* keep 4 KiB */
  }
  return pageSize;
}
/** USER_HZ: the unit of /proc/<pid>/stat times. Fixed at 100 by the Linux user ABI on every architecture. */
export const CLOCK_TICKS_PER_SECOND = 100;

interface StatFields {
  ppid: number;
  utimeTicks: number;
  stimeTicks: number;
  cutimeTicks: number;
  cstimeTicks: number;
  rssPages: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses. */
export function readStat(pid: number | 'self'): StatFields | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // Fields after the command: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) ... rss(24)
  const f = text.slice(close + 2).split(' ');
  return {
    ppid: Number(f[1]),
    utimeTicks: Number(f[11]),
    stimeTicks: Number(f[12]),
    cutimeTicks: Number(f[13]),
    cstimeTicks: Number(f[14]),
    rssPages: Number(f[21]),
  };
}

/**
 * CPU time of children this process has waited for (cutime + cstime of
 * /proc/self/stat), in ms. libuv reaps a spawned child with waitpid, and the
 * kernel then adds the child's time and that of every descendant the child
 * itself waited for. Reading it before the spawn and after the exit gives the
 * child tree's user and system CPU time exactly (10 ms resolution).
 */
export function waitedChildrenCpuMs(): { userMs: number; systemMs: number } | null {
  if (process.platform !== 'linux') return null;
  const s = readStat('self');
  if (!s) return null;
  const msPerTick = 1000 / CLOCK_TICKS_PER_SECOND;
  return { userMs: s.cutimeTicks * msPerTick, systemMs: s.cstimeTicks * msPerTick };
}

/** Pids of `root` and all its descendants (from /proc/<pid>/stat ppid links). */
export function processTree(root: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    const st = readStat(pid);
    if (!st) continue;
    let list = children.get(st.ppid);
    if (!list) children.set(st.ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

/** Summed RSS of a process tree in bytes; null when the root is gone or not on Linux. */
export function treeRssBytes(root: number): number | null {
  if (process.platform !== 'linux') return null;
  const rootStat = readStat(root);
  if (!rootStat) return null;
  let total = 0;
  for (const pid of processTree(root)) {
    const st = pid === root ? rootStat : readStat(pid);
    if (st) total += st.rssPages * pageBytes();
  }
  return total;
}

/** The short command name of a pid, or null. */
export function processName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** RSS of one pid in MB, or null. */
export function processRssMb(pid: number): number | null {
  const st = readStat(pid);
  return st ? (st.rssPages * pageBytes()) / 1048576 : null;
}

/** System memory from `os` when the native probe is not available. */
export function osMemoryMb(): { totalMb: number; availableMb: number; usedMb: number } {
  const total = os.totalmem() / 1048576;
  let available = os.freemem() / 1048576;
  if (process.platform === 'linux') {
    try {
      const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'latin1'));
      if (m) available = Number(m[1]) / 1024;
    } catch {
      /* keep freemem */
    }
  }
  return { totalMb: total, availableMb: available, usedMb: total - available };
}
