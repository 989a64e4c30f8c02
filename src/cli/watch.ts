/**
 * `perfprobe watch [--interval 1s] [--json]`: a live terminal view of every
 * GPU (utilization and memory bars, temperature, power, P-state, why the
 * clocks are held down, PCIe, ECC, MIG, an nvitop-like process table, the
 * GPU events seen) and of system and process memory, redrawn in place on the
 * alternate screen; or one JSON line per sample with --json. q or Ctrl-C
 * quits and restores the terminal.
 */
import { describeGpuEvent, type GpuEvent } from '../probes/gpu-events.js';
import { readGpus } from '../probes/gpu.js';
import { watchGpuEvents, type GpuEventWatcher } from '../probes/gpu-watch.js';
import { probeInfo } from '../probes/info.js';
import { readMemory } from '../probes/memory.js';
import type { GpuReading, MemoryReading } from '../probes/types.js';
import { CliError, UsageError, parseCommandArgs } from './args.js';
import { parseDuration } from './duration.js';
import { osMemoryMb, processName, processRssMb } from './proc.js';

export const WATCH_HELP = `Usage: perfprobe watch [options]

A live view of every GPU (utilization and memory bars, temperature, power,
P-state, throttle reasons, PCIe, ECC, MIG, processes with their type, GPU
memory and SM %, Xid and ECC events) and of system and process memory,
redrawn in place. Press q or Ctrl-C to quit.

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
  /** GPU events (Xid, ECC, clock changes) since the previous sample (NVML only). */
  events?: GpuEvent[];
}

/** GPU events shown at the foot of the screen (the newest). */
export const WATCH_EVENT_LINES = 5;

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

const PROCESS_TYPE: Record<string, string> = { compute: 'C', graphics: 'G', 'compute+graphics': 'C+G' };
const pct = (v: number | null): string => (v === null ? '-' : `${v.toFixed(0)}%`);

/** Why the clocks are held down, in words. */
export function clocksLine(reasons: readonly string[] | null): string | null {
  if (reasons === null) return null;
  if (reasons.length === 0) return 'clocks  full speed';
  if (reasons.length === 1 && reasons[0] === 'gpu_idle') return 'clocks  idle (gpu_idle)';
  return `clocks  held by ${reasons.join(', ')}`;
}

/** The GPU block of the screen: header, bars, clocks, PCIe/ECC/MIG, and the process table. */
function gpuLines(g: GpuReading, w: number): string[] {
  const lines = [
    `GPU ${g.gpuId}    ${g.name ?? 'unknown'}  [${g.status}]` +
      (g.performanceState !== null ? `  P${g.performanceState}` : '') +
      `  ${num(g.temperatureCelsius, ' C')}` +
      (g.memoryTemperatureCelsius !== null ? ` (memory ${g.memoryTemperatureCelsius} C)` : '') +
      `  ${num(g.powerWatts, ' W', 1)}` +
      (g.powerLimitWatts !== null ? ` / ${g.powerLimitWatts.toFixed(0)} W` : '') +
      (g.smClockMhz !== null ? `  SM ${g.smClockMhz} MHz` : '') +
      (g.fanPercent !== null ? `  fan ${g.fanPercent}%` : ''),
    `  util   ${bar(g.loadPercent === null ? null : g.loadPercent / 100, w)} ${num(g.loadPercent, '%')}` +
      (g.encoderUtilPercent !== null || g.decoderUtilPercent !== null ? `   enc ${pct(g.encoderUtilPercent)}  dec ${pct(g.decoderUtilPercent)}` : ''),
    `  memory ${bar(g.memoryUsedMb !== null && g.memoryTotalMb ? g.memoryUsedMb / g.memoryTotalMb : null, w)} ` +
      `${num(g.memoryUsedMb, '')} / ${num(g.memoryTotalMb, ' MB')}${g.memoryPercent !== null ? ` (${g.memoryPercent.toFixed(1)}%)` : ''}`,
  ];
  const clocks = clocksLine(g.clocksEventReasons);
  if (clocks) lines.push(`  ${clocks}`);
  const link =
    (g.pcieLinkGeneration !== null ? `PCIe Gen${g.pcieLinkGeneration}${g.pcieLinkWidth !== null ? ` x${g.pcieLinkWidth}` : ''}` : '') +
    (g.eccErrors
      ? `${g.pcieLinkGeneration !== null ? '   ' : ''}ECC ${num(g.eccErrors.correctedVolatile, '')} corrected, ${num(g.eccErrors.uncorrectedVolatile, '')} uncorrected (since boot)`
      : '') +
    (g.mig ? `   MIG ${g.mig.currentMode ? 'on' : 'off'}${g.mig.pendingMode !== g.mig.currentMode ? ` (${g.mig.pendingMode ? 'on' : 'off'} after reset)` : ''}` : '');
  if (link) lines.push(`  ${link.trimStart()}`);
  for (const d of g.mig?.currentMode ? g.mig.devices : []) {
    lines.push(`    MIG ${d.index}  GI ${d.gpuInstanceId ?? '?'} CI ${d.computeInstanceId ?? '?'}  ${num(d.memoryUsedMb, '')} / ${num(d.memoryTotalMb, ' MB')}  ${d.uuid ?? ''}`.trimEnd());
  }
  if (g.processes.length === 0) {
    lines.push('  processes: none');
    return lines;
  }
  // nvitop's table: pid, name, type (C, G, C+G), GPU memory, SM %, host RSS.
  lines.push(`  ${'PID'.padStart(8)}  ${'NAME'.padEnd(16)} ${'TYPE'.padEnd(4)} ${'GPU MEM'.padStart(10)} ${'SM'.padStart(5)}  HOST RSS`);
  for (const p of g.processes.slice(0, 8)) {
    const rss = processRssMb(p.pid);
    lines.push(
      `  ${String(p.pid).padStart(8)}  ${(p.name ?? processName(p.pid) ?? '?').slice(0, 16).padEnd(16)} ${(PROCESS_TYPE[p.type] ?? p.type).padEnd(4)} ` +
        `${num(p.usedMemoryMb, ' MB').padStart(10)} ${pct(p.smUtilPercent).padStart(5)}  ${num(rss, ' MB')}`,
    );
  }
  if (g.processes.length > 8) lines.push(`  ... ${g.processes.length - 8} more`);
  return lines;
}

/** The screen as lines (no escape codes), for a terminal of `columns` width; `events`: the newest GPU events, oldest first. */
export function renderScreen(s: WatchSample, intervalMs: number, columns: number, gpuNote: string | undefined, events: readonly GpuEvent[] = []): string[] {
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
  s.gpus.forEach((g, i) => lines.push(...(i > 0 ? [''] : []), ...gpuLines(g, w)));
  if (events.length > 0) {
    lines.push('', 'GPU events');
    for (const e of events.slice(-WATCH_EVENT_LINES)) {
      lines.push(`  ${new Date(e.timestamp).toISOString().slice(11, 19)}  GPU ${e.gpuId}  ${describeGpuEvent(e)}`);
    }
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
  // Xid, ECC and clock events from the native thread: the newest kept for the screen, the new ones for --json.
  const recent: GpuEvent[] = [];
  let fresh: GpuEvent[] = [];
  let watcher: GpuEventWatcher | null = null;
  if (info.gpu.backend === 'nvml') {
    try {
      watcher = watchGpuEvents((e) => {
        recent.push(e);
        if (recent.length > WATCH_EVENT_LINES) recent.shift();
        if (fresh.length < 1000) fresh.push(e);
      });
    } catch {
      watcher = null; // events are extra: the view works without them
    }
  }

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
      watcher?.close();
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
        if (watcher) {
          s.events = fresh;
          fresh = [];
        }
        if (json) process.stdout.write(JSON.stringify(s) + '\n');
        else {
          const lines = renderScreen(s, intervalMs, process.stdout.columns ?? 80, gpuNote, recent);
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
