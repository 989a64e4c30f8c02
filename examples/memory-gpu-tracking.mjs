// Memory and GPU tracking: one reading now, labelled with the operation.
// recordGpuUsage returns records synchronously through NVML and a Promise
// with the fallback, so `await` works for both. No GPU: an empty list.
// Run: node examples/memory-gpu-tracking.mjs
import { recordMemoryUsage, recordGpuUsage, getMemoryUsageStats, getPerformanceMetricsCollector } from 'perfprobe';

const mem = recordMemoryUsage('processing_batch');
console.log(`memory: ${mem.usedMb.toFixed(0)} of ${mem.totalMb.toFixed(0)} MiB used (${mem.percent.toFixed(1)} %), this process ${mem.processMemoryMb.toFixed(1)} MiB`);

const collector = getPerformanceMetricsCollector();
if (!collector.gpuAvailable) console.log('GPU monitoring not available (no NVML and no fallback)');
const gpus = await recordGpuUsage('ai_inference');
for (const g of gpus) {
  console.log(`GPU ${g.gpuId}: load ${g.loadPercent ?? 'n/a'} %, memory ${g.memoryUsedMb ?? 'n/a'} / ${g.memoryTotalMb ?? 'n/a'} MiB, ${g.temperatureCelsius ?? 'n/a'} C, ${g.powerWatts ?? 'n/a'} W`);
}
console.log(`gpu records: ${gpus.length}`);
console.log(`memory records: ${getMemoryUsageStats().count}`);
