// Background monitoring: memory (and GPUs through NVML) sampled on a native
// thread, so samples keep coming while the event loop is blocked.
// Run: node examples/background-monitoring.mjs
import { getPerformanceMetricsCollector } from 'perfprobe';

const collector = getPerformanceMetricsCollector();
collector.updateConfig({ memorySampleIntervalMs: 10 });
collector.startMonitoring();

// Do your work... here: block the event loop for 200 ms, then wait 100 ms.
const until = Date.now() + 200;
const junk = [];
while (Date.now() < until) junk.push(new Array(100).fill(0));
await new Promise((r) => setTimeout(r, 100));

collector.stopMonitoring();
const s = collector.getMemoryUsageStats();
console.log(`memory samples: ${s.count}`);
console.log(`process memory: current ${s.currentProcessMb.toFixed(1)} MiB, max ${s.maxProcessMb.toFixed(1)} MiB`);
console.log(`system memory used: avg ${s.avgUsedMb.toFixed(0)} MiB (${s.currentPercent.toFixed(1)} % now)`);
