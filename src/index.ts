/**
 * perfprobe: what a Node.js program costs while it runs. This file composes
 * the layers (docs/ARCHITECTURE.md; test/architecture/import-rule.test.ts
 * enforces their order):
 *   src/errors.ts, src/types.ts, src/schema   the ground floor: codes, shapes, every field once
 *   src/native     the one place the addon binary is loaded
 *   src/probes     readings (native or fallback) and the one decoder of the addon's buffers
 *   src/stats      histograms, running aggregates, windowed statistics
 *   src/store      bounded columnar histories and the records read out of them
 *   src/collector  the seed's PerformanceMetricsCollector API over them
 *   src/exporters  JSON/CSV files (they attach the collector's file methods), Prometheus, bridges
 *   src/http       the REST endpoints, /metrics, the dashboard stream, serve()
 *   src/cli        the `perfprobe` command
 */
export { ERR_INVALID_ARGUMENT, ErrorCode, WarningCode, type PerfprobeArgumentError } from './errors.js';
export * from './probes/index.js';
export * from './types.js';
export * from './collector/index.js';
export * from './exporters/index.js';
export * from './http/index.js';
