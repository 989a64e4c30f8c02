/**
 * Processing records: one per recorded operation (measurePerformance,
 * timers, recordProcessingTime, imports). The processing store keeps them in
 * hand-picked typed columns (src/store/processing.ts) and the JSON and CSV
 * writers of this type are hand-specialised for the 1,000,000-record export
 * (src/exporters/files/processing-text.ts); both are checked against this
 * table by test/schema/writers-follow-schema.test.ts.
 */
import { field } from './field.js';
import { recordSchema } from './record.js';

export interface ProcessingTimeMetric {
  /** When the operation ended, epoch ms (fractional). */
  timestamp: number;
  operation: string;
  durationMs: number;
  photoId: number | null;
  jobId: string | null;
  stage: string | null;
  success: boolean;
  errorMessage: string | null;
}

export const PROCESSING_SCHEMA = recordSchema<ProcessingTimeMetric>()('processing', 'processing_metrics', [
  field('timestamp', 'timestamp', 'timestamp', false, 'epoch ms', 'when the operation ended (ISO-8601 UTC with microseconds in files)'),
  field('operation', 'operation', 'operation', false, '', 'operation name, 1 to 256 characters'),
  field('durationMs', 'duration_ms', 'duration', false, 'ms', 'how long it took'),
  field('photoId', 'photo_id', 'integer', true, '', "the seed's photo id"),
  field('jobId', 'job_id', 'string', true, '', "the seed's job id, cut at 256 characters (marked '…[truncated N chars]')"),
  field('stage', 'stage', 'string', true, '', "pipeline stage, cut at 256 characters (marked '…[truncated N chars]')"),
  field('success', 'success', 'boolean', false, '', 'false when it threw or was ended with an error'),
  field('errorMessage', 'error_message', 'string', true, '', "the error, cut at 1024 characters (marked '…[truncated N chars]')"),
]);
