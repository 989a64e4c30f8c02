// Statistics: per operation and time window, with percentiles, plus the
// operation summary.
// Run: node examples/statistics.mjs
import { recordProcessingTime, getProcessingTimeStats, getMemoryUsageStats, getGpuUsageStats, getOperationSummary, recordMemoryUsage } from 'perfprobe';

for (let i = 0; i < 1000; i++) {
  recordProcessingTime('image_processing', 100 + (i % 100) * 4, { success: i % 20 !== 0 });
  if (i % 4 === 0) recordProcessingTime('thumbnail', 5 + (i % 10));
}
recordMemoryUsage();

const stats = getProcessingTimeStats({ operation: 'image_processing', durationMinutes: 60 });
console.log(`Average duration: ${stats.avgDurationMs.toFixed(2)}ms`);
console.log(`p50 ${stats.p50DurationMs.toFixed(1)}ms, p95 ${stats.p95DurationMs.toFixed(1)}ms, p99 ${stats.p99DurationMs.toFixed(1)}ms`);
console.log(`Success rate: ${stats.successRate.toFixed(1)}%`);

const memoryStats = getMemoryUsageStats({ durationMinutes: 30 });
console.log(`Average memory: ${memoryStats.avgUsedMb.toFixed(0)}MB`);

const gpuStats = getGpuUsageStats({ gpuId: 0, durationMinutes: 30 });
console.log(`Average GPU load: ${gpuStats.avgLoadPercent === null ? 'n/a (no GPU records)' : gpuStats.avgLoadPercent.toFixed(1) + '%'}`);

for (const op of getOperationSummary()) {
  console.log(`${op.operation}: ${op.avgDurationMs.toFixed(2)}ms avg over ${op.count}`);
}
