/**
 * serve(): an HTTP server with createMetricsHandler() on loopback by default.
 *
 * The dashboard: with `dashboard: true`, serve() adds the routes of
 * ./dashboard.ts (createDashboardRoutes(collector): `/`, `/assets/*`,
 * `/api/metrics/stream`) as extraRoutes, and close() ends its SSE streams.
 * A caller can also pass `extraRoutes` itself (chained after the dashboard).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkInteger, typeError } from '../errors.js';
import type { GpuMetricNames } from '../exporters/prometheus-gpu.js';
import { createMetricsHandler, type ExtraRoutes, type HttpMetricsSource } from './handler.js';
import { createDashboardRoutes, type DashboardRoutes } from './dashboard.js';

export interface ServeOptions {
  /** Default 9464 (the Prometheus exporter port convention); 0 = a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  token?: string;
  collector?: HttpMetricsSource;
  /** Serve the dashboard (`/`, `/assets/*`, `/api/metrics/stream`) from ./dashboard.js. */
  dashboard?: boolean;
  extraRoutes?: ExtraRoutes;
  /** /metrics' GPU families: perfprobe's names (default) or NVIDIA dcgm-exporter's ('dcgm'). */
  gpuMetricNames?: GpuMetricNames;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  server: Server;
  /** Stops listening and closes open connections (SSE streams included). */
  close(): Promise<void>;
}

export async function serve(options: ServeOptions = {}): Promise<RunningServer> {
  const port = checkInteger('port', options.port ?? 9464, 0, 65535);
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) throw typeError('host', 'a non-empty string', host);
  const routes: ExtraRoutes[] = [];
  let dashboard: DashboardRoutes | undefined;
  if (options.dashboard) {
    dashboard = createDashboardRoutes(options.collector);
    routes.push(dashboard);
  }
  if (options.extraRoutes) routes.push(options.extraRoutes);
  const extraRoutes: ExtraRoutes | undefined =
    routes.length === 0
      ? undefined
      : routes.length === 1
        ? routes[0]
        : async (req, res, url) => {
            for (const r of routes) if (await r(req, res, url)) return true;
            return false;
          };
  const handler = createMetricsHandler(options.collector, { token: options.token, extraRoutes, gpuMetricNames: options.gpuMetricNames });
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(Object.assign(new Error(`serve: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }), {
        code: (err as NodeJS.ErrnoException).code,
      }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    host: addr.address,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        dashboard?.close();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
