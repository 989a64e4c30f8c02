/**
 * Decoding of native sampler records (layout in src/probes/layout.ts) into
 * the memory and GPU histories: memory slots in bytes -> MiB, used = total -
 * available, one GPU record per GPU block unless the GPU is lost (a lost
 * GPU leaves a gap rather than a record of nulls; a GPU whose sample had an
 * error keeps the fields that did read), NaN kept as NaN in the store (read
 * back as null).
 */
import {
  BYTES_PER_MB,
  GPU_SLOTS,
  GpuSlot,
  GpuStatusCode,
  HeaderSlot,
  MemorySlot,
  RECORD_GPU_OFFSET,
  RECORD_MEMORY_OFFSET,
  type SampleBatch,
} from '../probes/index.js';
import { GPU_FIELDS, GpuField, MEMORY_FIELDS, MemoryField, type SampleStore } from '../store/samples.js';

const memRow = new Float64Array(MEMORY_FIELDS.length);
const gpuRow = new Float64Array(GPU_FIELDS.length);

/** Appends a drained batch to the stores (null: that type is not tracked). */
export function decodeSampleBatch(batch: SampleBatch, memory: SampleStore | null, gpu: SampleStore | null): void {
  const { count, recordSlots, data } = batch;
  for (let r = 0; r < count; r++) {
    const base = r * recordSlots;
    const ts = data[base + HeaderSlot.wallClockMs];
    if (memory) {
      const m = base + RECORD_MEMORY_OFFSET;
      const total = data[m + MemorySlot.totalBytes] / BYTES_PER_MB;
      const available = data[m + MemorySlot.availableBytes] / BYTES_PER_MB;
      const used = total - available;
      memRow[MemoryField.totalMb] = total;
      memRow[MemoryField.usedMb] = used;
      memRow[MemoryField.availableMb] = available;
      memRow[MemoryField.percent] = total > 0 ? (used / total) * 100 : NaN;
      memRow[MemoryField.processMemoryMb] = data[m + MemorySlot.processRssBytes] / BYTES_PER_MB;
      memory.push(ts, memRow, null);
    }
    if (gpu) {
      const gpus = Math.min(data[base + HeaderSlot.gpuCount] | 0, batch.gpuCount, ((recordSlots - RECORD_GPU_OFFSET) / GPU_SLOTS) | 0);
      for (let g = 0; g < gpus; g++) {
        const o = base + RECORD_GPU_OFFSET + g * GPU_SLOTS;
        if (data[o + GpuSlot.status] === GpuStatusCode.lost) continue;
        const totalMb = data[o + GpuSlot.memoryTotalBytes] / BYTES_PER_MB;
        const usedMb = data[o + GpuSlot.memoryUsedBytes] / BYTES_PER_MB;
        gpuRow[GpuField.gpuId] = g;
        gpuRow[GpuField.loadPercent] = data[o + GpuSlot.loadPercent];
        gpuRow[GpuField.memoryUsedMb] = usedMb;
        gpuRow[GpuField.memoryTotalMb] = totalMb;
        gpuRow[GpuField.memoryPercent] = totalMb > 0 ? (usedMb / totalMb) * 100 : NaN;
        gpuRow[GpuField.temperatureCelsius] = data[o + GpuSlot.temperatureC];
        gpuRow[GpuField.powerWatts] = data[o + GpuSlot.powerMilliwatts] / 1000;
        gpu.push(ts, gpuRow, null);
      }
    }
  }
}
