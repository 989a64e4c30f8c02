// Files: JSON and CSV exports, imports, and the atomic writer and codecs they share.
import './methods.js';
export { attachFileMethods } from './methods.js';
export { exportJson, PERFPROBE_VERSION, type ExportSource } from './json-writer.js';
export { exportCsv } from './csv-writer.js';
export { importJson, readExportDocument, readOwnLayout, recordsOf, type ImportTarget } from './reader.js';
export { writeAtomic, replaceAtomic, exportError, type ExportError } from './atomic.js';
export { csvText, csvNum, jsonNum, fileStamp, IsoFormatter, IsoParser, JsonStrings, CsvStrings } from './codecs.js';
export { CSV_COLUMNS, SCHEMAS, compileJsonLine, compileCsvLine, compileFromJson, csvHeader } from './record-text.js';
