// PLACEHOLDER (owner: native-core helper) — replaced by the real sampler.
import type { SampleBatch, SamplerOptions } from './types.js';
export class Sampler {
  constructor(readonly options: SamplerOptions) {}
  get running(): boolean { return false; }
  start(): void { throw new Error('Sampler: not implemented yet'); }
  stop(): void {}
  drain(): SampleBatch { return { count: 0, gpuCount: 0, recordSlots: 0, data: new Float64Array(0), droppedTotal: 0 }; }
}
