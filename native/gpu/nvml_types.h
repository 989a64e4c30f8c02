// The few NVML types, constants and function signatures perfprobe uses,
// declared here so the build needs no nvml.h and no driver. Values follow
// NVML's public API reference; layouts are the C ABI of the driver library.
#pragma once

#include <cstdint>

namespace perfprobe::nvml {

using Return = int;  // nvmlReturn_t
using Device = struct DeviceOpaque*;  // nvmlDevice_t

// nvmlReturn_t values.
enum : Return {
  kSuccess = 0,
  kUninitialized = 1,
  kInvalidArgument = 2,
  kNotSupported = 3,
  kNoPermission = 4,
  kAlreadyInitialized = 5,
  kNotFound = 6,
  kInsufficientSize = 7,
  kInsufficientPower = 8,
  kDriverNotLoaded = 9,
  kTimeout = 10,
  kIrqIssue = 11,
  kLibraryNotFound = 12,
  kFunctionNotFound = 13,
  kCorruptedInforom = 14,
  kGpuIsLost = 15,
  kResetRequired = 16,
  kOperatingSystem = 17,
  kLibRmVersionMismatch = 18,
  kInUse = 19,
  kMemory = 20,
  kNoData = 21,
  kVgpuEccNotSupported = 22,
  kInsufficientResources = 23,
  kFreqNotSupported = 24,
  kArgumentVersionMismatch = 25,
  kDeprecated = 26,
  kNotReady = 27,
  kGpuNotFound = 28,
  kInvalidState = 29,
  kUnknown = 999,
};

// nvmlTemperatureSensors_t / nvmlClockType_t values used.
constexpr int kTemperatureGpu = 0;
constexpr int kClockSm = 1;
constexpr int kClockMem = 2;

// NVML_VALUE_NOT_AVAILABLE for unsigned long long fields.
constexpr unsigned long long kValueNotAvailable = ~0ULL;

// Buffer sizes NVML documents for strings (the *_V2 sizes, the largest).
constexpr unsigned kNameBufferSize = 96;
constexpr unsigned kUuidBufferSize = 96;
constexpr unsigned kDriverVersionBufferSize = 80;

struct Utilization {  // nvmlUtilization_t
  unsigned int gpu;
  unsigned int memory;
};

struct MemoryV1 {  // nvmlMemory_t: `used` includes driver-reserved memory
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct MemoryV2 {  // nvmlMemory_v2_t: `used` excludes `reserved` (what nvidia-smi shows)
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};
// NVML_STRUCT_VERSION(Memory, 2)
constexpr unsigned int kMemoryV2Version = static_cast<unsigned int>(sizeof(MemoryV2)) | (2u << 24);

struct ProcessInfoV1 {  // nvmlProcessInfo_v1_t (nvmlDeviceGetComputeRunningProcesses)
  unsigned int pid;
  unsigned long long usedGpuMemory;
};

struct ProcessInfoV2 {  // nvmlProcessInfo_v2_t (_v2 and, on most drivers, _v3)
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};

// What drivers 535.43 to 535.86 write through _v3: the v2 fields plus one
// more, with no version bump (the struct grew to 32 bytes).
struct ProcessInfoV3Drift {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
  unsigned long long usedGpuCcProtectedMemory;
};

static_assert(sizeof(MemoryV2) == 40, "nvmlMemory_v2_t is 40 bytes");
static_assert(sizeof(ProcessInfoV1) == 16, "nvmlProcessInfo_v1_t is 16 bytes");
static_assert(sizeof(ProcessInfoV2) == 24, "nvmlProcessInfo_v2_t is 24 bytes");
static_assert(sizeof(ProcessInfoV3Drift) == 32, "535.43-535.86 nvmlProcessInfo_t is 32 bytes");

extern "C" {
using InitFn = Return (*)();
using ShutdownFn = Return (*)();
using GetCountFn = Return (*)(unsigned int*);
using GetHandleByIndexFn = Return (*)(unsigned int, Device*);
using GetStringFn = Return (*)(char*, unsigned int);                 // system driver/NVML version
using DeviceGetStringFn = Return (*)(Device, char*, unsigned int);   // name, uuid
using DeviceGetUintFn = Return (*)(Device, unsigned int*);           // power, limit, fan
using DeviceGetUllFn = Return (*)(Device, unsigned long long*);      // energy
using DeviceGetSensorFn = Return (*)(Device, int, unsigned int*);    // temperature, clocks
using GetUtilizationFn = Return (*)(Device, Utilization*);
using GetMemoryV1Fn = Return (*)(Device, MemoryV1*);
using GetMemoryV2Fn = Return (*)(Device, MemoryV2*);
using GetProcessesFn = Return (*)(Device, unsigned int*, void*);     // struct chosen by version
}

}  // namespace perfprobe::nvml
