/**
 * `perfprobe run [options] -- <command> [args...]`: runs a command (no shell,
 * stdio inherited), samples system memory, the command's process-tree RSS and
 * every GPU while it runs, prints a summary to stderr and exits with the
 * command's exit code (128 + n for signal n, 127 when it is not found).
 *
 * The command runs in its own process group (a session of its own): SIGINT,
 * SIGTERM and SIGHUP sent to perfprobe go to the whole group, once (a
 * terminal's Ctrl-C reaches perfprobe's group, not the command's, so the
 * command does not get it twice), and --kill-after later whatever of the
 * group is left gets SIGKILL. Samples are folded into running summaries and
 * streamed to the output files as they come: memory does not grow with the
 * run's length (./run-stream.ts).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, accessSync, constants as fsc } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { replaceAtomic } from '../exporters/files/atomic.js';
import type { GpuEvent } from '../probes/gpu-events.js';
import { readGpuEnergy, readGpusSync } from '../probes/gpu.js';
import { watchGpuEvents, type GpuEventWatcher } from '../probes/gpu-watch.js';
import { CliError, UsageError, parseCommandArgs } from './args.js';
import { formatDuration, parseDuration } from './duration.js';
import { TickSource, type Tick } from './sampling.js';
import { RunStats, StreamedFile } from './run-stream.js';
import { waitedChildrenCpuMs } from './proc.js';
import { RunCgroup, movedSignal, reapedChildrenPeakRssBytes } from './peak-memory.js';
import {
  JSON_HEAD,
  MAX_RUN_GPU_EVENTS,
  csvSampleRow,
  csvSamplesHeader,
  jsonSample,
  jsonTail,
  summarize,
  summaryCsv,
  summaryMarkdown,
  summaryText,
} from './run-report.js';

export const RUN_HELP = `Usage: perfprobe run [options] -- <command> [args...]

Runs <command> without a shell, passes stdin/stdout/stderr through, and exits
with its exit code (128 + n when signal n ends it, 127 when it is not found).
While it runs, samples system memory, the RSS of its whole process tree, every
GPU's utilization, memory and power, and the GPU memory of its processes.
Prints a summary to stderr at the end.

Options:
  --interval <duration>  sampling interval (default 100ms; units ms, s, m, h)
  --kill-after <duration>
                         after perfprobe forwards SIGINT, SIGTERM or SIGHUP to
                         the command's process group, SIGKILL what is left of
                         the group this much later (default 10s)
  --json <file>          write every sample and the summary as JSON
  --csv <dir>            write samples.csv and summary.csv into <dir>
  --markdown <file>      write the summary as a Markdown table
  -h, --help             show this help

The peak tree RSS is the kernel's, named in the summary: the memory.peak of
the command's own cgroup v2 where perfprobe may make one (as root, or in a
delegated cgroup; PERFPROBE_RUN_CGROUP=0 turns it off), else the processes'
high-water marks (VmHWM, ru_maxrss) or the samples, whichever is higher.

The command runs in its own process group; signals perfprobe receives go to
the whole group (a terminal's Ctrl-C reaches the command once). The samples
are written to --json and --csv as they come: memory does not grow with the
run's length, and a file that cannot be written is reported without changing
the exit code, which is always the command's.

When GITHUB_STEP_SUMMARY is set, the Markdown summary is appended to it.
A live status line is shown on stderr when stderr is a terminal.

Example: perfprobe run --json perf.json -- node train.js --epochs 3
`;

const OPTIONS = {
  interval: { type: 'string' },
  'kill-after': { type: 'string' },
  json: { type: 'string' },
  csv: { type: 'string' },
  markdown: { type: 'string' },
} as const;
const VALUE_OPTIONS = new Set(['--interval', '--kill-after', '--json', '--csv', '--markdown']);

/** Splits `[options] -- cmd args` (or `[options] cmd args`): options end at `--` or the first bare word. */
export function splitRunArgv(argv: string[]): { options: string[]; command: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return { options: argv.slice(0, i), command: argv.slice(i + 1) };
    if (!a.startsWith('-')) return { options: argv.slice(0, i), command: argv.slice(i) };
    if (VALUE_OPTIONS.has(a)) i++;
  }
  return { options: argv, command: [] };
}

function checkWritableFile(option: string, path: string): void {
  try {
    closeSync(openSync(path, 'a'));
  } catch (err) {
    throw new CliError(`perfprobe run: --${option} ${path}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
function checkWritableDir(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, fsc.W_OK);
  } catch (err) {
    throw new CliError(`perfprobe run: --csv ${path}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Each GPU's total-energy counter in mJ (nvmlDeviceGetTotalEnergyConsumption,
 * ~4 ms per GPU: read only at the start and the end of the run).
 */
function energyMillijoules(wanted: boolean): Map<number, number> {
  const out = new Map<number, number>();
  if (!wanted) return out;
  try {
    for (const e of readGpuEnergy()) if (e.energyMillijoules !== null) out.set(e.gpuId, e.energyMillijoules);
  } catch {
    /* NVML not available: power is integrated instead */
  }
  return out;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** --kill-after's default: the grace a signalled command's process group has before SIGKILL. */
export const DEFAULT_KILL_AFTER_MS = 10_000;

/** Whether any process of group `pgid` is still alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* the group is gone */
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const split = splitRunArgv(argv);
  const { values } = parseCommandArgs('run', split.options, OPTIONS, false);
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (split.command.length === 0) throw new UsageError("perfprobe run: no command given; usage: perfprobe run [options] -- <command> [args...]");
  let intervalMs = 100;
  if (values.interval !== undefined) {
    try {
      intervalMs = parseDuration('--interval', values.interval as string);
    } catch (err) {
      throw new UsageError(`perfprobe run: ${(err as Error).message}`);
    }
  }
  let killAfterMs = DEFAULT_KILL_AFTER_MS;
  if (values['kill-after'] !== undefined) {
    try {
      killAfterMs = parseDuration('--kill-after', values['kill-after'] as string);
    } catch (err) {
      throw new UsageError(`perfprobe run: ${(err as Error).message}`);
    }
  }
  const jsonPath = values.json as string | undefined;
  const csvDir = values.csv as string | undefined;
  const mdPath = values.markdown as string | undefined;
  if (jsonPath) checkWritableFile('json', jsonPath);
  if (mdPath) checkWritableFile('markdown', mdPath);
  if (csvDir) checkWritableDir(csvDir);

  const gpuNames = new Map<number, string | null>();
  try {
    for (const g of readGpusSync()) gpuNames.set(g.gpuId, g.name);
  } catch {
    /* no NVML: names unknown */
  }

  const energyBefore = energyMillijoules(gpuNames.size > 0);
  // Xid, ECC and clock events while the command runs (a native thread; nothing polls).
  const gpuEvents = { events: [] as GpuEvent[], dropped: 0 };
  let eventWatcher: GpuEventWatcher | null = null;
  if (gpuNames.size > 0) {
    try {
      eventWatcher = watchGpuEvents((e) => (gpuEvents.events.length < MAX_RUN_GPU_EVENTS ? gpuEvents.events.push(e) : gpuEvents.dropped++));
    } catch {
      eventWatcher = null; // no events: the run is measured without them
    }
  }

  const [file, ...args] = split.command as [string, ...string[]];
  // The kernel's peaks (peak-memory.ts): the command in its own cgroup where
  // we may make one, and ru_maxrss of what we reap (known from its rise).
  const cgroup = RunCgroup.create(file);
  const launch = cgroup ? cgroup.wrap(file, args) : { file, args, stdio: 'inherit' as const };
  const reapedBefore = reapedChildrenPeakRssBytes();
  const cpuBefore = waitedChildrenCpuMs();
  const startTime = Date.now();
  const t0 = performance.now();
  // (No process groups on Windows, where detached opens a console.)
  const groups = process.platform !== 'win32';
  // Signals to perfprobe go to the command's whole group (--kill-after later,
  // SIGKILL). Listened for before the command starts: one that comes while
  // it starts is sent once it has.
  let started = false;
  let pgid = 0;
  const alive = () => (groups ? groupAlive(pgid) : child.exitCode === null && child.signalCode === null);
  const signal = (s: NodeJS.Signals) => {
    if (groups) signalGroup(pgid, s);
    else child.kill(s);
  };
  let signalled: NodeJS.Signals | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  let killed = false;
  const forward = (sig: NodeJS.Signals) => () => {
    signalled = sig;
    if (!started) return; // sent once the command has started (below)
    signal(sig);
    if (!killTimer)
      killTimer = setTimeout(() => {
        if (!alive()) return;
        killed = true;
        process.stderr.write(`perfprobe run: the command's processes outlived ${sig} by ${formatDuration(killAfterMs)} (--kill-after): SIGKILL\n`);
        signal('SIGKILL');
      }, killAfterMs);
  };
  const handlers = FORWARDED_SIGNALS.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);

  // detached: the command leads a process group (and session) of its own, so
  // a signal reaches its whole tree, and a terminal's reaches it only through us.
  const child = spawn(launch.file, launch.args, { stdio: launch.stdio, detached: groups });
  const moved = movedSignal(child); // the wrapping shell says so once the command is in the cgroup

  const spawned = await new Promise<{ ok: true } | { ok: false; err: NodeJS.ErrnoException }>((resolve) => {
    child.once('spawn', () => resolve({ ok: true }));
    child.once('error', (err) => resolve({ ok: false, err }));
  });
  if (!spawned.ok) {
    for (const [s, h] of handlers) process.off(s, h);
    cgroup?.remove();
    eventWatcher?.close();
    const code = spawned.err.code;
    if (code === 'ENOENT') {
      process.stderr.write(`perfprobe run: command not found: ${file}\n`);
      return 127;
    }
    process.stderr.write(`perfprobe run: cannot run ${file}: ${code === 'EACCES' ? 'permission denied' : spawned.err.message}\n`);
    return 126;
  }

  pgid = child.pid!;
  started = true;
  if (signalled) forward(signalled)();
  const source = new TickSource({ intervalMs, watchPid: child.pid! });

  // The samples: folded into the summary and written out as they come.
  const stats = new RunStats();
  const jsonFile = jsonPath ? new StreamedFile('perfprobe run --json', jsonPath) : null;
  const csvFile = csvDir ? new StreamedFile('perfprobe run --csv', join(csvDir, 'samples.csv')) : null;
  jsonFile?.push(JSON_HEAD);
  let csvGpuIds: number[] | null = null;
  const take = (ticks: Tick[]) => {
    for (const t of ticks) {
      if (jsonFile && !jsonFile.failed) jsonFile.push(jsonSample(t, startTime, stats.samples === 0));
      if (csvFile && !csvFile.failed) {
        if (csvGpuIds === null) csvFile.push(csvSamplesHeader((csvGpuIds = t.gpus.map((g) => g.gpuId).sort((a, b) => a - b))));
        csvFile.push(csvSampleRow(t, startTime, csvGpuIds));
      }
      stats.add(t);
    }
  };

  const tty = process.stderr.isTTY === true;
  let lastStatus = '';
  const drainTimer = setInterval(() => {
    take(source.drain());
    if (tty) {
      const t = stats.last;
      const elapsed = ((performance.now() - t0) / 1000).toFixed(1);
      const rss = t?.treeRssMb != null ? `${t.treeRssMb.toFixed(0)} MB` : 'n/a';
      const gpu = t?.gpus.length ? ' | GPU ' + t.gpus.map((g) => (g.loadPercent === null ? 'n/a' : `${g.loadPercent}%`)).join(' ') : '';
      lastStatus = `[perfprobe] ${elapsed} s | tree RSS ${rss}${gpu}`;
      process.stderr.write(`\r\x1b[2K${lastStatus}`);
    }
  }, tty ? 500 : 1000);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const durationMs = performance.now() - t0;
  // A signalled command's group may outlive its leader (a child that ignores
  // SIGTERM): wait for it, up to --kill-after (then SIGKILL, above).
  if (signalled !== null && killTimer) {
    while (alive() && !killed) await new Promise((r) => setTimeout(r, 20));
    if (killed) while (alive()) await new Promise((r) => setTimeout(r, 20));
  }
  if (killTimer) clearTimeout(killTimer);
  clearInterval(drainTimer);
  eventWatcher?.close();
  take(source.stop());
  const reapedAfter = reapedChildrenPeakRssBytes();
  const cgroupBytes = cgroup && (await moved) ? cgroup.peakBytes() : null;
  cgroup?.remove();
  const peakMemory = {
    cgroupBytes,
    hwmBytes: source.treeHwmBytes(),
    // ru_maxrss is the largest of every child ever reaped: it speaks for this command only when it rose.
    reapedBytes: reapedAfter !== null && reapedAfter > (reapedBefore ?? 0) ? reapedAfter : null,
  };
  for (const [s, h] of handlers) process.off(s, h);
  if (tty && lastStatus) process.stderr.write('\r\x1b[2K');
  const cpuAfter = waitedChildrenCpuMs();
  const energyAfter = energyMillijoules(energyBefore.size > 0);
  // The driver's counter is exact (better than integrating sampled power); a
  // counter that did not move is not trusted, and power is integrated instead.
  const energyCounterJoules = new Map<number, number>();
  for (const [id, before] of energyBefore) {
    const after = energyAfter.get(id);
    if (after !== undefined && after > before) energyCounterJoules.set(id, (after - before) / 1000);
  }

  const exitCode = exit.signal ? 128 + (os.constants.signals[exit.signal] ?? 0) : exit.code ?? 1;
  const summary = summarize(
    {
      command: split.command,
      startTime,
      exitCode,
      signal: exit.signal,
      durationMs,
      userCpuMs: cpuBefore && cpuAfter ? cpuAfter.userMs - cpuBefore.userMs : null,
      systemCpuMs: cpuBefore && cpuAfter ? cpuAfter.systemMs - cpuBefore.systemMs : null,
      intervalMs,
      samplerBackend: source.backend,
      gpuNames,
      energyCounterJoules,
      peakMemory,
      gpuEvents,
    },
    stats,
  );
  process.stderr.write(summaryText(summary));

  let outputFailed = false;
  const write = async (what: string, fn: () => Promise<unknown> | void) => {
    try {
      await fn();
    } catch (err) {
      outputFailed = true;
      const cause = (err as { cause?: unknown }).cause ?? err;
      process.stderr.write(`perfprobe run: cannot write ${what}: ${(cause as Error).message}\n`);
    }
  };
  // Files the user names are replaced atomically (a crash never leaves half a file).
  const output = (op: string, path: string, text: string) => replaceAtomic(`perfprobe run --${op}`, path, async (put) => put(text));
  if (jsonFile && jsonPath) await write(jsonPath, () => jsonFile.end(jsonTail(summary, stats.samples > 0)));
  if (csvFile && csvDir)
    await write(csvDir, async () => {
      if (csvGpuIds === null) csvFile.push(csvSamplesHeader([]));
      await csvFile.end('');
      await output('csv', join(csvDir, 'summary.csv'), summaryCsv(summary));
    });
  const md = summaryMarkdown(summary);
  if (mdPath) await write(mdPath, () => output('markdown', mdPath, md));
  const stepSummary = process.env.GITHUB_STEP_SUMMARY;
  if (stepSummary) await write(stepSummary, () => appendFileSync(stepSummary, md));
  // A report that could not be written is said above; the exit code stays the command's.
  if (outputFailed) process.stderr.write(`perfprobe run: the report is incomplete; the exit code (${exitCode}) is the command's\n`);
  return exitCode;
}
