// Process-wide NVML loading and initialisation (see nvml_loader.h).
#include "nvml_loader.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif

#include <cmath>
#include <cstdio>
#include <mutex>

namespace perfprobe::nvml {
namespace {

std::mutex g_mutex;
int g_refs = 0;
Api g_api;
// Never destroyed: process.exit() runs no environment cleanup hooks, so a
// sampler thread can still be reading the devices while exit() runs static
// destructors (a heap-use-after-free under ASan in 29 of 30 runs before).
std::vector<std::unique_ptr<DeviceInfo>>& g_devices = *new std::vector<std::unique_ptr<DeviceInfo>>();
OpenInfo g_info;

#ifdef _WIN32
constexpr const char* kDefaultLibrary = "nvml.dll";
void* OpenLib(const char* path) { return reinterpret_cast<void*>(LoadLibraryA(path)); }
void* LibSym(void* lib, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(static_cast<HMODULE>(lib), name));
}
void CloseLib(void* lib) { FreeLibrary(static_cast<HMODULE>(lib)); }
std::string LibError() { return "LoadLibrary failed with error " + std::to_string(GetLastError()); }
#else
constexpr const char* kDefaultLibrary = "libnvidia-ml.so.1";
void* OpenLib(const char* path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
void* LibSym(void* lib, const char* name) { return dlsym(lib, name); }
void CloseLib(void* lib) { dlclose(lib); }
std::string LibError() {
  const char* e = dlerror();
  return e ? e : "dlopen failed";
}
#endif

template <typename Fn>
Fn Sym(void* lib, const char* name) {
  return reinterpret_cast<Fn>(LibSym(lib, name));
}

// First symbol found among `names` (versioned names first).
template <typename Fn>
Fn SymFirst(void* lib, std::initializer_list<const char*> names, const char** found = nullptr) {
  for (const char* n : names) {
    if (Fn f = Sym<Fn>(lib, n)) {
      if (found) *found = n;
      return f;
    }
  }
  return nullptr;
}

// The symbols of the GPU depth fields (issue 13); versioned names first.
void LoadDepthSymbols(void* lib, Api& api) {
  api.getTemperatureV = Sym<GetTemperatureVFn>(lib, "nvmlDeviceGetTemperatureV");
  api.getPerformanceState = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetPerformanceState");
  api.getClocksEventReasons = SymFirst<DeviceGetUllOutFn>(
      lib, {"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"},
      &api.clocksReasonsName);
  api.getFieldValues = Sym<GetFieldValuesFn>(lib, "nvmlDeviceGetFieldValues");
  api.getEncoderUtilization = Sym<GetCodecUtilFn>(lib, "nvmlDeviceGetEncoderUtilization");
  api.getDecoderUtilization = Sym<GetCodecUtilFn>(lib, "nvmlDeviceGetDecoderUtilization");
  api.getEccMode = Sym<GetEccModeFn>(lib, "nvmlDeviceGetEccMode");
  api.getTotalEccErrors = Sym<GetTotalEccErrorsFn>(lib, "nvmlDeviceGetTotalEccErrors");
  api.getPcieLinkGeneration = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetCurrPcieLinkGeneration");
  api.getPcieLinkWidth = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetCurrPcieLinkWidth");
  api.getPcieThroughput = Sym<GetPcieThroughputFn>(lib, "nvmlDeviceGetPcieThroughput");
  if ((api.getGraphicsProcesses = Sym<GetProcessesFn>(lib, "nvmlDeviceGetGraphicsRunningProcesses_v3"))) {
    api.graphicsProcessApi = 3;
    api.graphicsProcessStride = sizeof(ProcessInfoV2);
  } else if ((api.getGraphicsProcesses = Sym<GetProcessesFn>(lib, "nvmlDeviceGetGraphicsRunningProcesses_v2"))) {
    api.graphicsProcessApi = 2;
    api.graphicsProcessStride = sizeof(ProcessInfoV2);
  } else if ((api.getGraphicsProcesses = Sym<GetProcessesFn>(lib, "nvmlDeviceGetGraphicsRunningProcesses"))) {
    api.graphicsProcessApi = 1;
    api.graphicsProcessStride = sizeof(ProcessInfoV1);
  }
  api.getProcessUtilization = Sym<GetProcessUtilizationFn>(lib, "nvmlDeviceGetProcessUtilization");
  api.getMigMode = Sym<GetMigModeFn>(lib, "nvmlDeviceGetMigMode");
  api.getMaxMigDeviceCount = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetMaxMigDeviceCount");
  api.getMigDeviceHandle = Sym<GetMigHandleFn>(lib, "nvmlDeviceGetMigDeviceHandleByIndex");
  api.getGpuInstanceId = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetGpuInstanceId");
  api.getComputeInstanceId = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetComputeInstanceId");
  api.eventSetCreate = Sym<EventSetCreateFn>(lib, "nvmlEventSetCreate");
  api.eventSetFree = Sym<EventSetFreeFn>(lib, "nvmlEventSetFree");
  api.registerEvents = Sym<RegisterEventsFn>(lib, "nvmlDeviceRegisterEvents");
  api.getSupportedEventTypes = Sym<DeviceGetUllOutFn>(lib, "nvmlDeviceGetSupportedEventTypes");
  if ((api.eventSetWait = Sym<EventSetWaitFn>(lib, "nvmlEventSetWait_v2"))) {
    api.eventWaitApi = 2;
  } else if ((api.eventSetWait = Sym<EventSetWaitFn>(lib, "nvmlEventSetWait"))) {
    api.eventWaitApi = 1;
  }
}

void LoadSymbols(void* lib, Api& api) {
  api.library = lib;
  api.init = SymFirst<InitFn>(lib, {"nvmlInit_v2", "nvmlInit"}, &api.initName);
  api.shutdown = Sym<ShutdownFn>(lib, "nvmlShutdown");
  api.getCount = SymFirst<GetCountFn>(lib, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
  api.getHandle =
      SymFirst<GetHandleByIndexFn>(lib, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
  api.driverVersion = Sym<GetStringFn>(lib, "nvmlSystemGetDriverVersion");
  api.nvmlVersion = Sym<GetStringFn>(lib, "nvmlSystemGetNVMLVersion");
  api.getName = Sym<DeviceGetStringFn>(lib, "nvmlDeviceGetName");
  api.getUuid = Sym<DeviceGetStringFn>(lib, "nvmlDeviceGetUUID");
  api.getUtilization = Sym<GetUtilizationFn>(lib, "nvmlDeviceGetUtilizationRates");
  api.getMemoryV2 = Sym<GetMemoryV2Fn>(lib, "nvmlDeviceGetMemoryInfo_v2");
  api.getMemoryV1 = Sym<GetMemoryV1Fn>(lib, "nvmlDeviceGetMemoryInfo");
  api.getTemperature = Sym<DeviceGetSensorFn>(lib, "nvmlDeviceGetTemperature");
  api.getPowerUsage = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetPowerUsage");
  api.getEnforcedPowerLimit = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetEnforcedPowerLimit");
  api.getClockInfo = Sym<DeviceGetSensorFn>(lib, "nvmlDeviceGetClockInfo");
  api.getFanSpeed = Sym<DeviceGetUintFn>(lib, "nvmlDeviceGetFanSpeed");
  api.getTotalEnergy = Sym<DeviceGetUllFn>(lib, "nvmlDeviceGetTotalEnergyConsumption");
  if ((api.getProcesses = Sym<GetProcessesFn>(lib, "nvmlDeviceGetComputeRunningProcesses_v3"))) {
    api.processApi = 3;
    api.processStride = sizeof(ProcessInfoV2);
  } else if ((api.getProcesses = Sym<GetProcessesFn>(lib, "nvmlDeviceGetComputeRunningProcesses_v2"))) {
    api.processApi = 2;
    api.processStride = sizeof(ProcessInfoV2);
  } else if ((api.getProcesses = Sym<GetProcessesFn>(lib, "nvmlDeviceGetComputeRunningProcesses"))) {
    api.processApi = 1;
    api.processStride = sizeof(ProcessInfoV1);
  }
  LoadDepthSymbols(lib, api);
}

std::string ReadString(GetStringFn fn, unsigned size) {
  if (!fn) return {};
  char buf[128] = {0};
  if (size > sizeof(buf)) size = sizeof(buf);
  if (fn(buf, size) != kSuccess) return {};
  buf[sizeof(buf) - 1] = 0;
  return buf;
}

std::string ReadDeviceString(DeviceGetStringFn fn, Device d, unsigned size) {
  if (!fn) return {};
  char buf[128] = {0};
  if (size > sizeof(buf)) size = sizeof(buf);
  if (fn(d, buf, size) != kSuccess) return {};
  buf[sizeof(buf) - 1] = 0;
  return buf;
}

void LoadDevices(unsigned count) {
  g_devices.clear();
  for (unsigned i = 0; i < count; ++i) {
    auto info = std::make_unique<DeviceInfo>();
    Return r = g_api.getHandle ? g_api.getHandle(i, &info->handle) : kFunctionNotFound;
    if (r != kSuccess) {
      info->handle = nullptr;
      info->handleError = r;
      if (r == kGpuIsLost) info->lost.store(true);
      info->memoryTotalBytes = NAN;
      info->powerLimitMw = NAN;
      g_devices.push_back(std::move(info));
      continue;
    }
    info->name = ReadDeviceString(g_api.getName, info->handle, kNameBufferSize);
    info->uuid = ReadDeviceString(g_api.getUuid, info->handle, kUuidBufferSize);
    unsigned mw = 0;
    info->powerLimitMw = (g_api.getEnforcedPowerLimit && g_api.getEnforcedPowerLimit(info->handle, &mw) == kSuccess)
                             ? static_cast<double>(mw)
                             : NAN;
    info->memoryTotalBytes = NAN;
    MemoryV2 m2{};
    m2.version = kMemoryV2Version;
    MemoryV1 m1{};
    if (g_api.getMemoryV2 && g_api.getMemoryV2(info->handle, &m2) == kSuccess) {
      info->memoryTotalBytes = static_cast<double>(m2.total);
    } else if (g_api.getMemoryV1 && g_api.getMemoryV1(info->handle, &m1) == kSuccess) {
      info->memoryTotalBytes = static_cast<double>(m1.total);
    }
    g_devices.push_back(std::move(info));
  }
}

void CloseLibrary() {
  if (g_api.library) CloseLib(g_api.library);
  g_api = Api{};
  g_devices.clear();
}

}  // namespace

const char* DefaultLibrary() { return kDefaultLibrary; }

OpenInfo Acquire(const char* path) {
  const std::string wanted = (path && *path) ? std::string(path) : std::string(kDefaultLibrary);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_refs > 0) {
    ++g_refs;
    return g_info;
  }
  OpenInfo info;
  info.path = wanted;
  void* lib = OpenLib(wanted.c_str());
  if (!lib) {
    info.code = kLibraryNotFound;
    info.error = std::string("cannot load ") + wanted + ": " + LibError();
    return info;
  }
  Api api;
  LoadSymbols(lib, api);
  if (!api.init || !api.getCount) {
    info.code = kFunctionNotFound;
    info.error = std::string(wanted) + " lacks " + (!api.init ? "nvmlInit_v2/nvmlInit" : "nvmlDeviceGetCount");
    CloseLib(lib);
    return info;
  }
  Return r = api.init();
  if (r != kSuccess) {
    info.code = r;
    info.error = std::string("nvmlInit failed with ") + ErrorName(r) + " (" + wanted + ")";
    CloseLib(lib);
    return info;
  }
  g_api = api;
  info.driverVersion = ReadString(api.driverVersion, kDriverVersionBufferSize);
  info.nvmlVersion = ReadString(api.nvmlVersion, kDriverVersionBufferSize);
  if (api.processApi == 3 && IsDriftDriver(info.driverVersion)) {
    g_api.processDrift = true;
    g_api.processStride = sizeof(ProcessInfoV3Drift);
  }
  // The drifted struct is nvmlProcessInfo_t itself: the graphics list's _v3 writes it too.
  if (api.graphicsProcessApi == 3 && IsDriftDriver(info.driverVersion))
    g_api.graphicsProcessStride = sizeof(ProcessInfoV3Drift);
  unsigned count = 0;
  r = api.getCount(&count);
  if (r != kSuccess) {
    info.code = r;
    info.error = std::string("nvmlDeviceGetCount failed with ") + ErrorName(r) + " (" + wanted + ")";
    if (api.shutdown) api.shutdown();
    CloseLibrary();
    return info;
  }
  LoadDevices(count);
  info.ok = true;
  info.deviceCount = static_cast<int>(count);
  g_info = info;
  g_refs = 1;
  return info;
}

void Release() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_refs <= 0) return;
  if (--g_refs > 0) return;
  if (g_api.shutdown) g_api.shutdown();
  CloseLibrary();
  g_info = OpenInfo{};
}

int References() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_refs;
}

OpenInfo Current() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_info;
}

const Api& GetApi() { return g_api; }
std::vector<std::unique_ptr<DeviceInfo>>& Devices() { return g_devices; }

bool IsDriftDriver(const std::string& v) {
  int major = 0, minor = 0;
  if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major == 535 && minor >= 43 && minor <= 86;
}

const char* ErrorName(Return code) {
  switch (code) {
    case kSuccess: return "NVML_SUCCESS";
    case kUninitialized: return "NVML_ERROR_UNINITIALIZED";
    case kInvalidArgument: return "NVML_ERROR_INVALID_ARGUMENT";
    case kNotSupported: return "NVML_ERROR_NOT_SUPPORTED";
    case kNoPermission: return "NVML_ERROR_NO_PERMISSION";
    case kAlreadyInitialized: return "NVML_ERROR_ALREADY_INITIALIZED";
    case kNotFound: return "NVML_ERROR_NOT_FOUND";
    case kInsufficientSize: return "NVML_ERROR_INSUFFICIENT_SIZE";
    case kInsufficientPower: return "NVML_ERROR_INSUFFICIENT_POWER";
    case kDriverNotLoaded: return "NVML_ERROR_DRIVER_NOT_LOADED";
    case kTimeout: return "NVML_ERROR_TIMEOUT";
    case kIrqIssue: return "NVML_ERROR_IRQ_ISSUE";
    case kLibraryNotFound: return "NVML_ERROR_LIBRARY_NOT_FOUND";
    case kFunctionNotFound: return "NVML_ERROR_FUNCTION_NOT_FOUND";
    case kCorruptedInforom: return "NVML_ERROR_CORRUPTED_INFOROM";
    case kGpuIsLost: return "NVML_ERROR_GPU_IS_LOST";
    case kResetRequired: return "NVML_ERROR_RESET_REQUIRED";
    case kOperatingSystem: return "NVML_ERROR_OPERATING_SYSTEM";
    case kLibRmVersionMismatch: return "NVML_ERROR_LIB_RM_VERSION_MISMATCH";
    case kInUse: return "NVML_ERROR_IN_USE";
    case kMemory: return "NVML_ERROR_MEMORY";
    case kNoData: return "NVML_ERROR_NO_DATA";
    case kVgpuEccNotSupported: return "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED";
    case kInsufficientResources: return "NVML_ERROR_INSUFFICIENT_RESOURCES";
    case kFreqNotSupported: return "NVML_ERROR_FREQ_NOT_SUPPORTED";
    case kArgumentVersionMismatch: return "NVML_ERROR_ARGUMENT_VERSION_MISMATCH";
    case kDeprecated: return "NVML_ERROR_DEPRECATED";
    case kNotReady: return "NVML_ERROR_NOT_READY";
    case kGpuNotFound: return "NVML_ERROR_GPU_NOT_FOUND";
    case kInvalidState: return "NVML_ERROR_INVALID_STATE";
    case kResetTypeNotSupported: return "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED";
    case kUnknown: return "NVML_ERROR_UNKNOWN";
    default: return "NVML_ERROR_UNRECOGNIZED";
  }
}

}  // namespace perfprobe::nvml
