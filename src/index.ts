/**
 * perfprobe: what a Node.js program costs while it runs.
 *
 * Data flows probes -> store -> stats -> exporters:
 *   src/probes     readings from the native addon (NVML, /proc) or fallbacks
 *   src/store      bounded columnar histories
 *   src/stats      percentiles and aggregates
 *   src/collector  the seed's PerformanceMetricsCollector API over them
 *   src/exporters  JSON, CSV, Prometheus, prom-client / OpenTelemetry bridges
 *   src/http       the REST endpoints, /metrics, the dashboard stream, serve()
 *   src/cli        the `perfprobe` command
 */
export { ERR_INVALID_ARGUMENT, type PerfprobeArgumentError } from './errors.js';
export * from './probes/index.js';
export * from './collector/types.js';
export * from './collector/index.js';
export * from './exporters/index.js';
export * from './http/index.js';
