/**
 * serve(): an HTTP server with createMetricsHandler() on loopback by default.
 *
 * It bounds what a client can hold (slowloris): headers must arrive within
 * headersTimeoutMs (10 s), the whole request within requestTimeoutMs (30 s),
 * an idle keep-alive connection closes after keepAliveTimeoutMs (5 s; Node
 * adds 1 s of grace), a socket with no traffic either way for 120 s closes,
 * and at most maxConnections (128) connections are open at once (SSE streams
 * count), further ones are closed as they arrive. On a non-loopback address
 * without a token it warns once (PERFPROBE_UNAUTHENTICATED_SERVER).
 *
 * The dashboard: with `dashboard: true`, serve() adds the routes of
 * ./dashboard.ts (createDashboardRoutes(collector): `/`, `/assets/*`,
 * `/api/metrics/stream`) as extraRoutes, and close() ends its SSE streams.
 * A caller can also pass `extraRoutes` itself (chained after the dashboard).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkInteger, typeError, WarningCode } from '../errors.js';
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
  /** Extra Host names accepted (createMetricsHandler's allowedHosts). */
  allowedHosts?: readonly string[];
  /** Time to receive a request's headers (default 10,000 ms). */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included (default 30,000 ms; at least headersTimeoutMs). */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open (default 5,000 ms). */
  keepAliveTimeoutMs?: number;
  /** Open connections at most (default 128); more are closed as they arrive. */
  maxConnections?: number;
}

export const SERVE_DEFAULTS = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 128,
  /** A socket with no traffic either way this long is closed (slow readers); above the SSE heartbeat (15 s). */
  idleSocketTimeoutMs: 120_000,
});

/** An address that only this machine can reach. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  server: Server;
  /** Stops listening and closes open connections (SSE streams included). */
  close(): Promise<void>;
}

/** The one warning serve() prints when it listens beyond loopback without a token; true when it warned. */
export function warnIfUnauthenticated(address: string, port: number, token: string | undefined): boolean {
  if (token !== undefined || isLoopbackAddress(address)) return false;
  process.emitWarning(
    `perfprobe: serving on ${address}:${port} without a token: anyone who can reach this address can read the metrics and clear or export them; pass a token (perfprobe serve --token)`,
    { code: WarningCode.unauthenticatedServer },
  );
  return true;
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
  const headersTimeout = checkInteger('headersTimeoutMs', options.headersTimeoutMs ?? SERVE_DEFAULTS.headersTimeoutMs, 1, 3_600_000);
  const requestTimeout = checkInteger('requestTimeoutMs', options.requestTimeoutMs ?? Math.max(SERVE_DEFAULTS.requestTimeoutMs, headersTimeout), headersTimeout, 3_600_000);
  const keepAliveTimeout = checkInteger('keepAliveTimeoutMs', options.keepAliveTimeoutMs ?? SERVE_DEFAULTS.keepAliveTimeoutMs, 1, 3_600_000);
  const maxConnections = checkInteger('maxConnections', options.maxConnections ?? SERVE_DEFAULTS.maxConnections, 1, 1_000_000);
  const extraRoutes: ExtraRoutes | undefined =
    routes.length === 0
      ? undefined
      : routes.length === 1
        ? routes[0]
        : async (req, res, url) => {
            for (const r of routes) if (await r(req, res, url)) return true;
            return false;
          };
  const handler = createMetricsHandler(options.collector, { token: options.token, extraRoutes, allowedHosts: options.allowedHosts, gpuMetricNames: options.gpuMetricNames });
  const server = createServer(
    {
      headersTimeout: headersTimeout,
      requestTimeout: requestTimeout,
      // Node checks both timeouts on this period (30 s by default): often enough to honour them.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => handler(req, res),
  );
  server.keepAliveTimeout = keepAliveTimeout;
  server.maxConnections = maxConnections;
  server.setTimeout(SERVE_DEFAULTS.idleSocketTimeoutMs);
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
  warnIfUnauthenticated(addr.address, addr.port, options.token);
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
