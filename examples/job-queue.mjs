// Job-queue integration: every job measured with its job id and photo id;
// failed jobs are recorded with their error and the queue carries on.
// Run: node examples/job-queue.mjs
import { measurePerformance, getOperationSummary, getProcessingTimeStats } from 'perfprobe';

const queue = Array.from({ length: 12 }, (_, i) => ({ id: `job_${String(i).padStart(3, '0')}`, photoId: 1000 + i }));

async function executeJob(job) {
  await new Promise((r) => setTimeout(r, 1 + (job.photoId % 4)));
  if (job.photoId % 5 === 0) throw new Error(`photo ${job.photoId} unreadable`);
  return `done ${job.id}`;
}

async function processJob(job) {
  return measurePerformance('job_processing', () => executeJob(job), { jobId: job.id, photoId: job.photoId });
}

let done = 0;
let failed = 0;
// Two workers pull from the queue.
await Promise.all([0, 1].map(async () => {
  for (let job = queue.shift(); job; job = queue.shift()) {
    try {
      await processJob(job);
      done++;
    } catch (err) {
      failed++;
      console.log(`failed: ${err.message}`);
    }
  }
}));

const s = getProcessingTimeStats({ operation: 'job_processing' });
console.log(`jobs done ${done}, failed ${failed}; recorded ${s.count}, success rate ${s.successRate.toFixed(1)}%, p95 ${s.p95DurationMs.toFixed(2)} ms`);
console.log(getOperationSummary().map((o) => `${o.operation}: ${o.count}`).join(', '));
