// PLACEHOLDER (owner: exports helper) — the file exporters the collector delegates to.
import type { MetricType } from '../collector/types.js';
/** The collector methods the file exporters use (structural, to avoid an import cycle). */
export type ExportSource = unknown;
export async function exportJson(_source: ExportSource, _directory: string): Promise<string> { throw new Error('not implemented yet'); }
export async function exportCsv(_source: ExportSource, _type: MetricType, _directory: string): Promise<string> { throw new Error('not implemented yet'); }
export async function importJson(_target: ExportSource, _path: string): Promise<void> { throw new Error('not implemented yet'); }
