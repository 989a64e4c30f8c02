/**
 * What `perfprobe run` reports: the summary computed from the samples, and
 * its JSON, CSV and Markdown renderings. CSV string cells go through the
 * exporters' csvText (RFC 4180 quoting and the formula-injection guard);
 * run.ts writes every file with the exporters' atomic writer.
 *
 * No sample is kept: a run's peaks, averages and energy cover the whole run
 * through RunStats' running summaries (./run-stream.ts), and the samples go
 * to --json / --csv as they come (jsonSample, csvSampleRow), so memory does
 * not grow with the run's length.
 */
import { csvText } from '../exporters/files/codecs.js';
import { describedGpuEvent, type DescribedGpuEvent, type GpuEvent } from '../probes/gpu-events.js';
import type { Tick } from './sampling.js';
import type { RunStats } from './run-stream.js';
import { humanDuration } from './duration.js';
import { choosePeak, type PeakMemoryFacts, type PeakRssSource } from './peak-memory.js';

export interface GpuRunSummary {
  gpuId: number;
  name: string | null;
  samples: number;
  avgUtilizationPercent: number | null;
  peakUtilizationPercent: number | null;
  peakMemoryUsedMb: number | null;
  memoryTotalMb: number | null;
  /** GPU memory of the command's own process tree at its peak; null when the driver does not list processes. */
  peakTreeGpuMemoryMb: number | null;
  avgPowerWatts: number | null;
  peakPowerWatts: number | null;
  peakTemperatureCelsius: number | null;
  /** Energy over the run: the driver's energy counter where available, else power integrated over time. */
  energyJoules: number | null;
  energySource: 'counter' | 'integrated' | null;
}

export interface RunSummary {
  command: string[];
  startTime: string;
  exitCode: number;
  signal: string | null;
  durationMs: number;
  /** User and system CPU time of the command's process tree (processes it waited for); null off Linux. */
  userCpuMs: number | null;
  systemCpuMs: number | null;
  intervalMs: number;
  samples: number;
  samplerBackend: 'native' | 'js';
  /**
   * Peak memory of the command's process tree: where the command ran in its
   * own cgroup, the cgroup's memory.peak; else the larger of the kernel's
   * per-process high-water marks and the sampled tree RSS (peak-memory.ts).
   */
  peakRssMb: number | null;
  /** Which of those gave peakRssMb: 'cgroup' (exact), 'hwm' (a floor), 'sampled'; null when none is known. */
  peakRssSource: PeakRssSource | null;
  avgRssMb: number | null;
  peakSystemUsedMb: number | null;
  systemTotalMb: number | null;
  avgGpuUtilizationPercent: number | null;
  peakGpuUtilizationPercent: number | null;
  peakGpuMemoryMb: number | null;
  peakTreeGpuMemoryMb: number | null;
  energyJoules: number | null;
  gpus: GpuRunSummary[];
  /** GPU events (Xid, ECC, clock changes) while the command ran, oldest first (at most MAX_RUN_GPU_EVENTS). */
  gpuEvents: RunGpuEvent[];
  /** Events beyond MAX_RUN_GPU_EVENTS, counted only. */
  gpuEventsDropped: number;
}

/** A GPU event in the run summary, with its meaning. */
export interface RunGpuEvent extends DescribedGpuEvent {
  /** ms after the command started (0 for one that came while it was being started). */
  elapsedMs: number;
}

/** GPU events a run keeps (an event storm is counted, not stored). */
export const MAX_RUN_GPU_EVENTS = 1000;

export interface RunFacts {
  command: string[];
  startTime: number;
  exitCode: number;
  signal: string | null;
  durationMs: number;
  userCpuMs: number | null;
  systemCpuMs: number | null;
  intervalMs: number;
  samplerBackend: 'native' | 'js';
  gpuNames: Map<number, string | null>;
  /** Energy in joules per GPU from the driver's counter (end - start), when it was read. */
  energyCounterJoules: Map<number, number>;
  /** The kernel's peaks (cgroup, high-water marks); absent: the sampled peak only. */
  peakMemory?: PeakMemoryFacts;
  /** GPU events seen while the command ran (watchGpuEvents), and how many more were dropped. */
  gpuEvents?: { events: GpuEvent[]; dropped: number };
}

function maxOf(values: Iterable<number | null>): number | null {
  let m: number | null = null;
  for (const v of values) if (v !== null && (m === null || v > m)) m = v;
  return m;
}
function avgOf(values: Iterable<number | null>): number | null {
  let s = 0;
  let n = 0;
  for (const v of values) if (v !== null) (s += v), n++;
  return n ? s / n : null;
}
const round = (v: number | null, digits = 2): number | null => (v === null ? null : Number(v.toFixed(digits)));

export function summarize(facts: RunFacts, stats: RunStats): RunSummary {
  const gpus: GpuRunSummary[] = stats.gpuIds().map((id) => {
    const g = stats.gpus.get(id)!;
    const counter = facts.energyCounterJoules.get(id);
    const integrated = g.integratedJoules(facts.startTime, facts.startTime + facts.durationMs);
    const energy = counter ?? integrated;
    return {
      gpuId: id,
      name: facts.gpuNames.get(id) ?? null,
      samples: g.samples,
      avgUtilizationPercent: round(g.load.avg, 1),
      peakUtilizationPercent: g.load.max,
      peakMemoryUsedMb: round(g.memoryUsedMb.max),
      memoryTotalMb: round(g.memoryTotalMb.max),
      peakTreeGpuMemoryMb: round(g.treeGpuMemoryMb.max),
      avgPowerWatts: round(g.power.avg),
      peakPowerWatts: round(g.power.max),
      peakTemperatureCelsius: g.temperatureCelsius.max,
      energyJoules: round(energy, 1),
      energySource: counter !== undefined ? 'counter' : integrated !== null ? 'integrated' : null,
    };
  });
  const energies = gpus.map((g) => g.energyJoules).filter((e): e is number => e !== null);
  const peak = choosePeak(stats.treeRssMb.max, facts.peakMemory);
  return {
    command: facts.command,
    startTime: new Date(facts.startTime).toISOString(),
    exitCode: facts.exitCode,
    signal: facts.signal,
    durationMs: round(facts.durationMs, 1)!,
    userCpuMs: facts.userCpuMs,
    systemCpuMs: facts.systemCpuMs,
    intervalMs: facts.intervalMs,
    samples: stats.samples,
    samplerBackend: facts.samplerBackend,
    peakRssMb: round(peak.peakRssMb),
    peakRssSource: peak.peakRssSource,
    avgRssMb: round(stats.treeRssMb.avg),
    peakSystemUsedMb: round(stats.systemUsedMb.max),
    systemTotalMb: round(stats.systemTotalMb.max),
    avgGpuUtilizationPercent: round(avgOf(gpus.map((g) => g.avgUtilizationPercent)), 1),
    peakGpuUtilizationPercent: maxOf(gpus.map((g) => g.peakUtilizationPercent)),
    peakGpuMemoryMb: maxOf(gpus.map((g) => g.peakMemoryUsedMb)),
    peakTreeGpuMemoryMb: maxOf(gpus.map((g) => g.peakTreeGpuMemoryMb)),
    energyJoules: energies.length ? round(energies.reduce((a, b) => a + b, 0), 1) : null,
    gpus,
    gpuEvents: (facts.gpuEvents?.events ?? []).map((e) => ({
      // The watcher starts just before the command: an event in between counts as at its start.
      elapsedMs: round(Math.max(0, e.timestamp - facts.startTime), 1)!,
      ...describedGpuEvent(e),
    })),
    gpuEventsDropped: facts.gpuEvents?.dropped ?? 0,
  };
}

/** The summary's GPU event lines: each event (the first 20) with its time into the run. */
function gpuEventLines(s: RunSummary): string[] {
  const n = s.gpuEvents.length + s.gpuEventsDropped;
  if (n === 0) return [];
  const shown = s.gpuEvents.slice(0, 20).map((e) => `    +${humanDuration(Math.max(0, e.elapsedMs))}  GPU ${e.gpuId}  ${e.text}`);
  const more = n - shown.length;
  return [`  GPU events       ${n}`, ...shown, ...(more > 0 ? [`    ... ${more} more`] : [])];
}

const f = (v: number | null, unit: string, digits = 1): string => (v === null ? 'n/a' : `${v.toFixed(digits)} ${unit}`);

/** Summary lines for stderr. */
export function summaryText(s: RunSummary): string {
  const end = s.signal ? `killed by ${s.signal} (exit ${s.exitCode})` : `exit ${s.exitCode}`;
  const cpu =
    s.userCpuMs === null ? 'n/a' : `${humanDuration(s.userCpuMs)} user + ${humanDuration(s.systemCpuMs ?? 0)} system`;
  const lines = [
    `perfprobe: ${s.command.join(' ')}: ${end}`,
    `  wall time        ${humanDuration(s.durationMs)}`,
    `  CPU time         ${cpu}`,
    `  tree RSS         peak ${f(s.peakRssMb, 'MB')}${s.peakRssSource ? ` (${s.peakRssSource})` : ''}, average ${f(s.avgRssMb, 'MB')} (${s.samples} samples every ${s.intervalMs} ms, ${s.samplerBackend} sampler)`,
  ];
  if (s.gpus.length === 0) lines.push('  GPU              none found');
  for (const g of s.gpus) {
    lines.push(
      `  GPU ${g.gpuId}${g.name ? ` ${g.name}` : ''}: utilization avg ${f(g.avgUtilizationPercent, '%')}, peak ${f(g.peakUtilizationPercent, '%', 0)}; ` +
        `memory peak ${f(g.peakMemoryUsedMb, 'MB', 0)} (this command ${f(g.peakTreeGpuMemoryMb, 'MB', 0)}); ` +
        `energy ${f(g.energyJoules, 'J')}`,
    );
  }
  if (s.gpus.length > 1) lines.push(`  GPU energy total ${f(s.energyJoules, 'J')}`);
  lines.push(...gpuEventLines(s));
  return lines.join('\n') + '\n';
}

export function summaryMarkdown(s: RunSummary): string {
  const cell = (v: number | null, unit: string, digits = 1): string => (v === null ? 'n/a' : `${v.toFixed(digits)} ${unit}`);
  const rows: Array<[string, string]> = [
    ['Command', '`' + s.command.join(' ').replace(/`/g, "'") + '`'],
    ['Exit', s.signal ? `${s.exitCode} (${s.signal})` : String(s.exitCode)],
    ['Wall time', humanDuration(s.durationMs)],
    ['User CPU', s.userCpuMs === null ? 'n/a' : humanDuration(s.userCpuMs)],
    ['System CPU', s.systemCpuMs === null ? 'n/a' : humanDuration(s.systemCpuMs)],
    ['Peak RSS (process tree)', cell(s.peakRssMb, 'MB')],
    ['Average RSS (process tree)', cell(s.avgRssMb, 'MB')],
  ];
  for (const g of s.gpus) {
    const p = `GPU ${g.gpuId}`;
    rows.push([`${p} utilization avg / peak`, `${cell(g.avgUtilizationPercent, '%')} / ${cell(g.peakUtilizationPercent, '%', 0)}`]);
    rows.push([`${p} peak memory (device / this command)`, `${cell(g.peakMemoryUsedMb, 'MB', 0)} / ${cell(g.peakTreeGpuMemoryMb, 'MB', 0)}`]);
    rows.push([`${p} energy`, cell(g.energyJoules, 'J')]);
  }
  if (s.gpus.length === 0) rows.push(['GPU', 'none found']);
  for (const e of s.gpuEvents.slice(0, 20)) rows.push([`GPU ${e.gpuId} event at +${humanDuration(Math.max(0, e.elapsedMs))}`, e.text]);
  const moreEvents = s.gpuEvents.length + s.gpuEventsDropped - Math.min(20, s.gpuEvents.length);
  if (moreEvents > 0) rows.push(['GPU events not shown', String(moreEvents)]);
  return ['### perfprobe run', '', '| measurement | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`), ''].join('\n') + '\n';
}

/** A CSV cell: strings (commands, GPU names, signals) through csvText; numbers as they are. */
function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? csvText(v) : String(v);
}

/** A number cell already formatted (toFixed): never neutralised, never quoted. */
function numCell(v: number | string | null | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}

/**
 * samples.csv's header: GPU columns per device, for the GPUs of the first
 * sample (the native sampler reports every GPU in every sample).
 */
export function csvSamplesHeader(gpuIds: readonly number[]): string {
  const header = ['timestamp', 'elapsed_ms', 'system_used_mb', 'system_total_mb', 'tree_rss_mb'];
  for (const id of gpuIds)
    header.push(
      `gpu${id}_load_percent`,
      `gpu${id}_memory_used_mb`,
      `gpu${id}_memory_total_mb`,
      `gpu${id}_temperature_celsius`,
      `gpu${id}_power_watts`,
      `gpu${id}_tree_memory_mb`,
    );
  return header.join(',') + '\n';
}

/** One samples.csv row (with its newline), columns as csvSamplesHeader(gpuIds). */
export function csvSampleRow(t: Tick, startTime: number, gpuIds: readonly number[]): string {
  const row: Array<number | string | null | undefined> = [new Date(t.timestamp).toISOString(), (t.timestamp - startTime).toFixed(1), t.systemUsedMb?.toFixed(2), t.systemTotalMb?.toFixed(2), t.treeRssMb?.toFixed(2)];
  for (const id of gpuIds) {
    const g = t.gpus.find((x) => x.gpuId === id);
    row.push(g?.loadPercent, g?.memoryUsedMb?.toFixed(2), g?.memoryTotalMb?.toFixed(2), g?.temperatureCelsius, g?.powerWatts, g?.treeGpuMemoryMb?.toFixed(2));
  }
  return row.map(numCell).join(',') + '\n';
}

export function summaryCsv(s: RunSummary): string {
  const lines = ['field,value'];
  for (const [k, v] of Object.entries(s)) {
    if (k === 'gpus' || k === 'gpuEvents') continue;
    lines.push(`${k},${csvCell(Array.isArray(v) ? v.join(' ') : v)}`);
  }
  for (const g of s.gpus) for (const [k, v] of Object.entries(g)) if (k !== 'gpuId') lines.push(`gpu${g.gpuId}_${k},${csvCell(v)}`);
  lines.push(`gpuEventCount,${s.gpuEvents.length + s.gpuEventsDropped}`);
  s.gpuEvents.forEach((e, i) => lines.push(`gpuEvent${i},${csvCell(`+${e.elapsedMs} ms GPU ${e.gpuId} ${e.text}`)}`));
  return lines.join('\n') + '\n';
}

/*
 * --json, written as the run goes: {"perfprobe_run": 1, "samples": [...], "summary": {...}}.
 * The samples come first, one per line, so the file is written while the
 * command runs; the summary, known at the end, comes last.
 */
export const JSON_HEAD = '{\n "perfprobe_run": 1,\n "samples": [';

/** One sample of the --json file: `first` for the first one (no comma before it). */
export function jsonSample(t: Tick, startTime: number, first: boolean): string {
  return `${first ? '' : ','}\n  ${JSON.stringify({ ...t, elapsedMs: Number((t.timestamp - startTime).toFixed(1)) })}`;
}

/** The end of the --json file: the samples' closing bracket and the summary. */
export function jsonTail(s: RunSummary, anySample: boolean): string {
  const summary = JSON.stringify(s, null, 1).replace(/\n/g, '\n ');
  return `${anySample ? '\n ' : ''}],\n "summary": ${summary}\n}\n`;
}
