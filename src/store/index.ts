// Store: bounded columnar histories, one ring per metric type, and the records read out of them.
export { Ring } from './ring.js';
export { StringTable } from './intern.js';
export { ProcessingStore, OVERFLOW_OPERATION, MAX_ERROR_MESSAGE_LENGTH } from './processing.js';
export { SampleStore } from './samples.js';
export { processingRecordAt, memoryRecordAt, gpuRecordAt, sampleRecordReader, newestRecord, iterateRecords, windowStart } from './records.js';
