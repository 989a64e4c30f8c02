/**
 * The collector's file methods, attached here (the exporters layer) so the
 * collector never imports an exporter, as sharp and better-sqlite3 attach
 * their methods from one file each: exportToJson(), exportToCsv(type) and
 * importFromJson(path) become methods of PerformanceMetricsCollector when
 * this module loads (src/exporters/index.ts loads it; so do src/index.ts
 * and the CLI through it). Their types are declared beside the class.
 */
import { typeError } from '../../errors.js';
import { PerformanceMetricsCollector } from '../../collector/collector.js';
import { checkMetricType } from '../../collector/validate.js';
import type { MetricType } from '../../types.js';
import { exportCsv } from './csv-writer.js';
import { exportJson } from './json-writer.js';
import { importJson } from './reader.js';

const methods: Pick<PerformanceMetricsCollector, 'exportToJson' | 'exportToCsv' | 'importFromJson'> & ThisType<PerformanceMetricsCollector> = {
  exportToJson(): Promise<string> {
    return exportJson(this, this.config.exportDirectory);
  },
  exportToCsv(type: MetricType = 'processing'): Promise<string> {
    checkMetricType(type, 'metricType');
    return exportCsv(this, type, this.config.exportDirectory);
  },
  importFromJson(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty string', path);
    return importJson(this, path);
  },
};

/** Attaches the file methods to a collector class (idempotent; non-enumerable, like class methods). */
export function attachFileMethods(target: { prototype: object }): void {
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(target.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}

attachFileMethods(PerformanceMetricsCollector);
