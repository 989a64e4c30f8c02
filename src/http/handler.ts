/**
 * The seed's REST API and Prometheus /metrics as one request handler that
 * works with node:http, Express and Connect.
 *
 * Routes (the seed's paths, query parameters, bodies and snake_case keys):
 *   GET  /api/metrics/processing/stats   ?operation&duration_minutes -> {success, stats}
 *   GET  /api/metrics/memory/stats       ?duration_minutes           -> {success, stats}
 *   GET  /api/metrics/gpu/stats          ?gpu_id&duration_minutes    -> {success, stats}
 *   GET  /api/metrics/operations/summary ?duration_minutes           -> {success, operations}
 *   POST /api/metrics/export/json                                    -> {success, filepath, message}
 *   POST /api/metrics/export/csv         {metric_type}               -> {success, filepath, metric_type, message}
 *   POST /api/metrics/monitoring/start | /monitoring/stop            -> {success, message}
 *   POST /api/metrics/clear              {metric_type | null}        -> {success, message}
 *   GET  /metrics  Prometheus text (OpenMetrics when Accept asks for it)
 *
 * Bad requests answer 400 {success: false, error} naming the parameter (or
 * the unknown body key) and change nothing; bodies over 64 KiB 413; a body
 * that is not Content-Type: application/json 415; unknown paths 404 (or
 * next() when mounted in Express/Connect); wrong methods 405 with Allow; a
 * second export while one runs 429. Before any of that (./guard.ts), a Host
 * that is not this server's address or an allowed name, and an Origin that
 * is not the server's own, answer 403. With a token, every route answers
 * 401 without `Authorization: Bearer <token>`; only the dashboard's GET
 * routes also take `?token=` or the cookie it sets, since a browser cannot
 * send the header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getPerformanceMetricsCollector } from '../collector/index.js';
import { describeValue, isArgumentError, typeError } from '../errors.js';
import { MAX_OPERATION_LENGTH } from '../schema/field.js';
import { toSnake } from '../schema/names.js';
import type { GpuUsageStats, MemoryUsageStats, MetricType, OperationSummary, ProcessingTimeStats } from '../types.js';
import '../exporters/files/methods.js'; // attaches exportToJson / exportToCsv to the collector
import type { GpuMetricNames } from '../exporters/prometheus-gpu.js';
import {
  checkGpuMetricNames,
  exporterFor,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  wantsOpenMetrics,
  type MetricsSnapshotSource,
} from '../exporters/prometheus.js';
import { bodyTypeRefusal, hostPolicy, hostRefusal, originRefusal, tokenCheck } from './guard.js';

/** What the HTTP API uses from a collector (structural). */
export interface HttpMetricsSource extends MetricsSnapshotSource {
  getProcessingTimeStats(query?: { operation?: string; durationMinutes?: number }): ProcessingTimeStats;
  getMemoryUsageStats(query?: { durationMinutes?: number }): MemoryUsageStats;
  getGpuUsageStats(query?: { gpuId?: number; durationMinutes?: number }): GpuUsageStats;
  getOperationSummary(query?: { durationMinutes?: number }): OperationSummary[];
  exportToJson(): Promise<string>;
  exportToCsv(type: MetricType): Promise<string>;
  startMonitoring(): unknown;
  stopMonitoring(): unknown;
  clearMetrics(type?: MetricType): unknown;
}

/**
 * Extra routes (the dashboard): called after authentication and before the
 * 404 for paths the API does not own; return true when the request was handled.
 */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface MetricsHandlerOptions {
  /** When set, every route requires `Authorization: Bearer <token>`. */
  token?: string;
  extraRoutes?: ExtraRoutes;
  /** /metrics' GPU families: perfprobe's names (default) or NVIDIA dcgm-exporter's ('dcgm'). */
  gpuMetricNames?: GpuMetricNames;
  /**
   * Host names accepted in the Host header besides the address the
   * connection arrived on, `localhost`, `127.0.0.1` and `[::1]` (those with
   * the server's port): `'name'` (any port), `'name:port'`, or `'*'` (any
   * Host: turns the DNS-rebinding check off). Others get 403.
   */
  allowedHosts?: readonly string[];
}

export type NextFunction = (err?: unknown) => void;
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

export const MAX_BODY_BYTES = 64 * 1024;
const OK_MESSAGE = 'Metrics exported successfully';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const bad = (field: string, expected: string, got: unknown): HttpError =>
  new HttpError(400, `${field} must be ${expected}, got ${describeValue(got)}`);

// ------------------------------------------------------------- parameters

const DECIMAL = /^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function durationMinutes(q: URLSearchParams): number | undefined {
  if (!q.has('duration_minutes')) return undefined;
  const all = q.getAll('duration_minutes');
  const raw = all[all.length - 1]!;
  const v = DECIMAL.test(raw) ? Number(raw) : NaN;
  if (all.length > 1 || !Number.isFinite(v) || v <= 0) {
    throw bad('duration_minutes', 'a positive finite number of minutes', all.length > 1 ? all.join(',') : raw);
  }
  return v;
}

function gpuId(q: URLSearchParams): number | undefined {
  if (!q.has('gpu_id')) return undefined;
  const all = q.getAll('gpu_id');
  const raw = all[all.length - 1]!;
  const v = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (all.length > 1 || !Number.isSafeInteger(v)) {
    throw bad('gpu_id', 'a non-negative integer', all.length > 1 ? all.join(',') : raw);
  }
  return v;
}

function operation(q: URLSearchParams): string | undefined {
  if (!q.has('operation')) return undefined;
  const all = q.getAll('operation');
  const raw = all[all.length - 1]!;
  if (all.length > 1 || raw.length === 0 || raw.length > MAX_OPERATION_LENGTH) {
    throw bad('operation', `a string of 1 to ${MAX_OPERATION_LENGTH} characters`, all.length > 1 ? all.join(',') : raw);
  }
  return raw;
}

/** 400 naming the first key of `body` that `allowed` does not list. */
function onlyKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      const expected = allowed.length ? `the only key is ${allowed.map((k) => JSON.stringify(k)).join(', ')}` : 'this route takes no keys';
      throw new HttpError(400, `request body has an unknown key ${JSON.stringify(key.slice(0, 100))} (${expected})`);
    }
  }
}

function metricType(body: Record<string, unknown>, allowAll: boolean): MetricType | undefined {
  const v = body.metric_type;
  if (allowAll && v == null) return undefined;
  if (v === 'processing' || v === 'memory' || v === 'gpu') return v;
  throw bad('metric_type', `"processing", "memory" or "gpu"${allowAll ? ' (or null for all)' : ''}`, v);
}

// ------------------------------------------------------------- request plumbing

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function sendError(req: IncomingMessage, res: ServerResponse, err: HttpError): void {
  sendJson(req, res, err.status, { success: false, error: err.message }, err.headers);
}

/**
 * Reads a JSON object body (at most 64 KiB, Content-Type application/json);
 * {} when empty; a key not in `keys` is a 400. Honours a body Express
 * already parsed.
 */
async function readBody(req: IncomingMessage, keys: readonly string[]): Promise<Record<string, unknown>> {
  const body = await readJsonObject(req);
  onlyKeys(body, keys);
  return body;
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const refused = bodyTypeRefusal(req);
  if (refused) {
    req.resume();
    throw new HttpError(415, refused, { connection: 'close' });
  }
  const pre = (req as { body?: unknown }).body;
  let text: string;
  if (pre !== undefined && (req.readableEnded || (req as { _body?: boolean })._body === true)) {
    if (Buffer.isBuffer(pre)) text = pre.toString('utf8');
    else if (typeof pre === 'string') text = pre;
    else if (pre === null || typeof pre !== 'object' || Array.isArray(pre)) {
      throw new HttpError(400, `request body must be a JSON object, got ${describeValue(pre)}`);
    } else return pre as Record<string, unknown>;
  } else {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw tooLarge(req);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw tooLarge(req);
      chunks.push(chunk);
    }
    text = Buffer.concat(chunks).toString('utf8');
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HttpError(400, `request body must be a JSON object, got ${describeValue(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

function tooLarge(req: IncomingMessage): HttpError {
  // Let the rest of the body drain; the connection closes after the answer.
  req.resume();
  return new HttpError(413, `request body must be at most ${MAX_BODY_BYTES} bytes`, { connection: 'close' });
}

/**
 * One export per collector at a time: a second request while one runs gets
 * 429 (a page or a loop POSTing exports over and over filled 314 MB in 5 s).
 */
const exporting = new WeakSet<object>();
async function oneExportAtATime<T>(c: HttpMetricsSource, run: () => Promise<T>): Promise<T> {
  if (exporting.has(c)) {
    throw new HttpError(429, 'an export is already running; retry when it has finished', { 'retry-after': '1' });
  }
  exporting.add(c);
  try {
    return await run();
  } finally {
    exporting.delete(c);
  }
}

// ------------------------------------------------------------- routes

/** What a handler's options say to its routes. */
interface RouteSettings {
  gpuMetricNames: GpuMetricNames | undefined;
}

type RouteFn = (c: HttpMetricsSource, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, s: RouteSettings) => Promise<void> | void;
interface Route {
  method: 'GET' | 'POST';
  run: RouteFn;
}

const ROUTES: Record<string, Route> = {
  '/api/metrics/processing/stats': {
    method: 'GET',
    run(c, req, res, q) {
      const op = operation(q);
      const d = durationMinutes(q);
      sendJson(req, res, 200, { success: true, stats: toSnake(c.getProcessingTimeStats({ operation: op, durationMinutes: d })) });
    },
  },
  '/api/metrics/memory/stats': {
    method: 'GET',
    run(c, req, res, q) {
      const d = durationMinutes(q);
      sendJson(req, res, 200, { success: true, stats: toSnake(c.getMemoryUsageStats({ durationMinutes: d })) });
    },
  },
  '/api/metrics/gpu/stats': {
    method: 'GET',
    run(c, req, res, q) {
      const id = gpuId(q);
      const d = durationMinutes(q);
      sendJson(req, res, 200, { success: true, stats: toSnake(c.getGpuUsageStats({ gpuId: id, durationMinutes: d })) });
    },
  },
  '/api/metrics/operations/summary': {
    method: 'GET',
    run(c, req, res, q) {
      const d = durationMinutes(q);
      sendJson(req, res, 200, { success: true, operations: c.getOperationSummary({ durationMinutes: d }).map(toSnake) });
    },
  },
  '/api/metrics/export/json': {
    method: 'POST',
    async run(c, req, res) {
      await readBody(req, []);
      const filepath = await oneExportAtATime(c, () => c.exportToJson());
      sendJson(req, res, 200, { success: true, filepath, message: OK_MESSAGE });
    },
  },
  '/api/metrics/export/csv': {
    method: 'POST',
    async run(c, req, res) {
      const body = await readBody(req, ['metric_type']);
      // Absent metric_type: 'processing', as exportToCsv() defaults; null or unknown: 400.
      const type = body.metric_type === undefined ? 'processing' : metricType(body, false)!;
      const filepath = await oneExportAtATime(c, () => c.exportToCsv(type));
      sendJson(req, res, 200, { success: true, filepath, metric_type: type, message: OK_MESSAGE });
    },
  },
  '/api/metrics/monitoring/start': {
    method: 'POST',
    async run(c, req, res) {
      await readBody(req, []);
      c.startMonitoring();
      sendJson(req, res, 200, { success: true, message: 'Monitoring started' });
    },
  },
  '/api/metrics/monitoring/stop': {
    method: 'POST',
    async run(c, req, res) {
      await readBody(req, []);
      c.stopMonitoring();
      sendJson(req, res, 200, { success: true, message: 'Monitoring stopped' });
    },
  },
  '/api/metrics/clear': {
    method: 'POST',
    async run(c, req, res) {
      const type = metricType(await readBody(req, ['metric_type']), true);
      c.clearMetrics(type);
      sendJson(req, res, 200, {
        success: true,
        message: type ? `${type} metrics cleared` : 'All metrics cleared',
        metric_type: type ?? null,
      });
    },
  },
  '/metrics': {
    method: 'GET',
    async run(c, req, res, _q, settings) {
      const om = wantsOpenMetrics(req.headers.accept);
      const exporter = exporterFor(c);
      const snap = exporter.snapshot(); // before the head: a failure here is still a 500
      // Streamed in slices (10,000 operations are 18 MB): the event loop runs between them.
      res.writeHead(200, {
        'content-type': om ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
        'cache-control': 'no-store',
      });
      if (req.method === 'HEAD') res.end();
      else await exporter.stream(res, om, snap, settings.gpuMetricNames);
    },
  },
};

/** The paths the API owns (for documentation and tests). */
export const API_ROUTES: ReadonlyArray<{ method: 'GET' | 'POST'; path: string }> = Object.entries(ROUTES).map(
  ([path, r]) => ({ method: r.method, path }),
);

/**
 * The REST API and /metrics as `(req, res, next?)`. Without a collector the
 * process-wide one (getPerformanceMetricsCollector()) is used, looked up on
 * each request.
 */
export function createMetricsHandler(collector?: HttpMetricsSource, options: MetricsHandlerOptions = {}): MetricsHandler {
  const { token, extraRoutes } = options;
  const settings: RouteSettings = { gpuMetricNames: checkGpuMetricNames(options.gpuMetricNames) };
  const hosts = hostPolicy(options.allowedHosts);
  // A token with whitespace could never match `Bearer <token>`: every request would get 401.
  if (token !== undefined && (typeof token !== 'string' || !/^\S+$/.test(token))) {
    throw typeError('token', 'a non-empty string without whitespace', token);
  }
  if (extraRoutes !== undefined && typeof extraRoutes !== 'function') {
    throw typeError('extraRoutes', 'a function', extraRoutes);
  }
  const { authorised, authorisedBrowser } = tokenCheck(token);

  const handle = async (req: IncomingMessage, res: ServerResponse, next?: NextFunction): Promise<void> => {
    let url: URL;
    try {
      // Never read as a protocol-relative reference: `//host/metrics` is a path, not /metrics.
      const raw = req.url ?? '/';
      url = new URL(`http://localhost${raw.startsWith('/') ? raw : `/${raw}`}`);
    } catch {
      sendError(req, res, new HttpError(400, `request URL is malformed, got ${describeValue(req.url)}`));
      return;
    }
    const route = Object.prototype.hasOwnProperty.call(ROUTES, url.pathname) ? ROUTES[url.pathname] : undefined;
    // Mounted in Express/Connect without extra routes: paths the API does not own belong to the app, unchecked.
    if (!route && next && !extraRoutes) {
      next();
      return;
    }
    const refused = hostRefusal(req, hosts) ?? originRefusal(req);
    if (refused) {
      if (!route && next) {
        next();
        return;
      }
      req.resume();
      sendError(req, res, new HttpError(403, refused, { connection: 'close' }));
      return;
    }
    if (!route && next) {
      // Mounted in Express/Connect: paths the API does not own belong to the app.
      if (extraRoutes && authorisedBrowser(req, res, url) && (await extraRoutes(req, res, url))) return;
      next();
      return;
    }
    if (!(route ? authorised(req) : authorisedBrowser(req, res, url))) {
      sendError(req, res, new HttpError(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' }));
      return;
    }
    if (!route) {
      if (extraRoutes && (await extraRoutes(req, res, url))) return;
      sendError(req, res, new HttpError(404, `no route for ${url.pathname}`));
      return;
    }
    const allow = route.method === 'GET' ? 'GET, HEAD' : 'POST';
    if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
      sendError(req, res, new HttpError(405, `${url.pathname} accepts ${allow}, got ${req.method}`, { allow }));
      return;
    }
    const c = collector ?? (getPerformanceMetricsCollector() as unknown as HttpMetricsSource);
    await route.run(c, req, res, url.searchParams, settings);
  };

  return function perfprobeMetricsHandler(req, res, next) {
    handle(req, res, next).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      if (err instanceof HttpError) {
        sendError(req, res, err);
        return;
      }
      // The collector's own argument errors are the client's fault.
      const status = isArgumentError(err) ? 400 : 500;
      sendJson(req, res, status, { success: false, error: (err as { message?: string } | null)?.message ?? String(err) });
    });
  };
}
