/**
 * The dashboard's routes, plugged into createMetricsHandler() through
 * `extraRoutes`: `/` (the page), `/assets/*` (its script and style, and
 * uPlot from node_modules: no CDN) and `/api/metrics/stream` (SSE, ./stream.ts).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { getPerformanceMetricsCollector } from '../collector/index.js';
import { createStreamHandler, type StreamHandler, type StreamOptions, type StreamSource } from './stream.js';

/** Folder of index.html, app.js and style.css (same relative place from src/http and dist/http). */
export const DASHBOARD_ASSET_DIR = join(__dirname, '..', '..', 'assets', 'dashboard');

function uplotDir(): string {
  return dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** URL path -> file on disk. A fixed list: nothing else is served, so no path traversal. */
function assetTable(): Map<string, string> {
  const u = uplotDir();
  return new Map([
    ['/', join(DASHBOARD_ASSET_DIR, 'index.html')],
    ['/index.html', join(DASHBOARD_ASSET_DIR, 'index.html')],
    ['/assets/app.js', join(DASHBOARD_ASSET_DIR, 'app.js')],
    ['/assets/style.css', join(DASHBOARD_ASSET_DIR, 'style.css')],
    ['/assets/uplot/uPlot.iife.min.js', join(u, 'uPlot.iife.min.js')],
    ['/assets/uplot/uPlot.min.css', join(u, 'uPlot.min.css')],
  ]);
}

export interface DashboardRoutes {
  (req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  /** The SSE handler (for tests and shutdown). */
  readonly stream: StreamHandler;
  /** Ends every open SSE stream (call before server.close()). */
  close(): void;
}

export interface DashboardOptions {
  stream?: StreamOptions;
}

/**
 * Routes for `extraRoutes`: returns true when it answered the request.
 * `collector` defaults to the process-wide one. serve({ dashboard: true })
 * calls this.
 */
export function createDashboardRoutes(collector?: StreamSource, options: DashboardOptions = {}): DashboardRoutes {
  const stream = createStreamHandler(collector ?? getPerformanceMetricsCollector(), options.stream);
  const assets = assetTable();
  const cache = new Map<string, Buffer>();
  const routes = ((req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    const path = url.pathname;
    const isStream = path === '/api/metrics/stream';
    const file = assets.get(path);
    if (!isStream && !file) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ success: false, error: `${req.method} not allowed on ${path}; use GET` }));
      return true;
    }
    if (isStream) {
      if (req.method === 'HEAD') {
        // The stream's headers only: a HEAD must end, and an SSE answer never does.
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' });
        res.end();
        return true;
      }
      stream(req, res);
      return true;
    }
    let body = cache.get(file!);
    if (!body) {
      try {
        body = readFileSync(file!);
      } catch {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ success: false, error: `dashboard asset missing: ${path}` }));
        return true;
      }
      cache.set(file!, body);
    }
    const ext = file!.slice(file!.lastIndexOf('.'));
    res.writeHead(200, {
      'Content-Type': TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }) as DashboardRoutes;
  Object.defineProperty(routes, 'stream', { value: stream });
  routes.close = () => stream.close();
  return routes;
}
