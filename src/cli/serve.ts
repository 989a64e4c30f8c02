/**
 * `perfprobe serve [--port 9464] [--host 127.0.0.1] [--token T] [--interval 1s]`:
 * monitors this machine (memory and GPUs sampled by the collector's native
 * sampler) and serves the HTTP API, /metrics and the live dashboard.
 */
import { getPerformanceMetricsCollector } from '../collector/index.js';
import { serve, type RunningServer } from '../http/serve.js';
import { CliError, UsageError, parseCommandArgs } from './args.js';
import { parseDuration } from './duration.js';

export const SERVE_HELP = `Usage: perfprobe serve [options]

Samples system and process memory and every GPU, and serves:
  /                       the live dashboard (charts and an operations table)
  /api/metrics/stream     Server-Sent Events feeding the dashboard
  /api/metrics/...        the REST API (stats, summary, export, monitoring)
  /metrics                Prometheus text format

Options:
  --port <n>             port to listen on (default 9464; 0 picks a free port)
  --host <address>       address to bind (default 127.0.0.1)
  --token <secret>       require 'Authorization: Bearer <secret>' (the dashboard takes ?token=<secret>)
  --interval <duration>  sampling interval (default 1s; units ms, s, m, h)
  --gpu-metric-names <perfprobe|dcgm>
                         /metrics GPU names: perfprobe's (default) or NVIDIA
                         dcgm-exporter's (DCGM_FI_DEV_GPU_UTIL ..., labels gpu, UUID,
                         modelName, Hostname), for dashboards written for dcgm-exporter
  -h, --help             show this help
`;

export function parsePort(text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`perfprobe serve: --port must be an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  }
  return port;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    'serve',
    argv,
    { port: { type: 'string' }, host: { type: 'string' }, token: { type: 'string' }, interval: { type: 'string' }, 'gpu-metric-names': { type: 'string' } },
    false,
  );
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const port = values.port === undefined ? 9464 : parsePort(values.port as string);
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  const token = values.token as string | undefined;
  if (token !== undefined && token.length === 0) throw new UsageError('perfprobe serve: --token must not be empty');
  let intervalMs = 1000;
  if (values.interval !== undefined) {
    try {
      intervalMs = parseDuration('--interval', values.interval as string);
    } catch (err) {
      throw new UsageError(`perfprobe serve: ${(err as Error).message}`);
    }
  }

  const names = values['gpu-metric-names'] as string | undefined;
  if (names !== undefined && names !== 'perfprobe' && names !== 'dcgm') {
    throw new UsageError(`perfprobe serve: --gpu-metric-names must be perfprobe or dcgm, got ${JSON.stringify(names)}`);
  }
  const gpuMetricNames = names as 'perfprobe' | 'dcgm' | undefined;

  const collector = getPerformanceMetricsCollector();
  collector.updateConfig({ memorySampleIntervalMs: intervalMs });
  let running: RunningServer;
  try {
    running = await serve({ port, host, token, collector, dashboard: true, ...(gpuMetricNames ? { gpuMetricNames } : {}) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`perfprobe serve: ${host}:${port} is already in use; choose another port with --port`);
    if (code === 'EACCES') throw new CliError(`perfprobe serve: not allowed to listen on ${host}:${port} (ports below 1024 need privileges)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliError(`perfprobe serve: --host ${host} is not an address of this machine`);
    throw new CliError(`perfprobe serve: ${(err as Error).message.split('\n')[0]}`);
  }
  collector.startMonitoring();
  process.stderr.write(
    `perfprobe serve: listening on ${running.url}/ (dashboard), /metrics, /api/metrics/*; sampling every ${intervalMs} ms; Ctrl-C stops\n`,
  );

  return new Promise<number>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      collector.stopMonitoring();
      running.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
