// Process-wide NVML: the dlopen of the library, nvmlInit, the device handles
// and their static facts. Free of Node-API (the native tests link it).
//
// Guarantees:
// - the library is opened with dlopen at run time, never linked; every symbol
//   is looked up with dlsym and checked; a missing one leaves its pointer null
//   (its field is then unsupported), never a crash;
// - nvmlInit runs once for the first reference and nvmlShutdown once when the
//   last reference goes; Acquire/Release are thread-safe and counted;
// - Api() and Devices() stay valid and unchanged while the caller holds a
//   reference, so readers never lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nvml_types.h"

namespace perfprobe::nvml {

struct Api {
  void* library = nullptr;
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  GetCountFn getCount = nullptr;
  GetHandleByIndexFn getHandle = nullptr;
  GetStringFn driverVersion = nullptr;
  GetStringFn nvmlVersion = nullptr;
  DeviceGetStringFn getName = nullptr;
  DeviceGetStringFn getUuid = nullptr;
  GetUtilizationFn getUtilization = nullptr;
  GetMemoryV2Fn getMemoryV2 = nullptr;
  GetMemoryV1Fn getMemoryV1 = nullptr;
  DeviceGetSensorFn getTemperature = nullptr;
  DeviceGetUintFn getPowerUsage = nullptr;
  DeviceGetUintFn getEnforcedPowerLimit = nullptr;
  DeviceGetSensorFn getClockInfo = nullptr;
  DeviceGetUintFn getFanSpeed = nullptr;
  DeviceGetUllFn getTotalEnergy = nullptr;  // costly (~4 ms): on request only
  GetProcessesFn getProcesses = nullptr;
  int processApi = 0;         // 3, 2 or 1 (which nvmlDeviceGetComputeRunningProcesses), 0 = none
  size_t processStride = 0;   // bytes per entry the library writes
  bool processDrift = false;  // 535.43-535.86 _v3 layout (32-byte entries)
  const char* initName = "";  // which init symbol was used

  // GPU depth (issue 13). Each null when the library lacks the symbol: the
  // field is then unsupported.
  GetTemperatureVFn getTemperatureV = nullptr;  // nvml.h 13: preferred over getTemperature
  DeviceGetUintFn getPerformanceState = nullptr;
  DeviceGetUllOutFn getClocksEventReasons = nullptr;  // ...ClocksEventReasons, else ...ClocksThrottleReasons
  const char* clocksReasonsName = "";
  GetFieldValuesFn getFieldValues = nullptr;
  GetCodecUtilFn getEncoderUtilization = nullptr;
  GetCodecUtilFn getDecoderUtilization = nullptr;
  GetEccModeFn getEccMode = nullptr;
  GetTotalEccErrorsFn getTotalEccErrors = nullptr;
  DeviceGetUintFn getPcieLinkGeneration = nullptr;  // current
  DeviceGetUintFn getPcieLinkWidth = nullptr;       // current
  GetPcieThroughputFn getPcieThroughput = nullptr;  // waits out a ~20 ms window: on request only
  GetProcessesFn getGraphicsProcesses = nullptr;
  int graphicsProcessApi = 0;  // 3, 2 or 1 (which nvmlDeviceGetGraphicsRunningProcesses), 0 = none
  size_t graphicsProcessStride = 0;
  GetProcessUtilizationFn getProcessUtilization = nullptr;
  GetMigModeFn getMigMode = nullptr;
  DeviceGetUintFn getMaxMigDeviceCount = nullptr;
  GetMigHandleFn getMigDeviceHandle = nullptr;
  DeviceGetUintFn getGpuInstanceId = nullptr;
  DeviceGetUintFn getComputeInstanceId = nullptr;
  EventSetCreateFn eventSetCreate = nullptr;
  EventSetFreeFn eventSetFree = nullptr;
  RegisterEventsFn registerEvents = nullptr;
  DeviceGetUllOutFn getSupportedEventTypes = nullptr;
  EventSetWaitFn eventSetWait = nullptr;  // nvmlEventSetWait_v2, else nvmlEventSetWait
  int eventWaitApi = 0;                   // 2 or 1, 0 = none
};

// Bits of DeviceInfo::unsupported: a field whose call answered NOT_SUPPORTED,
// NO_PERMISSION or whose symbol is missing is not asked again.
enum UnsupportedBit : uint32_t {
  kBitUtilization = 1u << 0,
  kBitMemory = 1u << 1,
  kBitTemperature = 1u << 2,
  kBitPower = 1u << 3,
  kBitSmClock = 1u << 4,
  kBitMemClock = 1u << 5,
  kBitFan = 1u << 6,
  kBitProcesses = 1u << 7,
  kBitMemoryV2 = 1u << 8,  // v2 refused: v1 is used for this device
  kBitEnergy = 1u << 9,
  kBitTemperatureV = 1u << 10,  // nvmlDeviceGetTemperatureV refused (version): the old call is used
  kBitPstate = 1u << 11,
  kBitClocksReasons = 1u << 12,
  kBitMemoryTemperature = 1u << 13,
  kBitEncoder = 1u << 14,
  kBitDecoder = 1u << 15,
  kBitEccMode = 1u << 16,
  kBitEccCorrectedVolatile = 1u << 17,
  kBitEccUncorrectedVolatile = 1u << 18,
  kBitEccCorrectedAggregate = 1u << 19,
  kBitEccUncorrectedAggregate = 1u << 20,
  kBitPcieGeneration = 1u << 21,
  kBitPcieWidth = 1u << 22,
  kBitGraphicsProcesses = 1u << 23,
  kBitProcessUtilization = 1u << 24,
  kBitMig = 1u << 25,
  kBitPcieThroughput = 1u << 26,
};

// Values of the fields refreshed at most once per DeviceInfo::kSlowRefreshNs
// (ECC mode and counters, PCIe link): owned by gpu_reader.cc, guarded by
// `mutex`. Their cost is not known to be small (ANCHORS has no figure) and
// they change rarely, so a 1 kHz sampler must not pay for them per sample.
struct SlowFields {
  static constexpr int kCount = 8;
  std::mutex mutex;
  int64_t readAtNs = 0;   // steady clock of the last refresh; 0 = never
  double values[kCount];  // NaN-initialised by the reader on first use
};

struct DeviceInfo {
  Device handle = nullptr;
  Return handleError = kSuccess;  // why handle is null
  std::string name;               // empty when unknown
  std::string uuid;
  double memoryTotalBytes = 0;    // NaN when unknown
  double powerLimitMw = 0;        // enforced limit, cached; NaN when unknown
  std::atomic<bool> lost{false};
  std::atomic<uint32_t> unsupported{0};
  SlowFields slow;
  // Newest nvmlDeviceGetProcessUtilization sample timestamp seen (us): the
  // next read asks only for samples after it.
  std::atomic<unsigned long long> processUtilSeenUs{0};
};

struct OpenInfo {
  bool ok = false;
  std::string path;        // the library opened or tried
  std::string error;       // human-readable reason when !ok
  Return code = kSuccess;  // NVML error code when !ok (LIBRARY_NOT_FOUND for dlopen failures)
  std::string driverVersion;
  std::string nvmlVersion;
  int deviceCount = 0;
};

// The platform's NVML library name: "libnvidia-ml.so.1" ("nvml.dll" on Windows).
const char* DefaultLibrary();

// Takes one reference on success (info.ok). `path` is the library to open;
// null or empty means DefaultLibrary(). Every caller names the library:
// nothing is remembered from earlier calls and the environment is never
// read (PERFPROBE_NVML and PERFPROBE_NVML_LIBRARY are TypeScript's, in
// src/probes/gpu.ts). When NVML is already initialised, the open library is
// kept and its info returned (info.path names it).
OpenInfo Acquire(const char* path);
void Release();
int References();
// The info of the open library (ok=false when none is open).
OpenInfo Current();

// Valid while the caller holds a reference.
const Api& GetApi();
std::vector<std::unique_ptr<DeviceInfo>>& Devices();

// "NVML_ERROR_GPU_IS_LOST" etc.; perfprobe's own table (works with no library).
const char* ErrorName(Return code);

// True for the driver versions whose _v3 process struct drifted (535.43-535.86).
bool IsDriftDriver(const std::string& driverVersion);

}  // namespace perfprobe::nvml
