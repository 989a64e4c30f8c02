// On-demand GPU readings: never made by the sampler thread, because each
// costs more than the whole cheap block (gpu_reader.h) or waits out a window.
// - the process table: compute and graphics lists merged by pid, with
//   nvmlDeviceGetProcessUtilization per pid and the process name;
// - MIG mode and MIG devices;
// - PCIe throughput (~20 ms per counter per device on real drivers).
// Free of Node-API (the native tests link it). Every function requires the
// caller to hold an nvml reference; all are safe on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpu_reader.h"

namespace perfprobe::gpu {

enum ProcessType : uint32_t { kProcessCompute = 1, kProcessGraphics = 2 };

struct ProcessDetail {
  uint32_t pid = 0;
  // Bytes. Entries of one list with the same pid (one per MIG instance) are
  // summed; a pid on both lists takes the larger figure (the driver reports
  // the process's memory in each). NaN when NVML does not say.
  double usedBytes = 0;
  uint32_t types = 0;              // kProcessCompute | kProcessGraphics
  double gpuInstanceId = 0;        // NaN when not attributable (no MIG, or a v1 list)
  double computeInstanceId = 0;
  // Percent, from the pid's newest nvmlDeviceGetProcessUtilization sample
  // taken since the previous read of this device; NaN when none.
  double smUtil = 0, memUtil = 0, encUtil = 0, decUtil = 0;
  double utilTimestampUs = 0;      // that sample's CPU timestamp (us), NaN when none
  std::string name;                // empty when the pid is not visible here
};

struct ProcessDetails {
  int computeStatus = 0;   // NVML code of each list / the utilization read (kSuccess or why not;
  int graphicsStatus = 0;  // utilization: NVML_ERROR_NOT_FOUND = no sample since the last read)
  int utilStatus = 0;
  std::vector<ProcessDetail> processes;  // ascending pid
};

// Fills `block` exactly as ReadDevice does, then the process table of device
// `index`. The block's kGpuProcessMemoryBytes then counts this process on
// both lists (the sampler's counts the compute list only).
void ReadDeviceDetails(int index, double* block, Scratch& scratch, ProcessDetails& out);

struct MigDevice {
  unsigned index = 0;               // MIG device index under its parent
  std::string uuid;                 // "MIG-..." (empty when unknown)
  double gpuInstanceId = 0;         // NaN when unknown
  double computeInstanceId = 0;
  double memoryTotalBytes = 0;      // the parent's memory API: v2 (used excludes reserved), else v1
  double memoryUsedBytes = 0;
};

struct MigInfo {
  int status = 0;  // kSuccess; otherwise (NOT_SUPPORTED, a missing symbol, ...) the device has no MIG
  bool currentMode = false;
  bool pendingMode = false;
  std::vector<MigDevice> devices;  // only while currentMode
};

// MIG mode and devices of device `index` (re-enumerated at every call: MIG
// handles become invalid when instances are destroyed).
void ReadMig(int index, MigInfo& out);

// KB/s over NVML's ~20 ms window, both counters. NaN when unsupported or lost.
// Blocks ~40 ms per device on real drivers: never call it on the event loop.
void ReadPcieThroughput(int index, double* txKBps, double* rxKBps);

// The process's name: on Linux /proc/<pid>/comm, widened to argv[0]'s base
// name when comm looks truncated (15 bytes) and argv[0] extends it; on
// Windows the executable's base name without ".exe". Empty when the process
// is not visible (another pid namespace, exited, no query rights) and on
// macOS.
std::string ProcessName(uint32_t pid);

}  // namespace perfprobe::gpu
