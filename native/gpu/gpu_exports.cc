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
#include <vector>

#include "gpu_details.h"
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
    o.Set("graphicsProcessApi", api.graphicsProcessApi);
    o.Set("temperatureApi", api.getTemperatureV ? "nvmlDeviceGetTemperatureV"
                            : api.getTemperature ? "nvmlDeviceGetTemperature" : "");
    o.Set("clocksReasonsSymbol", api.clocksReasonsName);
    o.Set("eventWaitApi", api.eventWaitApi);
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

const char* ProcessTypeName(uint32_t types) {
  switch (types) {
    case kProcessCompute: return "compute";
    case kProcessGraphics: return "graphics";
    default: return "compute+graphics";
  }
}

Napi::Value ErrorOrNull(Napi::Env env, int code) {
  return code == nvml::kSuccess ? env.Null() : Napi::String::New(env, nvml::ErrorName(code));
}

Napi::Value ProcessTable(Napi::Env env, const ProcessDetails& d) {
  if (d.computeStatus != nvml::kSuccess && d.graphicsStatus != nvml::kSuccess) return env.Null();
  Napi::Array arr = Napi::Array::New(env, d.processes.size());
  for (size_t i = 0; i < d.processes.size(); ++i) {
    const ProcessDetail& p = d.processes[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("pid", static_cast<double>(p.pid));
    o.Set("usedBytes", p.usedBytes);
    o.Set("type", ProcessTypeName(p.types));
    o.Set("name", OrNull(env, p.name));
    o.Set("smUtil", p.smUtil);
    o.Set("memUtil", p.memUtil);
    o.Set("encUtil", p.encUtil);
    o.Set("decUtil", p.decUtil);
    o.Set("utilTimestampUs", p.utilTimestampUs);
    o.Set("gpuInstanceId", p.gpuInstanceId);
    o.Set("computeInstanceId", p.computeInstanceId);
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

Napi::Value MigObject(Napi::Env env, const MigInfo& m) {
  if (m.status != nvml::kSuccess) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("currentMode", m.currentMode);
  o.Set("pendingMode", m.pendingMode);
  Napi::Array devs = Napi::Array::New(env, m.devices.size());
  for (size_t i = 0; i < m.devices.size(); ++i) {
    const MigDevice& d = m.devices[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("index", static_cast<double>(d.index));
    x.Set("uuid", OrNull(env, d.uuid));
    x.Set("gpuInstanceId", d.gpuInstanceId);
    x.Set("computeInstanceId", d.computeInstanceId);
    x.Set("memoryTotalBytes", d.memoryTotalBytes);
    x.Set("memoryUsedBytes", d.memoryUsedBytes);
    devs.Set(static_cast<uint32_t>(i), x);
  }
  o.Set("devices", devs);
  return o;
}

// nvmlReadDetailed(out: Float64Array) -> per device { processes, computeError,
// graphicsError, utilError, mig, migError }. Fills `out` as nvmlRead does (its
// kGpuProcessMemoryBytes then counts both lists), plus the on-demand details:
// the merged process table and MIG. Costs several NVML list calls per device:
// never on a sampling path.
Napi::Value ReadDetailed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(info);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "out must be a Float64Array");
  Napi::Float64Array out = info[0].As<Napi::Float64Array>();
  int n = std::min(DeviceCount(), static_cast<int>(out.ElementLength() / kGpuSlots));
  Scratch& s = ThreadScratch();
  ProcessDetails details;
  MigInfo mig;
  Napi::Array result = Napi::Array::New(env, n);
  for (int i = 0; i < n; ++i) {
    ReadDeviceDetails(i, out.Data() + static_cast<size_t>(i) * kGpuSlots, s, details);
    ReadMig(i, mig);
    Napi::Object o = Napi::Object::New(env);
    o.Set("processes", ProcessTable(env, details));
    o.Set("computeError", ErrorOrNull(env, details.computeStatus));
    o.Set("graphicsError", ErrorOrNull(env, details.graphicsStatus));
    o.Set("utilError", ErrorOrNull(env, details.utilStatus));
    o.Set("mig", MigObject(env, mig));
    o.Set("migError", ErrorOrNull(env, mig.status));
    result.Set(static_cast<uint32_t>(i), o);
  }
  return result;
}

// nvmlPcieThroughput() -> Promise<[{ index, txKBps, rxKBps }]> (NaN when
// unsupported). NVML waits out a ~20 ms window per counter, so the reads run
// on the libuv thread pool, never on the event loop; the worker holds its own
// NVML reference while it runs.
class PcieThroughputWorker : public Napi::AsyncWorker {
 public:
  PcieThroughputWorker(Napi::Env env, const std::string& path)
      : Napi::AsyncWorker(env, "perfprobe:nvmlPcieThroughput"), deferred_(Napi::Promise::Deferred::New(env)) {
    held_ = nvml::Acquire(path.c_str()).ok;
  }
  ~PcieThroughputWorker() override {
    if (held_) nvml::Release();
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    if (!held_) return SetError("NVML could not be opened for the PCIe throughput read");
    int n = DeviceCount();
    values_.resize(static_cast<size_t>(n) * 2);
    for (int i = 0; i < n; ++i) ReadPcieThroughput(i, &values_[i * 2], &values_[i * 2 + 1]);
  }
  void OnOK() override {
    Napi::Env env = Env();
    size_t n = values_.size() / 2;
    Napi::Array arr = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("index", static_cast<double>(i));
      o.Set("txKBps", values_[i * 2]);
      o.Set("rxKBps", values_[i * 2 + 1]);
      arr.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(arr);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  bool held_ = false;
  std::vector<double> values_;
};

Napi::Value PcieThroughput(const Napi::CallbackInfo& info) {
  RequireOpen(info);
  auto* worker = new PcieThroughputWorker(info.Env(), nvml::Current().path);
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
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
  fn("nvmlReadDetailed", ReadDetailed);
  fn("nvmlPcieThroughput", PcieThroughput);
  RegisterEventExports(env, exports);
}

}  // namespace perfprobe::gpu
