// JavaScript functions of the GPU probe. Each environment (main thread,
// worker) holds at most one NVML reference, taken by nvmlOpen and given back
// by nvmlClose or by the environment's cleanup hook; NVML itself is
// initialised once per process (nvml_loader.cc). Numbers cross as raw NVML
// units (bytes, mW, MHz, percent) with NaN for unsupported; units and nulls
// are TypeScript's policy (src/probes/gpu*.ts).
#include "gpu_exports.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gpu_reader.h"
#include "nvml_loader.h"

namespace perfprobe::gpu {
namespace {

struct EnvState {
  bool open = false;
};

void Cleanup(void* arg) {
  auto* st = static_cast<EnvState*>(arg);
  if (st->open) nvml::Release();
  delete st;
}

EnvState* State(const Napi::CallbackInfo& info) { return static_cast<EnvState*>(info.Data()); }

void RequireOpen(const Napi::CallbackInfo& info) {
  if (!State(info)->open) throw Napi::Error::New(info.Env(), "NVML is not open: call nvmlOpen() first");
}

int IndexArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  int count = DeviceCount();
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= 0 && d < count && std::floor(d) == d)) {
    throw Napi::RangeError::New(info.Env(), "index must be an integer from 0 to " + std::to_string(count - 1) +
                                                ", got " + (v.IsNumber() ? std::to_string(d) : "a non-number"));
  }
  return static_cast<int>(d);
}

Napi::Value OrNull(Napi::Env env, const std::string& s) {
  return s.empty() ? env.Null() : Napi::String::New(env, s);
}

Napi::Object InfoObject(Napi::Env env, const nvml::OpenInfo& in) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", in.ok);
  o.Set("path", in.path);
  o.Set("deviceCount", in.deviceCount);
  if (!in.ok) {
    o.Set("error", in.error);
    o.Set("errorName", nvml::ErrorName(in.code));
    o.Set("errorCode", in.code);
  } else {
    o.Set("driverVersion", OrNull(env, in.driverVersion));
    o.Set("nvmlVersion", OrNull(env, in.nvmlVersion));
    const nvml::Api& api = nvml::GetApi();
    o.Set("initSymbol", api.initName);
    o.Set("memoryApi", api.getMemoryV2 ? 2 : api.getMemoryV1 ? 1 : 0);
    o.Set("processApi", api.processApi);
    o.Set("processDrift", api.processDrift);
  }
  return o;
}

// nvmlOpen(path: string) -> { ok, path, deviceCount, error?, errorName?, driverVersion?, ... }
// `path` is the library to open, "" for the platform's default name: the
// caller (src/probes/gpu.ts) decides it, from configureGpu() or the
// environment; nothing here reads the environment.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = State(info);
  if (st->open) return InfoObject(env, nvml::Current());
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "nvmlOpen(path): path must be a string (\"\" for the default library)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  nvml::OpenInfo in = nvml::Acquire(path.c_str());
  st->open = in.ok;
  return InfoObject(env, in);
}

// nvmlClose(): gives back this environment's reference (nvmlShutdown after the last one).
Napi::Value Close(const Napi::CallbackInfo& info) {
  EnvState* st = State(info);
  if (st->open) {
    st->open = false;
    nvml::Release();
  }
  return info.Env().Undefined();
}

// nvmlDevices() -> [{ index, name, uuid, memoryTotalBytes, powerLimitMilliwatts, handleError }]
Napi::Value DevicesFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(info);
  auto& devices = nvml::Devices();
  Napi::Array arr = Napi::Array::New(env, devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    const nvml::DeviceInfo& d = *devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", static_cast<double>(i));
    o.Set("name", OrNull(env, d.name));
    o.Set("uuid", OrNull(env, d.uuid));
    o.Set("memoryTotalBytes", d.memoryTotalBytes);
    o.Set("powerLimitMilliwatts", d.powerLimitMw);
    o.Set("handleError", d.handle ? env.Null() : Napi::String::New(env, nvml::ErrorName(d.handleError)));
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

Napi::Value ProcessPairs(Napi::Env env, const Scratch& s) {
  Napi::Float64Array pairs = Napi::Float64Array::New(env, s.processes.size() * 2);
  for (size_t i = 0; i < s.processes.size(); ++i) {
    pairs[i * 2] = s.processes[i].pid;
    pairs[i * 2 + 1] = s.processes[i].usedBytes;
  }
  return pairs;
}

// nvmlRead(out: Float64Array, processes?: Array) -> devices written. Fills
// kGpuSlots doubles per device; with `processes`, processes[i] becomes a
// Float64Array of [pid, usedBytes, ...] pairs, or null when the list is unsupported.
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(info);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "out must be a Float64Array");
  Napi::Float64Array out = info[0].As<Napi::Float64Array>();
  bool withProcesses = info.Length() > 1 && info[1].IsArray();
  int n = std::min(DeviceCount(), static_cast<int>(out.ElementLength() / kGpuSlots));
  Scratch& s = ThreadScratch();
  double* data = out.Data();
  for (int i = 0; i < n; ++i) {
    double* block = data + static_cast<size_t>(i) * kGpuSlots;
    ReadDevice(i, block, s, nullptr);
    if (withProcesses) {
      bool listed = block[kGpuStatus] == kGpuOk && !std::isnan(block[kGpuProcessMemoryBytes]);
      info[1].As<Napi::Array>().Set(static_cast<uint32_t>(i), listed ? ProcessPairs(env, s) : env.Null());
    }
  }
  return Napi::Number::New(env, n);
}

// nvmlProcesses(index) -> Float64Array [pid, usedBytes, ...] or null when unsupported.
Napi::Value Processes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(info);
  int index = IndexArg(info, 0);
  Scratch& s = ThreadScratch();
  if (ReadProcesses(index, s) != nvml::kSuccess) return env.Null();
  return ProcessPairs(env, s);
}

// nvmlEnergy(index) -> mJ since the driver loaded, NaN when unsupported. Costly: on request only.
Napi::Value Energy(const Napi::CallbackInfo& info) {
  RequireOpen(info);
  return Napi::Number::New(info.Env(), ReadEnergyMillijoules(IndexArg(info, 0)));
}

// nvmlErrorName(code) -> "NVML_ERROR_..." (perfprobe's own table).
Napi::Value ErrorNameFn(const Napi::CallbackInfo& info) {
  int code = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
  return Napi::String::New(info.Env(), nvml::ErrorName(code));
}

// nvmlLastError(index) -> name of the last failing NVML code for that device ("NVML_SUCCESS" if none).
Napi::Value LastErrorFn(const Napi::CallbackInfo& info) {
  RequireOpen(info);
  return Napi::String::New(info.Env(), nvml::ErrorName(LastError(IndexArg(info, 0))));
}

}  // namespace

void RegisterExports(Napi::Env env, Napi::Object exports) {
  auto* st = new EnvState();
  napi_add_env_cleanup_hook(env, Cleanup, st);
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name, st));
  };
  fn("nvmlOpen", Open);
  fn("nvmlClose", Close);
  fn("nvmlDevices", DevicesFn);
  fn("nvmlRead", Read);
  fn("nvmlProcesses", Processes);
  fn("nvmlEnergy", Energy);
  fn("nvmlErrorName", ErrorNameFn);
  fn("nvmlLastError", LastErrorFn);
}

}  // namespace perfprobe::gpu
