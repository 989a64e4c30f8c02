/**
 * `perfprobe serve [--port 9464] [--host 127.0.0.1] [--token T] [--interval 1s]`:
 * monitors this machine (memory and GPUs sampled by the collector's native
 * sampler) and serves the HTTP API, /metrics and the live dashboard.
 */
import { createServer, type Server } from 'node:http';
import { getPerformanceMetricsCollector } from '../collector/index.js';
import { createMetricsHandler } from '../http/index.js';
import { createDashboardRoutes } from '../http/dashboard.js';
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
  -h, --help             show this help
`;

export function parsePort(text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`perfprobe serve: --port must be an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  }
  return port;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new CliError(`perfprobe serve: ${host}:${port} is already in use; choose another port with --port`));
      else if (err.code === 'EACCES') reject(new CliError(`perfprobe serve: not allowed to listen on ${host}:${port} (ports below 1024 need privileges)`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new CliError(`perfprobe serve: --host ${host} is not an address of this machine`));
      else reject(new CliError(`perfprobe serve: cannot listen on ${host}:${port}: ${err.message}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    'serve',
    argv,
    { port: { type: 'string' }, host: { type: 'string' }, token: { type: 'string' }, interval: { type: 'string' } },
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

  const collector = getPerformanceMetricsCollector();
  collector.updateConfig({ memorySampleIntervalMs: intervalMs });
  const dashboard = createDashboardRoutes(collector, { stream: { intervalMs: Math.min(1000, Math.max(100, intervalMs)) } });
  const handler = createMetricsHandler(collector, { token, extraRoutes: dashboard });
  const server = createServer((req, res) => {
    void handler(req, res);
  });
  await listen(server, port, host);
  collector.startMonitoring();
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  process.stderr.write(
    `perfprobe serve: listening on http://${shownHost}:${actualPort}/ (dashboard), /metrics, /api/metrics/*; sampling every ${intervalMs} ms; Ctrl-C stops\n`,
  );

  return new Promise<number>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      collector.stopMonitoring();
      dashboard.close();
      server.close(() => resolve(0));
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
