/**
 * `perfprobe watch [--interval 1s] [--json]`: a live terminal view of every
 * GPU (utilization and memory bars, temperature, power, processes) and of
 * system and process memory, redrawn in place on the alternate screen; or
 * one JSON line per sample with --json. q or Ctrl-C quits and restores the
 * terminal.
 */
import { readGpus } from '../probes/gpu.js';
import { probeInfo } from '../probes/info.js';
import { readMemory } from '../probes/memory.js';
import type { GpuReading, MemoryReading } from '../probes/types.js';
import { CliError, UsageError, parseCommandArgs } from './args.js';
import { parseDuration } from './duration.js';
import { osMemoryMb, processName, processRssMb } from './proc.js';

export const WATCH_HELP = `Usage: perfprobe watch [options]

A live view of every GPU (utilization and memory bars, temperature, power,
processes) and of system and process memory, redrawn in place.
Press q or Ctrl-C to quit.

Options:
  --interval <duration>  refresh interval (default 1s; units ms, s, m, h; at least 50ms)
  --json                 write one JSON line per sample to stdout instead
  --count <n>            stop after n samples (default: run until stopped)
  -h, --help             show this help
`;

export interface WatchSample {
  timestamp: number;
  memory: MemoryReading;
  gpus: GpuReading[];
  gpuError?: string;
}

function memoryReading(): MemoryReading {
  try {
    return readMemory();
  } catch {
    const m = osMemoryMb();
    return {
      timestamp: Date.now(),
      totalMb: m.totalMb,
      usedMb: m.usedMb,
      availableMb: m.availableMb,
      percent: (m.usedMb / m.totalMb) * 100,
      processMemoryMb: process.memoryUsage.rss() / 1048576,
      processPeakMb: null,
      swapTotalMb: null,
      swapUsedMb: null,
      heapUsedMb: null,
    };
  }
}

export async function takeSample(): Promise<WatchSample> {
  const memory = memoryReading();
  try {
    return { timestamp: Date.now(), memory, gpus: await readGpus() };
  } catch (err) {
    return { timestamp: Date.now(), memory, gpus: [], gpuError: (err as Error).message };
  }
}

export function bar(fraction: number | null, width: number): string {
  if (fraction === null || !Number.isFinite(fraction)) return '[' + '?'.repeat(width) + ']';
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return '[' + '#'.repeat(full) + '.'.repeat(width - full) + ']';
}

const num = (v: number | null, unit: string, digits = 0): string => (v === null ? 'n/a' : `${v.toFixed(digits)}${unit}`);

/** The screen as lines (no escape codes), for a terminal of `columns` width. */
export function renderScreen(s: WatchSample, intervalMs: number, columns: number, gpuNote: string | undefined): string[] {
  const w = Math.max(10, Math.min(40, columns - 50));
  const m = s.memory;
  const lines = [
    `perfprobe watch  ${new Date(s.timestamp).toISOString().replace('T', ' ').slice(0, 19)} UTC  every ${intervalMs} ms  (q to quit)`,
    '',
    `Memory   ${bar(m.usedMb / m.totalMb, w)} ${m.usedMb.toFixed(0)} / ${m.totalMb.toFixed(0)} MB (${m.percent.toFixed(1)}%)  available ${m.availableMb.toFixed(0)} MB` +
      (m.swapTotalMb ? `  swap ${num(m.swapUsedMb, '')} / ${m.swapTotalMb.toFixed(0)} MB` : ''),
    `Process  perfprobe pid ${process.pid}  RSS ${m.processMemoryMb.toFixed(1)} MB`,
    '',
  ];
  if (s.gpus.length === 0) lines.push(`GPU      none found${gpuNote ? ` (${gpuNote})` : ''}${s.gpuError ? `: ${s.gpuError}` : ''}`);
  for (const g of s.gpus) {
    lines.push(
      `GPU ${g.gpuId}    ${g.name ?? 'unknown'}  [${g.status}]  ${num(g.temperatureCelsius, ' C')}  ${num(g.powerWatts, ' W', 1)}` +
        (g.powerLimitWatts !== null ? ` / ${g.powerLimitWatts.toFixed(0)} W` : '') +
        (g.smClockMhz !== null ? `  SM ${g.smClockMhz} MHz` : '') +
        (g.fanPercent !== null ? `  fan ${g.fanPercent}%` : ''),
    );
    lines.push(`  util   ${bar(g.loadPercent === null ? null : g.loadPercent / 100, w)} ${num(g.loadPercent, '%')}`);
    lines.push(
      `  memory ${bar(g.memoryUsedMb !== null && g.memoryTotalMb ? g.memoryUsedMb / g.memoryTotalMb : null, w)} ` +
        `${num(g.memoryUsedMb, '')} / ${num(g.memoryTotalMb, ' MB')}${g.memoryPercent !== null ? ` (${g.memoryPercent.toFixed(1)}%)` : ''}`,
    );
    if (g.processes.length === 0) lines.push('  processes: none');
    for (const p of g.processes.slice(0, 8)) {
      const rss = processRssMb(p.pid);
      lines.push(`  pid ${String(p.pid).padStart(7)}  ${(processName(p.pid) ?? '?').padEnd(16)} GPU ${num(p.usedMemoryMb, ' MB').padStart(9)}  RSS ${num(rss, ' MB')}`);
    }
    if (g.processes.length > 8) lines.push(`  ... ${g.processes.length - 8} more`);
  }
  return lines.map((l) => (l.length > columns ? l.slice(0, columns) : l));
}

const ENTER = '\x1b[?1049h\x1b[?25l';
// Each of these stops the watch and restores the terminal first (SIGHUP's
// default action would leave it on the alternate screen, raw, cursor hidden).
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const LEAVE = '\x1b[?25h\x1b[?1049l';

export async function watchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    'watch',
    argv,
    { interval: { type: 'string' }, json: { type: 'boolean' }, count: { type: 'string' } },
    false,
  );
  if (values.help) {
    process.stdout.write(WATCH_HELP);
    return 0;
  }
  let intervalMs = 1000;
  if (values.interval !== undefined) {
    try {
      intervalMs = parseDuration('--interval', values.interval as string, 50);
    } catch (err) {
      throw new UsageError(`perfprobe watch: ${(err as Error).message}`);
    }
  }
  let count = Infinity;
  if (values.count !== undefined) {
    count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`perfprobe watch: --count must be an integer >= 1, got ${JSON.stringify(values.count)}`);
  }
  const json = values.json === true;
  if (!json && !process.stdout.isTTY) throw new CliError("perfprobe watch: stdout is not a terminal; use 'perfprobe watch --json' for one JSON line per sample");
  const info = probeInfo();
  const gpuNote = info.gpu.backend !== 'nvml' ? `GPU backend ${info.gpu.backend}${info.gpu.reason ? `: ${info.gpu.reason}` : ''}` : undefined;

  return new Promise<number>((resolve) => {
    let done = false;
    let taken = 0;
    let timer: NodeJS.Timeout | null = null;
    let busy = false;
    const stdin = process.stdin;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      if (timer) clearInterval(timer);
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
      process.stdout.off('resize', tick);
      if (!json) {
        try {
          if (stdin.isTTY) stdin.setRawMode(false);
        } catch {
          /* the terminal is gone (hang-up): nothing left to restore */
        }
        stdin.pause();
        stdin.off('data', onKey);
        process.stdout.write(LEAVE);
      }
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      finish(0);
      // A hang-up ends the process as it would have (its handlers are off
      // now): a normal exit would have Node reset a terminal that may be gone.
      if (signal === 'SIGHUP') process.kill(process.pid, 'SIGHUP');
    };
    const onKey = (data: Buffer) => {
      for (const byte of data) if (byte === 0x71 /* q */ || byte === 0x51 /* Q */ || byte === 0x03 /* Ctrl-C */ || byte === 0x04) return finish(0);
    };
    async function tick(): Promise<void> {
      if (busy || done) return;
      busy = true;
      try {
        const s = await takeSample();
        if (done) return;
        taken++;
        if (json) process.stdout.write(JSON.stringify(s) + '\n');
        else {
          const lines = renderScreen(s, intervalMs, process.stdout.columns ?? 80, gpuNote);
          process.stdout.write('\x1b[H' + lines.map((l) => l + '\x1b[K').join('\r\n') + '\x1b[J');
        }
        if (taken >= count) finish(0);
      } finally {
        busy = false;
      }
    }
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    // `perfprobe watch --json | head -3`: a closed pipe ends the watch quietly.
    process.stdout.once('error', (err: NodeJS.ErrnoException) => finish(err.code === 'EPIPE' ? 0 : 1));
    if (!json) {
      process.stdout.write(ENTER);
      if (stdin.isTTY) stdin.setRawMode(true);
      stdin.on('data', onKey);
      stdin.resume();
      process.stdout.on('resize', tick);
    }
    timer = setInterval(tick, intervalMs);
    void tick();
  });
}
