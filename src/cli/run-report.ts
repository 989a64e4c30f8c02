/**
 * What `perfprobe run` reports: the summary computed from the samples, and
 * its JSON, CSV and Markdown renderings. CSV string cells go through the
 * exporters' csvText (RFC 4180 quoting and the formula-injection guard);
 * run.ts writes every file with the exporters' atomic writer.
 *
 * The samples stay in a plain array rather than the collector's store: a
 * run's peaks, averages and energy must cover the whole run, and the
 * store's rings are bounded by maxHistorySize.
 */
import { csvText } from '../exporters/files/codecs.js';
import { describeGpuEvent, type GpuEvent } from '../probes/gpu-events.js';
import type { Tick } from './sampling.js';
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
export interface RunGpuEvent {
  /** ms after the command started (0 for one that came while it was being started). */
  elapsedMs: number;
  gpuId: number;
  uuid: string | null;
  type: GpuEvent['type'];
  xid: number | null;
  reasons: readonly string[] | null;
  /** `Xid 79 (GPU fell off the bus: ...)`, `double-bit ECC error (uncorrected)`, ... */
  text: string;
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

/** Trapezoidal integral of power (W) over time (ms) -> joules; gaps where power is unknown are skipped. */
export function integrateEnergyJoules(points: Array<{ t: number; w: number | null }>): number | null {
  let joules = 0;
  let any = false;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    if (a.w === null || b.w === null || b.t <= a.t) continue;
    joules += ((a.w + b.w) / 2) * ((b.t - a.t) / 1000);
    any = true;
  }
  return any ? joules : null;
}

export function summarize(facts: RunFacts, ticks: Tick[]): RunSummary {
  const gpuIds = new Set<number>();
  for (const t of ticks) for (const g of t.gpus) gpuIds.add(g.gpuId);
  const gpus: GpuRunSummary[] = [...gpuIds].sort((a, b) => a - b).map((id) => {
    const rows = ticks.flatMap((t) => t.gpus.filter((g) => g.gpuId === id).map((g) => ({ t: t.timestamp, g })));
    const counter = facts.energyCounterJoules.get(id);
    // Power is held at its first and last readings out to the start and end of the run.
    const points = rows.map((r) => ({ t: r.t, w: r.g.powerWatts }));
    const known = points.filter((p) => p.w !== null);
    if (known.length) {
      points.unshift({ t: Math.min(facts.startTime, known[0]!.t), w: known[0]!.w });
      points.push({ t: Math.max(facts.startTime + facts.durationMs, known[known.length - 1]!.t), w: known[known.length - 1]!.w });
    }
    const integrated = integrateEnergyJoules(points);
    const energy = counter ?? integrated;
    return {
      gpuId: id,
      name: facts.gpuNames.get(id) ?? null,
      samples: rows.length,
      avgUtilizationPercent: round(avgOf(rows.map((r) => r.g.loadPercent)), 1),
      peakUtilizationPercent: maxOf(rows.map((r) => r.g.loadPercent)),
      peakMemoryUsedMb: round(maxOf(rows.map((r) => r.g.memoryUsedMb))),
      memoryTotalMb: round(maxOf(rows.map((r) => r.g.memoryTotalMb))),
      peakTreeGpuMemoryMb: round(maxOf(rows.map((r) => r.g.treeGpuMemoryMb))),
      avgPowerWatts: round(avgOf(rows.map((r) => r.g.powerWatts))),
      peakPowerWatts: round(maxOf(rows.map((r) => r.g.powerWatts))),
      peakTemperatureCelsius: maxOf(rows.map((r) => r.g.temperatureCelsius)),
      energyJoules: round(energy, 1),
      energySource: counter !== undefined ? 'counter' : integrated !== null ? 'integrated' : null,
    };
  });
  const energies = gpus.map((g) => g.energyJoules).filter((e): e is number => e !== null);
  const peak = choosePeak(maxOf(ticks.map((t) => t.treeRssMb)), facts.peakMemory);
  return {
    command: facts.command,
    startTime: new Date(facts.startTime).toISOString(),
    exitCode: facts.exitCode,
    signal: facts.signal,
    durationMs: round(facts.durationMs, 1)!,
    userCpuMs: facts.userCpuMs,
    systemCpuMs: facts.systemCpuMs,
    intervalMs: facts.intervalMs,
    samples: ticks.length,
    samplerBackend: facts.samplerBackend,
    peakRssMb: round(peak.peakRssMb),
    peakRssSource: peak.peakRssSource,
    avgRssMb: round(avgOf(ticks.map((t) => t.treeRssMb))),
    peakSystemUsedMb: round(maxOf(ticks.map((t) => t.systemUsedMb))),
    systemTotalMb: round(maxOf(ticks.map((t) => t.systemTotalMb))),
    avgGpuUtilizationPercent: round(avgOf(gpus.map((g) => g.avgUtilizationPercent)), 1),
    peakGpuUtilizationPercent: maxOf(gpus.map((g) => g.peakUtilizationPercent)),
    peakGpuMemoryMb: maxOf(gpus.map((g) => g.peakMemoryUsedMb)),
    peakTreeGpuMemoryMb: maxOf(gpus.map((g) => g.peakTreeGpuMemoryMb)),
    energyJoules: energies.length ? round(energies.reduce((a, b) => a + b, 0), 1) : null,
    gpus,
    gpuEvents: (facts.gpuEvents?.events ?? []).map((e) => ({
      // The watcher starts just before the command: an event in between counts as at its start.
      elapsedMs: round(Math.max(0, e.timestamp - facts.startTime), 1)!,
      gpuId: e.gpuId,
      uuid: e.uuid,
      type: e.type,
      xid: e.xid ?? null,
      reasons: e.reasons ?? null,
      text: describeGpuEvent(e),
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

/** One row per sample; GPU columns per device. */
export function samplesCsv(ticks: Tick[], startTime: number): string {
  const gpuIds = [...new Set(ticks.flatMap((t) => t.gpus.map((g) => g.gpuId)))].sort((a, b) => a - b);
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
  const lines = [header.join(',')];
  for (const t of ticks) {
    const row: Array<number | string | null | undefined> = [new Date(t.timestamp).toISOString(), (t.timestamp - startTime).toFixed(1), t.systemUsedMb?.toFixed(2), t.systemTotalMb?.toFixed(2), t.treeRssMb?.toFixed(2)];
    for (const id of gpuIds) {
      const g = t.gpus.find((x) => x.gpuId === id);
      row.push(g?.loadPercent, g?.memoryUsedMb?.toFixed(2), g?.memoryTotalMb?.toFixed(2), g?.temperatureCelsius, g?.powerWatts, g?.treeGpuMemoryMb?.toFixed(2));
    }
    lines.push(row.map(numCell).join(','));
  }
  return lines.join('\n') + '\n';
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

export function runJson(s: RunSummary, ticks: Tick[]): string {
  return JSON.stringify(
    {
      perfprobe_run: 1,
      summary: s,
      samples: ticks.map((t) => ({ ...t, elapsedMs: Number((t.timestamp - Date.parse(s.startTime)).toFixed(1)) })),
    },
    null,
    1,
  );
}
