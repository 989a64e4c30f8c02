/** `perfprobe info`: which probe backends are in use, NVML driver version, devices, and why a fallback is used. */
import { readGpus } from '../probes/gpu.js';
import { probeInfo } from '../probes/info.js';
import type { GpuReading } from '../probes/types.js';
import { parseCommandArgs } from './args.js';

export const INFO_HELP = `Usage: perfprobe info [--json]

Shows the probe backends in use (native addon or fallback), the NVML driver
version, every GPU found, and why a fallback is in use.

Options:
  --json       print the same as one JSON object
  -h, --help   show this help
`;

const n = (v: number | null, unit: string, digits = 0): string => (v === null ? 'n/a' : `${v.toFixed(digits)} ${unit}`);

export async function infoCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('info', argv, { json: { type: 'boolean' } }, false);
  if (values.help) {
    process.stdout.write(INFO_HELP);
    return 0;
  }
  const info = probeInfo();
  let gpus: GpuReading[] = [];
  let gpuError: string | undefined;
  try {
    gpus = await readGpus();
  } catch (err) {
    gpuError = (err as Error).message;
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ ...info, devices: gpus, gpuError }, null, 2) + '\n');
    return 0;
  }
  const lines = [
    `perfprobe ${(require('../../package.json') as { version: string }).version} on ${process.platform}-${process.arch}, Node ${process.version}`,
    `native addon:   ${info.addon.loaded ? `loaded${info.addon.path ? ` from ${info.addon.path}` : ''}` : `not loaded${info.addon.error ? `: ${info.addon.error}` : ''}`}`,
    `memory probe:   ${info.memory.backend}${info.memory.reason ? ` (fallback: ${info.memory.reason})` : ''}`,
    `GPU probe:      ${info.gpu.backend}${info.gpu.reason ? ` (${info.gpu.backend === 'nvml' ? '' : 'fallback: '}${info.gpu.reason})` : ''}`,
  ];
  if (info.gpu.driverVersion) lines.push(`NVML driver:    ${info.gpu.driverVersion}`);
  if (info.gpu.library) lines.push(`NVML library:   ${info.gpu.library}`);
  if (gpuError) lines.push(`GPU read error: ${gpuError}`);
  lines.push(`devices:        ${gpus.length === 0 ? 'none found' : gpus.length}`);
  for (const g of gpus) {
    lines.push(
      `  GPU ${g.gpuId}: ${g.name ?? 'unknown'}${g.uuid ? ` (${g.uuid})` : ''} [${g.status}]  ` +
        `util ${n(g.loadPercent, '%')}, memory ${n(g.memoryUsedMb, 'MB')} / ${n(g.memoryTotalMb, 'MB')}, ` +
        `${n(g.temperatureCelsius, 'C')}, ${n(g.powerWatts, 'W', 1)}${g.powerLimitWatts !== null ? ` of ${n(g.powerLimitWatts, 'W')}` : ''}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
