/**
 * The GPU part of a scrape, in one of two namings:
 *
 * - 'perfprobe' (default): the GPU_GAUGES families `perfprobe_gpu_*`
 *   labelled gpu, uuid and name (bytes, hertz, watts, celsius, percent);
 *   `perfprobe_gpu_clocks_event_reason{reason}` 0/1 for every known reason
 *   (and unknown bits that are set); `perfprobe_gpu_ecc_errors_total{error,
 *   counter}`; `perfprobe_gpu_xid_errors_total{gpu,uuid,xid}` from the
 *   events the collector recorded while monitoring.
 * - 'dcgm': NVIDIA dcgm-exporter's names, labels (gpu, UUID, modelName,
 *   Hostname; GPU_I_ID on the memory series of each MIG device) and units
 *   (MiB, MHz, W, C, %) for every field perfprobe has (GPU_GAUGES' dcgm
 *   names), DCGM_FI_DEV_CLOCKS_EVENT_REASONS (the bitmask),
 *   DCGM_FI_DEV_XID_ERRORS (the last Xid seen, 0 before any) and the four
 *   DCGM_FI_DEV_ECC_* counters, so dashboards written for dcgm-exporter
 *   (NVIDIA's Grafana dashboard 12239) work unchanged. The Xid counter, which
 *   dcgm-exporter's default counters lack, keeps its perfprobe name. dcgm-exporter's own naming does not pass `promtool
 *   check metrics`' lint (the camelCase modelName label, counters whose names
 *   end in _TOTAL rather than _total); perfprobe keeps it as dcgm-exporter
 *   has it, except that in OpenMetrics (which requires counters to end in
 *   _total) the ECC families are declared unknown.
 */
import { hostname } from 'node:os';
import { compile } from '../schema/compile.js';
import { CLOCKS_EVENT_REASONS, GAUGE_SCALE, GPU_ECC_COUNTERS, GPU_GAUGES, type GpuGauges } from '../schema/gpu.js';
import { clocksEventReasonMask } from '../probes/decode.js';
import type { GpuXidCount } from '../probes/gpu-events.js';
import { escapeLabelValue, formatValue } from './prometheus-text.js';

/** Which names the GPU families use. */
export type GpuMetricNames = 'perfprobe' | 'dcgm';
export const GPU_METRIC_NAMES: readonly GpuMetricNames[] = Object.freeze(['perfprobe', 'dcgm']);

/** The GPU figures of one scrape. */
export interface GpuSnapshot {
  gpus: GpuGauges[];
  xidErrors: GpuXidCount[];
}

// Named loads of each gauge (compiled from the table: no keyed loads on a scrape).
const GPU_GAUGE_PICKS: ReadonlyArray<(g: GpuGauges) => number | null> = GPU_GAUGES.map((f) =>
  compile<(g: GpuGauges) => number | null>(`pick_${f.gauge}`, ['g'], `return g.${f.gauge};`),
);

const KNOWN_REASONS: readonly string[] = CLOCKS_EVENT_REASONS.map((r) => r.name);

function family(name: string, type: 'gauge' | 'counter' | 'unknown', help: string, unit: string, body: string, openMetrics: boolean): string {
  if (body === '') return '';
  const t = type === 'unknown' && !openMetrics ? 'untyped' : type;
  return `# HELP ${name} ${help}\n# TYPE ${name} ${t}\n${openMetrics && unit ? `# UNIT ${name} ${unit}\n` : ''}${body}`;
}

/** The perfprobe-named GPU families. */
function perfprobeFamilies(snap: GpuSnapshot, openMetrics: boolean): string {
  const gpus = snap.gpus;
  let s = '';
  if (gpus.length > 0) {
    const labels = gpus.map((g) => `gpu="${g.gpu}",uuid="${escapeLabelValue(g.uuid)}",name="${escapeLabelValue(g.name)}"`);
    for (let k = 0; k < GPU_GAUGES.length; k++) {
      const f = GPU_GAUGES[k]!;
      const pick = GPU_GAUGE_PICKS[k]!;
      let body = '';
      for (let i = 0; i < gpus.length; i++) {
        const v = pick(gpus[i]!);
        if (v !== null) body += `${f.prometheus.name}{${labels[i]}} ${formatValue(v)}\n`;
      }
      s += family(f.prometheus.name, 'gauge', f.prometheus.help, f.prometheus.unit, body, openMetrics);
    }
    let reasons = '';
    for (let i = 0; i < gpus.length; i++) {
      const now = gpus[i]!.clocksEventReasons;
      if (now === null) continue;
      for (const r of KNOWN_REASONS) reasons += `perfprobe_gpu_clocks_event_reason{${labels[i]},reason="${r}"} ${now.includes(r) ? 1 : 0}\n`;
      for (const r of now) if (!KNOWN_REASONS.includes(r)) reasons += `perfprobe_gpu_clocks_event_reason{${labels[i]},reason="${escapeLabelValue(r)}"} 1\n`;
    }
    s += family('perfprobe_gpu_clocks_event_reason', 'gauge', 'Why the GPU clocks are held down now: 1 for each reason that applies, else 0.', '', reasons, openMetrics);
    let ecc = '';
    const eccName = openMetrics ? 'perfprobe_gpu_ecc_errors' : 'perfprobe_gpu_ecc_errors_total';
    for (let i = 0; i < gpus.length; i++) {
      const e = gpus[i]!.eccErrors;
      if (e === null) continue;
      for (const c of GPU_ECC_COUNTERS) {
        const v = e[c.key];
        if (v !== null) ecc += `perfprobe_gpu_ecc_errors_total{${labels[i]},error="${c.error}",counter="${c.counter}"} ${formatValue(v)}\n`;
      }
    }
    s += family(eccName, 'counter', 'ECC memory errors: corrected (single-bit) or uncorrected (double-bit), since the driver loaded (volatile) or over the GPU lifetime (aggregate).', '', ecc, openMetrics);
  }
  let xid = '';
  for (const x of snap.xidErrors) {
    xid += `perfprobe_gpu_xid_errors_total{gpu="${x.gpuId}",uuid="${escapeLabelValue(x.uuid ?? '')}",xid="${x.xid}"} ${x.count}\n`;
  }
  s += family(openMetrics ? 'perfprobe_gpu_xid_errors' : 'perfprobe_gpu_xid_errors_total', 'counter', 'Xid errors the GPU driver reported while perfprobe was monitoring, by Xid.', '', xid, openMetrics);
  return s;
}

let host: string | null = null;

/** The dcgm-exporter-named GPU families. */
function dcgmFamilies(snap: GpuSnapshot, openMetrics: boolean): string {
  const gpus = snap.gpus;
  if (gpus.length === 0) return '';
  host ??= escapeLabelValue(hostname());
  const labels = gpus.map((g) => `gpu="${g.gpu}",UUID="${escapeLabelValue(g.uuid)}",modelName="${escapeLabelValue(g.name)}",Hostname="${host}"`);
  let s = '';
  for (let k = 0; k < GPU_GAUGES.length; k++) {
    const f = GPU_GAUGES[k]!;
    if (f.dcgm === null) continue;
    const pick = GPU_GAUGE_PICKS[k]!;
    const scale = GAUGE_SCALE[f.convert];
    let body = '';
    for (let i = 0; i < gpus.length; i++) {
      const v = pick(gpus[i]!);
      if (v !== null) body += `${f.dcgm.name}{${labels[i]}} ${formatValue(v / scale)}\n`;
      // The memory of each MIG device, as dcgm-exporter reports it per GPU instance.
      const mig = gpus[i]!.mig;
      if (mig?.currentMode && (f.field === 'memoryUsedMb' || f.field === 'memoryFreeMb' || f.field === 'memoryTotalMb')) {
        for (const d of mig.devices) {
          const mv = f.field === 'memoryUsedMb' ? d.memoryUsedMb : f.field === 'memoryTotalMb' ? d.memoryTotalMb : d.memoryTotalMb !== null && d.memoryUsedMb !== null ? d.memoryTotalMb - d.memoryUsedMb : null;
          if (mv !== null && d.gpuInstanceId !== null) body += `${f.dcgm.name}{${labels[i]},GPU_I_ID="${d.gpuInstanceId}"} ${formatValue(mv)}\n`;
        }
      }
    }
    s += family(f.dcgm.name, 'gauge', f.dcgm.help, '', body, openMetrics);
  }
  let reasons = '';
  for (let i = 0; i < gpus.length; i++) {
    const mask = clocksEventReasonMask(gpus[i]!.clocksEventReasons);
    if (mask !== null) reasons += `DCGM_FI_DEV_CLOCKS_EVENT_REASONS{${labels[i]}} ${mask}\n`;
  }
  s += family('DCGM_FI_DEV_CLOCKS_EVENT_REASONS', 'gauge', 'Current clock event reasons (bitmask of DCGM_CLOCKS_EVENT_REASON_*).', '', reasons, openMetrics);
  // The last Xid seen per GPU (dcgm-exporter: "Value of the last XID error encountered"), 0 before any.
  let xid = '';
  for (let i = 0; i < gpus.length; i++) {
    let last: { xid: number; at: number } | null = null;
    for (const x of snap.xidErrors) {
      if (x.gpuId === gpus[i]!.gpu && (last === null || x.lastTimestamp > last.at)) last = { xid: x.xid, at: x.lastTimestamp };
    }
    xid += `DCGM_FI_DEV_XID_ERRORS{${labels[i]}} ${last === null ? 0 : last.xid}\n`;
  }
  s += family('DCGM_FI_DEV_XID_ERRORS', 'gauge', 'Value of the last XID error encountered.', '', xid, openMetrics);
  for (const c of GPU_ECC_COUNTERS) {
    let body = '';
    for (let i = 0; i < gpus.length; i++) {
      const v = gpus[i]!.eccErrors?.[c.key] ?? null;
      if (v !== null) body += `${c.dcgm}{${labels[i]}} ${formatValue(v)}\n`;
    }
    const what = `${c.error === 'corrected' ? 'single-bit' : 'double-bit'} ${c.counter === 'volatile' ? 'volatile' : 'persistent'}`;
    s += family(c.dcgm, openMetrics ? 'unknown' : 'counter', `Total number of ${what} ECC errors.`, '', body, openMetrics);
  }
  // No dcgm name for these: kept under perfprobe's.
  return s + perfprobeOnlyFamilies(snap, openMetrics);
}

function perfprobeOnlyFamilies(snap: GpuSnapshot, openMetrics: boolean): string {
  return perfprobeFamilies({ gpus: [], xidErrors: snap.xidErrors }, openMetrics);
}

/** The GPU part of a scrape in the given naming. */
export function gpuFamilies(snap: GpuSnapshot, openMetrics: boolean, names: GpuMetricNames = 'perfprobe'): string {
  return names === 'dcgm' ? dcgmFamilies(snap, openMetrics) : perfprobeFamilies(snap, openMetrics);
}
