// Schema: every record's fields named once, and the native slot layout.
export * from './layout.js';
export * from './field.js';
export * from './record.js';
export * from './processing.js';
export * from './memory.js';
export * from './gpu.js';
export * from './compile.js';
export * from './names.js';
