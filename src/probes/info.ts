/** probeInfo(): which backend each probe uses, and why. */
import { addonStatus } from '../native/binding.js';
import { gpuBackendInfo } from './gpu.js';
import { memoryBackend } from './memory.js';
import type { ProbeInfo } from './types.js';

export function probeInfo(): ProbeInfo {
  const s = addonStatus();
  const addon: ProbeInfo['addon'] = { loaded: s.loaded };
  if (s.path !== undefined) addon.path = s.path;
  if (s.error !== undefined) addon.error = s.error;
  return { addon, memory: memoryBackend(), gpu: gpuBackendInfo() };
}
