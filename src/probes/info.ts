// PLACEHOLDER (owner: native-core helper).
import type { ProbeInfo } from './types.js';
import { gpuBackendInfo } from './gpu.js';
export function probeInfo(): ProbeInfo {
  return { addon: { loaded: false }, memory: { backend: 'node' }, gpu: gpuBackendInfo() };
}
