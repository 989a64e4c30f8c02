// Basic processing-time measurement: measurePerformance around a function,
// a timer with `end()`, and manual recording of a duration you measured.
// Run: node examples/basic-timing.mjs
import { measurePerformance, startTimer, recordProcessingTime, getProcessingTimeStats } from 'perfprobe';

function processImage() {
  let x = 0;
  for (let i = 0; i < 200_000; i++) x += Math.sqrt(i);
  return x;
}

// Wrap a call: the duration is recorded with success, or failure and the error message.
const result = measurePerformance('image_processing', processImage, { photoId: 123 });
console.log(`measurePerformance returned ${result.toFixed(0)}`);

// A timer: end() records and returns the duration in ms.
const timer = startTimer('image_processing', { photoId: 124 });
processImage();
console.log(`timer measured ${timer.end().toFixed(3)} ms`);

// Manual recording of a duration measured elsewhere.
const start = performance.now();
processImage();
recordProcessingTime('image_processing', performance.now() - start, { photoId: 125 });

const stats = getProcessingTimeStats({ operation: 'image_processing' });
console.log(`image_processing: ${stats.count} records, avg ${stats.avgDurationMs.toFixed(3)} ms, p95 ${stats.p95DurationMs.toFixed(3)} ms, success ${stats.successRate}%`);
