// The seam between the addon core (addon.cc, sampler) and the GPU probe.
// The core calls only these functions; everything about NVML lives behind them.
// Free of Node-API so the native tests link it without Node; the JavaScript
// functions are registered by gpu_exports.h.
#pragma once

#include <cstdint>
#include <vector>

namespace perfprobe::gpu {

// Per-GPU block of doubles in readings and sampler records. NaN = unsupported.
// Units are NVML's own. Every slot is read on every sample (cheap calls: see
// ../shared/ANCHORS.md, 0.2-1.6 us each) except those marked "slow": they are
// refreshed at most once per second per device and carried in between.
enum GpuSlot : int {
  kGpuStatus = 0,             // a GpuStatus code
  kGpuLoadPercent = 1,        // utilization.gpu
  kGpuMemoryUtilPercent = 2,  // utilization.memory
  kGpuMemoryTotalBytes = 3,
  kGpuMemoryUsedBytes = 4,    // v2 figure, as nvidia-smi shows
  kGpuMemoryReservedBytes = 5,
  kGpuMemoryFreeBytes = 6,
  kGpuTemperatureC = 7,       // nvmlDeviceGetTemperatureV where present, else nvmlDeviceGetTemperature
  kGpuPowerMilliwatts = 8,
  kGpuPowerLimitMilliwatts = 9,  // cached enforced limit
  kGpuSmClockMhz = 10,
  kGpuMemoryClockMhz = 11,
  kGpuFanPercent = 12,
  kGpuProcessMemoryBytes = 13,   // this process: 0 if absent from the list, NaN if list unsupported
  kGpuWatchedMemoryBytes = 14,   // sum over watched pids: 0 if none listed, NaN if unsupported/no watch
  kGpuPerformanceState = 15,     // 0..15 = P0..P15 (NVML_PSTATE_UNKNOWN reads NaN)
  kGpuClocksEventReasons = 16,   // nvmlClocksEventReason* bitmask (exact in a double up to bit 52)
  kGpuMemoryTemperatureC = 17,   // NVML_FI_DEV_MEMORY_TEMP through nvmlDeviceGetFieldValues
  kGpuEncoderUtilPercent = 18,
  kGpuDecoderUtilPercent = 19,
  kGpuPcieLinkGeneration = 20,   // slow; current link generation
  kGpuPcieLinkWidth = 21,        // slow; current lanes
  kGpuEccModeCurrent = 22,       // slow; 1 enabled, 0 disabled (then the 4 counters are NaN), NaN unsupported
  kGpuEccModePending = 23,       // slow; the mode after the next reboot/reset
  kGpuEccCorrectedVolatile = 24,     // slow; counts since the driver loaded
  kGpuEccUncorrectedVolatile = 25,   // slow
  kGpuEccCorrectedAggregate = 26,    // slow; counts over the device's lifetime
  kGpuEccUncorrectedAggregate = 27,  // slow
  kGpuSlots = 28,
};

// How often the "slow" slots are refreshed, per device, at most.
constexpr long long kGpuSlowRefreshNs = 1000000000LL;

// Values of the kGpuStatus slot. Part of the layout contract: the addon
// exports them as layout.gpuStatus and src/schema/layout.ts mirrors them.
enum GpuStatus : int {
  kGpuOk = 0,     // every supported field read
  kGpuLost = 1,   // NVML_ERROR_GPU_IS_LOST: every field NaN from now on
  kGpuError = 2,  // some call failed this time: the fields that read are kept
};

// Process-wide, thread-safe. The sampler calls AcquireForSampler(library)
// when it starts with GPUs enabled and ReleaseForSampler() when it stops;
// both never throw. `library` is the NVML file to open ("" or null = the
// platform's default name); the caller always names it (no state carries a
// path from one open to the next). Returns the device count, or -1 when
// NVML is not available (no reference is then held).
int AcquireForSampler(const char* library);
void ReleaseForSampler();

// Called only on a sampler thread between Acquire and Release. Writes
// min(deviceCount, maxDevices) blocks of kGpuSlots doubles to `out` and
// returns how many it wrote. `watchedPids` is sorted ascending (may be empty:
// then kGpuWatchedMemoryBytes is NaN). Must not allocate on the steady path
// beyond the process-list buffers it keeps.
int SampleAll(double* out, int maxDevices, const std::vector<int32_t>& watchedPids);

}  // namespace perfprobe::gpu
