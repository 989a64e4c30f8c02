// Exporting: every record and a summary to JSON, one metric type to CSV,
// under exportDirectory (default data/metrics, relative to the current
// directory; PERFPROBE_EXPORT_DIR overrides it here).
// Run: node examples/exporting.mjs
import { getPerformanceMetricsCollector, recordProcessingTime, recordMemoryUsage } from 'perfprobe';

const collector = getPerformanceMetricsCollector();
if (process.env.PERFPROBE_EXPORT_DIR) collector.updateConfig({ exportDirectory: process.env.PERFPROBE_EXPORT_DIR });
recordProcessingTime('image_processing', 245.5, { photoId: 1, jobId: 'job_001' });
recordProcessingTime('image_processing', 180.25, { photoId: 2, jobId: 'job_001', success: false, errorMessage: 'corrupt file' });
recordMemoryUsage('export_example');

const jsonPath = await collector.exportToJson();
console.log(`Exported to: ${jsonPath}`);
const csvPath = await collector.exportToCsv('processing');
console.log(`Exported to: ${csvPath}`);
