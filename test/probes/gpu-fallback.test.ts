/**
 * Pure mapping tests: systeminformation controllers into GpuReading (null for
 * every field not given, zeros kept, never its truthy-only merge) and the
 * decoding of raw NVML blocks (NaN -> null, bytes -> MiB, mW -> W).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapSiControllers, isNvidiaController } from '../../src/probes/gpu-si.js';
import { decodeGpuBlock, decodeProcesses, gpuStatusOf } from '../../src/probes/decode.js';
import { GPU_SLOTS, GpuSlot } from '../../src/schema/layout.js';

test('systeminformation controllers: given fields mapped, zeros kept, everything else null', () => {
  const controllers = [
    { vendor: 'Red Hat, Inc.', model: 'Virtio GPU', vram: 16 },
    {
      vendor: 'NVIDIA Corporation', model: 'NVIDIA H200', memoryTotal: 143771, memoryUsed: 0, memoryFree: 143156,
      utilizationGpu: 0, utilizationMemory: 3, temperatureGpu: 31, powerDraw: 75.5, powerLimit: 700,
      clockCore: 345, clockMemory: 2619, fanSpeed: undefined,
    },
    { vendor: 'NVIDIA', model: '', name: 'GH100', vram: 0, memoryUsed: 'n/a', temperatureGpu: NaN },
  ];
  const r = mapSiControllers(controllers, 1234);
  assert.equal(r.length, 2, 'display adapters that are not NVIDIA GPUs are left out');
  assert.deepEqual(r[0], {
    timestamp: 1234, gpuId: 0, name: 'NVIDIA H200', uuid: null, loadPercent: 0, memoryUtilPercent: 3,
    memoryTotalMb: 143771, memoryUsedMb: 0, memoryReservedMb: null, memoryFreeMb: 143156, memoryPercent: 0,
    temperatureCelsius: 31, powerWatts: 75.5, powerLimitWatts: 700, smClockMhz: 345, memoryClockMhz: 2619,
    fanPercent: null, processGpuMemoryMb: null, processes: [], status: 'ok',
  });
  assert.deepEqual(r[1], {
    timestamp: 1234, gpuId: 1, name: 'GH100', uuid: null, loadPercent: null, memoryUtilPercent: null,
    memoryTotalMb: null, memoryUsedMb: null, memoryReservedMb: null, memoryFreeMb: null, memoryPercent: null,
    temperatureCelsius: null, powerWatts: null, powerLimitWatts: null, smClockMhz: null, memoryClockMhz: null,
    fanPercent: null, processGpuMemoryMb: null, processes: [], status: 'ok',
  });
  assert.equal(isNvidiaController({ vendor: 'Advanced Micro Devices' }), false);
});

test('raw NVML blocks: NaN becomes null, bytes MiB, mW W, status codes named', () => {
  const data = new Float64Array(2 * GPU_SLOTS).fill(NaN);
  const o = GPU_SLOTS;
  data[o + GpuSlot.status] = 0;
  data[o + GpuSlot.loadPercent] = 0;
  data[o + GpuSlot.memoryTotalBytes] = 8 * 1048576;
  data[o + GpuSlot.memoryUsedBytes] = 2 * 1048576;
  data[o + GpuSlot.powerMilliwatts] = 1500;
  data[o + GpuSlot.processMemoryBytes] = 0;
  const r = decodeGpuBlock(data, o, 3, 99, { name: 'X', uuid: 'GPU-x' }, decodeProcesses(new Float64Array([7, 1048576, 8, NaN])));
  assert.equal(r.gpuId, 3);
  assert.equal(r.timestamp, 99);
  assert.equal(r.name, 'X');
  assert.equal(r.loadPercent, 0);
  assert.equal(r.memoryTotalMb, 8);
  assert.equal(r.memoryUsedMb, 2);
  assert.equal(r.memoryPercent, 25);
  assert.equal(r.powerWatts, 1.5);
  assert.equal(r.processGpuMemoryMb, 0);
  assert.equal(r.temperatureCelsius, null);
  assert.equal(r.fanPercent, null);
  assert.equal(r.memoryReservedMb, null);
  assert.deepEqual(r.processes, [{ pid: 7, usedMemoryMb: 1 }, { pid: 8, usedMemoryMb: null }]);
  assert.equal(r.status, 'ok');
  const unknown = decodeGpuBlock(data, 0, 0, 0);
  assert.equal(unknown.status, 'error', 'a NaN status is an error, not ok');
  assert.equal(unknown.name, null);
  assert.deepEqual([gpuStatusOf(0), gpuStatusOf(1), gpuStatusOf(2), gpuStatusOf(7)], ['ok', 'lost', 'error', 'error']);
});
