// Shared by the export/http/prometheus/bridge tests: a real collector, temp
// directories, a tiny HTTP client and tool lookup (fail in CI, skip locally).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { PerformanceMetricsCollector } from '../../src/index.js';
import type { CollectorConfig } from '../../src/types.js';
import { HANG_GUARD_MS } from './hang-guard.js';

/** A fresh real PerformanceMetricsCollector (isolated instance; GPU tracking off unless asked). */
export function newCollector(config: Partial<CollectorConfig> = {}): PerformanceMetricsCollector {
  return new PerformanceMetricsCollector({ enableGpuTracking: false, ...config });
}

export function tempDir(prefix = 'perfprobe-export-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export function http(
  base: string,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request(
      { host: u.hostname, port: u.port, path, method, headers: options.headers, timeout: HANG_GUARD_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path} in ${HANG_GUARD_MS} ms (a hang)`)));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Path of a CLI tool; undefined (skip) when missing locally, an error in CI. */
export function tool(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    if (process.env.CI === 'true') throw new Error(`${name} is required in CI (Debian package prometheus) but was not found`);
    return undefined;
  }
}
