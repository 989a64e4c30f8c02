// Store: bounded columnar histories, one ring per metric type, and the records read out of them.
export { Ring } from './ring.js';
export { StringTable, flatCopy, internalize } from './intern.js';
export { ProcessingStore, OVERFLOW_OPERATION } from './processing.js';
export { MAX_ERROR_MESSAGE_LENGTH } from '../schema/field.js';
export { SampleStore } from './samples.js';
export { processingRecordAt, memoryRecordAt, gpuRecordAt, sampleRecordReader, newestRecord, iterateRecords, windowStart } from './records.js';
