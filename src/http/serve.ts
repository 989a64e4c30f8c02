/**
 * serve(): an HTTP server with createMetricsHandler() on loopback by default.
 *
 * The dashboard: with `dashboard: true`, serve() loads ./dashboard.js (owned
 * by the CLI) and uses its route function as extraRoutes. It looks for
 * `createDashboardRoutes(collector)` returning an ExtraRoutes function, or a
 * ready `dashboardRoutes` function. A caller can also pass `extraRoutes`
 * itself (both are chained: dashboard first).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkInteger, typeError } from '../errors.js';
import { createMetricsHandler, type ExtraRoutes, type HttpMetricsSource } from './handler.js';

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
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  server: Server;
  /** Stops listening and closes open connections (SSE streams included). */
  close(): Promise<void>;
}

type DashboardModule = {
  createDashboardRoutes?: (collector?: HttpMetricsSource) => ExtraRoutes | Promise<ExtraRoutes>;
  dashboardRoutes?: ExtraRoutes;
};

async function loadDashboard(collector?: HttpMetricsSource): Promise<ExtraRoutes> {
  const spec = './dashboard.js';
  let mod: DashboardModule;
  try {
    mod = (await import(spec)) as DashboardModule;
  } catch (err) {
    throw new Error(`serve: dashboard requested but ./dashboard.js could not be loaded: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const m = (mod as { default?: DashboardModule }).default && !mod.createDashboardRoutes && !mod.dashboardRoutes
    ? (mod as { default: DashboardModule }).default
    : mod;
  if (typeof m.createDashboardRoutes === 'function') return m.createDashboardRoutes(collector);
  if (typeof m.dashboardRoutes === 'function') return m.dashboardRoutes;
  throw new Error('serve: ./dashboard.js exports neither createDashboardRoutes() nor dashboardRoutes');
}

export async function serve(options: ServeOptions = {}): Promise<RunningServer> {
  const port = checkInteger('port', options.port ?? 9464, 0, 65535);
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) throw typeError('host', 'a non-empty string', host);
  const routes: ExtraRoutes[] = [];
  if (options.dashboard) routes.push(await loadDashboard(options.collector));
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
  const handler = createMetricsHandler(options.collector, { token: options.token, extraRoutes });
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
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
