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
  kResetTypeNotSupported = 30,  // added by nvml.h 13
  kUnknown = 999,
};

// nvmlTemperatureSensors_t / nvmlClockType_t values used.
constexpr int kTemperatureGpu = 0;
constexpr int kClockSm = 1;
constexpr int kClockMem = 2;

// nvmlPstates_t: 0..15 are P0..P15; this one means the driver does not know.
constexpr unsigned kPstateUnknown = 32;

// nvmlMemoryErrorType_t / nvmlEccCounterType_t / nvmlEnableState_t.
constexpr int kMemoryErrorCorrected = 0;
constexpr int kMemoryErrorUncorrected = 1;
constexpr int kEccCounterVolatile = 0;
constexpr int kEccCounterAggregate = 1;
constexpr int kFeatureEnabled = 1;

// nvmlPcieUtilCounter_t (values in KB/s, 1 KB granularity).
constexpr int kPcieUtilTxBytes = 0;
constexpr int kPcieUtilRxBytes = 1;

// Field ids of nvmlDeviceGetFieldValues (NVML_FI_*) used. Never the energy
// field: it makes the whole batch cost ~4 ms.
constexpr unsigned kFieldMemoryTemperature = 82;  // NVML_FI_DEV_MEMORY_TEMP, degrees C

// nvmlValueType_t.
enum : int {
  kValueDouble = 0,
  kValueUnsignedInt = 1,
  kValueUnsignedLong = 2,
  kValueUnsignedLongLong = 3,
  kValueSignedLongLong = 4,
  kValueSignedInt = 5,
  kValueUnsignedShort = 6,
};

// nvmlEventType bits (event sets; Linux only).
constexpr unsigned long long kEventSingleBitEcc = 0x1ULL;
constexpr unsigned long long kEventDoubleBitEcc = 0x2ULL;
constexpr unsigned long long kEventPState = 0x4ULL;
constexpr unsigned long long kEventXidCritical = 0x8ULL;
constexpr unsigned long long kEventClock = 0x10ULL;

// gpuInstanceId / computeInstanceId when not attributable (events, processes).
constexpr unsigned kInstanceIdNone = 0xFFFFFFFFu;

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

struct TemperatureV1 {  // nvmlTemperature_v1_t (nvmlDeviceGetTemperatureV)
  unsigned int version;
  int sensorType;  // nvmlTemperatureSensors_t
  int temperature;
};
// NVML_STRUCT_VERSION(Temperature, 1)
constexpr unsigned int kTemperatureV1Version = static_cast<unsigned int>(sizeof(TemperatureV1)) | (1u << 24);

union Value {  // nvmlValue_t
  double dVal;
  int siVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  signed long long sllVal;
  unsigned short usVal;
};

struct FieldValue {  // nvmlFieldValue_t
  unsigned int fieldId;
  unsigned int scopeId;
  long long timestamp;    // us since 1970
  long long latencyUsec;
  int valueType;          // nvmlValueType_t
  Return nvmlReturn;      // per-field status: check before `value`
  Value value;
};

struct ProcessUtilizationSample {  // nvmlProcessUtilizationSample_t
  unsigned int pid;
  unsigned long long timeStamp;  // CPU timestamp, us
  unsigned int smUtil;
  unsigned int memUtil;
  unsigned int encUtil;
  unsigned int decUtil;
};

using EventSet = struct EventSetOpaque*;  // nvmlEventSet_t

// nvmlEventData_t as nvmlEventSetWait_v2 writes it. The unversioned
// nvmlEventSetWait of older drivers writes only the first three fields.
struct EventData {
  Device device;
  unsigned long long eventType;
  unsigned long long eventData;  // the Xid for kEventXidCritical (999 = unknown Xid), else 0
  unsigned int gpuInstanceId;    // kInstanceIdNone unless attributable (MIG)
  unsigned int computeInstanceId;
};

static_assert(sizeof(TemperatureV1) == 12, "nvmlTemperature_v1_t is 12 bytes");
static_assert(sizeof(Value) == 8, "nvmlValue_t is 8 bytes");
static_assert(sizeof(FieldValue) == 40, "nvmlFieldValue_t is 40 bytes");
static_assert(sizeof(ProcessUtilizationSample) == 32, "nvmlProcessUtilizationSample_t is 32 bytes");
static_assert(sizeof(EventData) == 32, "nvmlEventData_t is 32 bytes");
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
using DeviceGetUllOutFn = Return (*)(Device, unsigned long long*);   // clocks event reasons, supported events
using GetTemperatureVFn = Return (*)(Device, TemperatureV1*);
using GetFieldValuesFn = Return (*)(Device, int, FieldValue*);
using GetCodecUtilFn = Return (*)(Device, unsigned int*, unsigned int*);  // encoder/decoder: util, sampling period us
using GetEccModeFn = Return (*)(Device, int*, int*);                 // nvmlEnableState_t current, pending
using GetTotalEccErrorsFn = Return (*)(Device, int, int, unsigned long long*);
using GetProcessUtilizationFn = Return (*)(Device, ProcessUtilizationSample*, unsigned int*, unsigned long long);
using GetMigModeFn = Return (*)(Device, unsigned int*, unsigned int*);
using GetMigHandleFn = Return (*)(Device, unsigned int, Device*);
using GetPcieThroughputFn = Return (*)(Device, int, unsigned int*);
using EventSetCreateFn = Return (*)(EventSet*);
using EventSetFreeFn = Return (*)(EventSet);
using RegisterEventsFn = Return (*)(Device, unsigned long long, EventSet);
using EventSetWaitFn = Return (*)(EventSet, EventData*, unsigned int);
}

}  // namespace perfprobe::nvml
