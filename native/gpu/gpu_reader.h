// GPU readings over the process-wide NVML of nvml_loader.h: one device's
// block of kGpuSlots doubles, its process list and energy on request. Free
// of Node-API (the native tests link it). Every function here requires the
// caller to hold an nvml reference. (The raw-call micro-benchmark is not
// shipped: native/bench/nvml_bench.h.)
#pragma once

#include <cstdint>
#include <vector>

#include "gpu_api.h"

namespace perfprobe::gpu {

struct ProcessEntry {
  uint32_t pid;
  double usedBytes;  // NaN when the driver does not say
};

// Per-thread buffers for process lists (grown on NVML_ERROR_INSUFFICIENT_SIZE,
// then reused: no allocation on the steady path).
struct Scratch {
  std::vector<unsigned char> raw;
  std::vector<ProcessEntry> processes;
  Scratch();
};
Scratch& ThreadScratch();

// Fills block[0..kGpuSlots) for device `index` (kGpuStatus a GpuStatus; NaN
// for every field not read) and leaves the device's process list in
// scratch.processes: empty when the list is unsupported, failed or the GPU
// is lost (block[kGpuProcessMemoryBytes] is then NaN). `watched` (sorted
// ascending) may be null or empty: kGpuWatchedMemoryBytes is then NaN.
void ReadDevice(int index, double* block, Scratch& scratch, const std::vector<int32_t>* watched);

// The process list of device `index` into scratch.processes; returns the NVML
// code (kSuccess, or why there is none).
int ReadProcesses(int index, Scratch& scratch);

// Total energy since the driver loaded, in mJ; NaN when unsupported or lost.
// Costs ~4 ms on real drivers: only on explicit request, never while sampling.
double ReadEnergyMillijoules(int index);

// Number of devices NVML listed (0 when none is open).
int DeviceCount();

// NVML status of the last failing call for a device (diagnostics).
int LastError(int index);

}  // namespace perfprobe::gpu
