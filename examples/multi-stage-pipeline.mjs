// A multi-stage photo pipeline: each stage is measured with the photo id,
// the job id and the stage name, including a stage that fails.
// Run: node examples/multi-stage-pipeline.mjs
import { measurePerformance, getPerformanceMetricsCollector } from 'perfprobe';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const photoId = 789;
const jobId = 'job_001';

await measurePerformance('exif_analysis', () => sleep(5), { photoId, jobId, stage: 'exif' });
await measurePerformance('ai_evaluation', () => sleep(15), { photoId, jobId, stage: 'ai' });
await measurePerformance('preset_selection', () => sleep(2), { photoId, jobId, stage: 'preset' });
try {
  await measurePerformance('export', async () => {
    await sleep(1);
    throw new Error('disk full');
  }, { photoId, jobId, stage: 'export' });
} catch (err) {
  console.log(`export stage failed as expected: ${err.message}`);
}

const collector = getPerformanceMetricsCollector();
for (const r of collector.processingRecords()) {
  console.log(`${r.stage.padEnd(7)} ${r.operation.padEnd(17)} ${r.durationMs.toFixed(1).padStart(6)} ms  success=${r.success}${r.errorMessage ? ` error=${r.errorMessage}` : ''}`);
}
console.log(`stages recorded: ${[...collector.processingRecords()].length}`);
