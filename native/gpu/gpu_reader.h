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
  uint32_t gpuInstanceId = 0xFFFFFFFFu;      // MIG attribution; 0xFFFFFFFF when none (or v1 list)
  uint32_t computeInstanceId = 0xFFFFFFFFu;
};

// Per-thread buffers for process lists (grown on NVML_ERROR_INSUFFICIENT_SIZE,
// then reused: no allocation on the steady path).
struct Scratch {
  std::vector<unsigned char> raw;
  std::vector<ProcessEntry> processes;  // the compute list of the last ReadDevice/ReadProcesses
  std::vector<ProcessEntry> graphics;   // the graphics list (on-demand reads only)
  int processStatus = 0;                // NVML code of the last ReadDevice's compute list (or why it was skipped)
  Scratch();
};

enum class ProcessList { kCompute, kGraphics };
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

// Either running-process list (same versioned fallbacks, size retry and cap)
// into `out` (which may be scratch.processes or scratch.graphics).
int ReadProcessList(int index, ProcessList list, Scratch& scratch, std::vector<ProcessEntry>& out);

// Total energy since the driver loaded, in mJ; NaN when unsupported or lost.
// Costs ~4 ms on real drivers: only on explicit request, never while sampling.
double ReadEnergyMillijoules(int index);

// Number of devices NVML listed (0 when none is open).
int DeviceCount();

// NVML status of the last failing call for a device (diagnostics).
int LastError(int index);

}  // namespace perfprobe::gpu
