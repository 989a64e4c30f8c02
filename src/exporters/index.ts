// Exporters: where metrics leave the process (files, Prometheus, prom-client, OpenTelemetry).
// Loading this module attaches the collector's file methods (./files/methods.ts).
export {
  exportJson,
  exportCsv,
  importJson,
  csvText,
  CSV_COLUMNS,
  type ExportSource,
  type ImportTarget,
  type ExportError,
} from './files/index.js';
export { ERR_EXPORT_FAILED, ERR_IMPORT_FAILED } from '../errors.js';
export {
  PrometheusExporter,
  renderPrometheus,
  exporterFor,
  escapeLabelValue,
  wantsOpenMetrics,
  PROMETHEUS_CONTENT_TYPE,
  OPENMETRICS_CONTENT_TYPE,
  type MetricsSnapshotSource,
  type MetricsSnapshot,
  type MemoryGauges,
  type GpuGauges,
  type PrometheusExporterOptions,
} from './prometheus.js';
export { GPU_METRIC_NAMES, type GpuMetricNames } from './prometheus-gpu.js';
export { registerPromClient, type PromClientRegistryLike, type PromClientBridge } from './prom-client.js';
export { registerOpenTelemetry, type OtelMeterLike, type OpenTelemetryBridge } from './opentelemetry.js';
