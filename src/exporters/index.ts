// Exporters: where metrics leave the process (files, Prometheus, prom-client, OpenTelemetry).
export {
  exportJson,
  exportCsv,
  importJson,
  csvText,
  CSV_COLUMNS,
  ERR_EXPORT_FAILED,
  ERR_IMPORT_FAILED,
  type ExportSource,
  type ImportTarget,
  type ExportError,
} from './files.js';
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
export { registerPromClient, type PromClientRegistryLike, type PromClientBridge } from './prom-client.js';
export { registerOpenTelemetry, type OtelMeterLike, type OpenTelemetryBridge } from './opentelemetry.js';
