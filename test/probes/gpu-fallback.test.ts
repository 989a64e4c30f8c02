/**
 * Pure mapping tests: systeminformation controllers into GpuReading (null for
 * every field not given, zeros kept, never its truthy-only merge) and the
 * decoding of raw NVML blocks (NaN -> null, bytes -> MiB, mW -> W).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapSiControllers, isNvidiaController } from '../../src/probes/gpu-si.js';
import { clocksEventReasonMask, clocksEventReasonNames, decodeGpuBlock, decodeMig, decodeProcesses, gpuStatusOf } from '../../src/probes/decode.js';
import { CLOCKS_EVENT_REASONS } from '../../src/schema/gpu.js';
import { GPU_SLOTS, GpuSlot } from '../../src/schema/layout.js';

test('systeminformation controllers: given fields mapped (memory temperature the only GPU-depth one), zeros kept, everything else null', () => {
  const controllers = [
    { vendor: 'Red Hat, Inc.', model: 'Virtio GPU', vram: 16 },
    {
      vendor: 'NVIDIA Corporation', model: 'NVIDIA H200', memoryTotal: 143771, memoryUsed: 0, memoryFree: 143156,
      utilizationGpu: 0, utilizationMemory: 3, temperatureGpu: 31, temperatureMemory: 45, powerDraw: 75.5, powerLimit: 700,
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
    fanPercent: null, performanceState: null, clocksEventReasons: null, memoryTemperatureCelsius: 45,
    encoderUtilPercent: null, decoderUtilPercent: null, pcieLinkGeneration: null, pcieLinkWidth: null, eccErrors: null,
    processGpuMemoryMb: null, processes: [], mig: null, status: 'ok',
  });
  assert.deepEqual(r[1], {
    timestamp: 1234, gpuId: 1, name: 'GH100', uuid: null, loadPercent: null, memoryUtilPercent: null,
    memoryTotalMb: null, memoryUsedMb: null, memoryReservedMb: null, memoryFreeMb: null, memoryPercent: null,
    temperatureCelsius: null, powerWatts: null, powerLimitWatts: null, smClockMhz: null, memoryClockMhz: null,
    fanPercent: null, performanceState: null, clocksEventReasons: null, memoryTemperatureCelsius: null,
    encoderUtilPercent: null, decoderUtilPercent: null, pcieLinkGeneration: null, pcieLinkWidth: null, eccErrors: null,
    processGpuMemoryMb: null, processes: [], mig: null, status: 'ok',
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
  data[o + GpuSlot.performanceState] = 8;
  data[o + GpuSlot.clocksEventReasons] = 0x1 + 0x4 + 2 ** 40; // a double: exact past bit 31
  data[o + GpuSlot.eccModeCurrent] = 1;
  data[o + GpuSlot.eccCorrectedVolatile] = 3;
  const native = [
    { pid: 7, usedBytes: 1048576, type: 'compute+graphics', name: 'python3', smUtil: 71, memUtil: 20, encUtil: 0, decUtil: NaN, utilTimestampUs: 5, gpuInstanceId: NaN, computeInstanceId: NaN },
    { pid: 8, usedBytes: NaN, type: 'graphics', name: null, smUtil: NaN, memUtil: NaN, encUtil: NaN, decUtil: NaN, utilTimestampUs: NaN, gpuInstanceId: 1, computeInstanceId: 0 },
  ];
  const mig = decodeMig({ currentMode: true, pendingMode: false, devices: [{ index: 0, uuid: 'MIG-1', gpuInstanceId: 1, computeInstanceId: 0, memoryTotalBytes: 10 * 1048576, memoryUsedBytes: NaN }] });
  const r = decodeGpuBlock(data, o, 3, 99, { name: 'X', uuid: 'GPU-x' }, decodeProcesses(native), mig);
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
  assert.deepEqual(r.processes, [
    { pid: 7, usedMemoryMb: 1, name: 'python3', type: 'compute+graphics', smUtilPercent: 71, memoryUtilPercent: 20, encoderUtilPercent: 0, decoderUtilPercent: null, gpuInstanceId: null, computeInstanceId: null },
    { pid: 8, usedMemoryMb: null, name: null, type: 'graphics', smUtilPercent: null, memoryUtilPercent: null, encoderUtilPercent: null, decoderUtilPercent: null, gpuInstanceId: 1, computeInstanceId: 0 },
  ]);
  assert.equal(r.performanceState, 8);
  assert.deepEqual(r.clocksEventReasons, ['gpu_idle', 'sw_power_cap', 'bit_40'], 'names from bits, unknown bits bit_<n>, bits past 31 too');
  assert.ok(Object.isFrozen(r.clocksEventReasons));
  assert.deepEqual(r.eccErrors, { correctedVolatile: 3, uncorrectedVolatile: null, correctedAggregate: null, uncorrectedAggregate: null });
  assert.deepEqual(r.mig, { currentMode: true, pendingMode: false, devices: [{ index: 0, uuid: 'MIG-1', gpuInstanceId: 1, computeInstanceId: 0, memoryTotalMb: 10, memoryUsedMb: null }] });
  assert.equal(r.memoryTemperatureCelsius, null);
  assert.equal(r.status, 'ok');
  // ECC off (mode 0) or unsupported (NaN): eccErrors null as a whole; reasons 0: [] (none), NaN: null.
  data[o + GpuSlot.eccModeCurrent] = 0;
  data[o + GpuSlot.clocksEventReasons] = 0;
  const off = decodeGpuBlock(data, o, 3, 99);
  assert.equal(off.eccErrors, null);
  assert.deepEqual(off.clocksEventReasons, []);
  assert.deepEqual([off.processes, off.mig], [[], null]);
  assert.equal(decodeGpuBlock(data, 0, 0, 0).clocksEventReasons, null);
  assert.equal(decodeGpuBlock(data, 0, 0, 0).eccErrors, null);
  assert.equal(clocksEventReasonMask(['gpu_idle', 'sw_power_cap', 'bit_40']), 0x5 + 2 ** 40);
  assert.deepEqual(clocksEventReasonNames(0x1ff), CLOCKS_EVENT_REASONS.map((x) => x.name), 'every documented bit has its name, in bit order');
  const unknown = decodeGpuBlock(data, 0, 0, 0);
  assert.equal(unknown.status, 'error', 'a NaN status is an error, not ok');
  assert.equal(unknown.name, null);
  assert.deepEqual([gpuStatusOf(0), gpuStatusOf(1), gpuStatusOf(2), gpuStatusOf(7)], ['ok', 'lost', 'error', 'error']);
});
