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
