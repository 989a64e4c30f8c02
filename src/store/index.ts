// Store: bounded columnar histories, one ring per metric type.
export { Ring } from './ring.js';
export { StringTable } from './intern.js';
export { ProcessingStore, OVERFLOW_OPERATION, MAX_ERROR_MESSAGE_LENGTH } from './processing.js';
export { SampleStore, MEMORY_FIELDS, MemoryField, GPU_FIELDS, GpuField } from './samples.js';
