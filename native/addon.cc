// Node-API entry of the perfprobe addon. Everything per environment (main
// thread, each worker) lives in the Addon instance data or in the Sampler
// objects JavaScript creates; nothing per environment is static, so the
// addon is context-aware and safe in worker_threads.
//
// Built with C++ exceptions on (see binding.gyp): node-addon-api throws
// Napi::Error as C++ exceptions and turns them into JavaScript exceptions at
// the boundary, and the core's std::bad_alloc / std::system_error (ring
// allocation, thread creation) become JavaScript errors instead of aborts.
#include <napi.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <stdexcept>
#include <system_error>

#include "gpu/gpu_api.h"
#include "gpu/gpu_exports.h"
#include "memory.h"
#include "record.h"
#include "sampler.h"

namespace perfprobe {
namespace {

constexpr double kMaxIntervalMs = 24.0 * 60 * 60 * 1000;
constexpr double kMaxCapacityRecords = 16777216;  // 2^24
constexpr double kMaxRingBytes = 1024.0 * 1024 * 1024;

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string Got(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return v.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: return Num(v.As<Napi::Number>().DoubleValue());
    case napi_string: return "a string";
    case napi_bigint: return "a bigint";
    case napi_function: return "a function";
    default: return "an object";
  }
}

// Returns the Float64Array argument `name` or throws a TypeError naming it.
Napi::Float64Array Float64Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Float64Array, got " + Got(v));
  }
  return v.As<Napi::Float64Array>();
}

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name, double min, double max,
                 bool integer) {
  Napi::Value v = info[i];
  std::string want = std::string(integer ? "an integer" : "a number") + " from " + Num(min) + " to " + Num(max);
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be " + want + ", got " + Got(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max || (integer && std::floor(d) != d)) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be " + want + ", got " + Num(d));
  }
  return d;
}

// JavaScript face of perfprobe::Sampler. One native thread per started
// object; a cleanup hook stops and joins it when the environment (process or
// worker) shuts down, and the finalizer does the same when it is collected,
// so a sampler never keeps a process or worker alive.
class SamplerWrap : public Napi::ObjectWrap<SamplerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Sampler",
                       {
                           InstanceMethod<&SamplerWrap::Start>("start"),
                           InstanceMethod<&SamplerWrap::Stop>("stop"),
                           InstanceMethod<&SamplerWrap::Drain>("drain"),
                           InstanceMethod<&SamplerWrap::GetStats>("stats"),
                       });
  }

  explicit SamplerWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<SamplerWrap>(info), core_(std::make_unique<Sampler>()) {
    hook_ = info.Env().AddCleanupHook(&SamplerWrap::OnEnvTeardown, this);
  }

  ~SamplerWrap() override {
    // If the environment is going away the hook has run (and freed itself);
    // otherwise remove it so it never sees a dangling pointer.
    if (!hookRan_ && !hook_.IsEmpty()) hook_.Remove(Env());
    core_->Stop();
    if (!hookRan_ && ringBytes_ != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -ringBytes_);
  }

 private:
  static void OnEnvTeardown(SamplerWrap* self) {
    self->hookRan_ = true;
    self->core_->Stop();
  }

  // start(intervalMs, capacityRecords, gpu, watchPid, nvmlLibrary): true
  // when started, false when it was already running (then nothing changes).
  // With gpu, nvmlLibrary names the NVML file to open ("" = the default
  // name): required, so every open says which library it means.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SamplerOptions o;
    o.intervalMs = NumberArg(info, 0, "intervalMs", 1, kMaxIntervalMs, false);
    o.capacityRecords = static_cast<uint32_t>(NumberArg(info, 1, "capacityRecords", 1, kMaxCapacityRecords, true));
    if (!info[2].IsBoolean()) throw Napi::TypeError::New(env, "gpu must be a boolean, got " + Got(info[2]));
    o.gpu = info[2].As<Napi::Boolean>().Value();
    o.watchPid = static_cast<int32_t>(NumberArg(info, 3, "watchPid", 0, 2147483647, true));
    if (o.gpu) {
      if (!info[4].IsString()) throw Napi::TypeError::New(env, "nvmlLibrary must be a string path (\"\" for the default library) when gpu is true, got " + Got(info[4]));
      o.nvmlLibrary = info[4].As<Napi::String>().Utf8Value();
    }
    o.maxRingBytes = kMaxRingBytes;
    bool started;
    try {
      started = core_->Start(o);
    } catch (const std::length_error&) {
      throw Napi::RangeError::New(env, "capacityRecords must keep the ring under 1 GiB (capacityRecords x recordSlots x 8 bytes), got " +
                                           Num(o.capacityRecords));
    } catch (const std::bad_alloc&) {
      throw Napi::RangeError::New(env, "capacityRecords: out of memory allocating the ring for " +
                                           Num(o.capacityRecords) + " records");
    } catch (const std::system_error& e) {
      throw Napi::Error::New(env, std::string("sampler thread could not start: ") + e.what());
    }
    if (started) SyncExternalMemory(env);
    return Napi::Boolean::New(env, started);
  }

  // The ring (up to 1 GiB, allocated in chunks as records arrive) lives
  // outside the JavaScript heap: V8 is told what it holds at each start,
  // drain, stats and stop, or it sees a small object and never collects an
  // abandoned sampler.
  void SyncExternalMemory(Napi::Env env) {
    int64_t bytes = static_cast<int64_t>(core_->Stats().ringBytes);
    int64_t adjusted;
    // Raw Node-API: node-addon-api's wrapper aborts the process on failure.
    if (bytes != ringBytes_ && napi_adjust_external_memory(env, bytes - ringBytes_, &adjusted) == napi_ok) {
      ringBytes_ = bytes;
    }
  }

  void Stop(const Napi::CallbackInfo& info) {
    core_->Stop();
    SyncExternalMemory(info.Env());
  }

  // drain(out): copies as many whole records as fit, oldest first.
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Napi::Float64Array out = Float64Arg(info, 0, "out");
    int slots = core_->RecordSlots();
    uint32_t n = 0;
    if (slots > 0) {
      size_t fit = out.ElementLength() / static_cast<size_t>(slots);
      if (fit > UINT32_MAX) fit = UINT32_MAX;
      n = core_->Drain(out.Data(), static_cast<uint32_t>(fit));
    }
    SyncExternalMemory(info.Env());
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value GetStats(const Napi::CallbackInfo& info) {
    SyncExternalMemory(info.Env());
    SamplerStats s = core_->Stats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("running", s.running);
    o.Set("written", s.written);
    o.Set("dropped", s.dropped);
    o.Set("gpuCount", s.gpuCount);
    o.Set("recordSlots", s.recordSlots);
    o.Set("ringBytes", s.ringBytes);
    o.Set("ringMaxBytes", s.ringMaxBytes);
    if (std::isnan(s.treeHwmBytes)) {
      o.Set("treeHwmBytes", info.Env().Null());
    } else {
      o.Set("treeHwmBytes", s.treeHwmBytes);
    }
    return o;
  }

  std::unique_ptr<Sampler> core_;
  Napi::Env::CleanupHook<void (*)(SamplerWrap*), SamplerWrap> hook_;
  bool hookRan_ = false;
  int64_t ringBytes_ = 0;  // ring bytes reported to V8 as external memory
};

// Per-environment instance data: the memory reader readMemory() uses and the
// exports. Created once per environment by NODE_API_ADDON.
class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    Napi::Object layout = Napi::Object::New(env);
    layout.Set("memorySlots", static_cast<double>(kMemorySlots));
    layout.Set("headerSlots", static_cast<double>(kHeaderSlots));
    layout.Set("gpuSlots", static_cast<double>(gpu::kGpuSlots));
    Napi::Object status = Napi::Object::New(env);
    status.Set("ok", static_cast<double>(gpu::kGpuOk));
    status.Set("lost", static_cast<double>(gpu::kGpuLost));
    status.Set("error", static_cast<double>(gpu::kGpuError));
    layout.Set("gpuStatus", status);
    DefineAddon(exports, {
                             InstanceValue("layout", layout, napi_enumerable),
                             InstanceValue("readMemory", MakeReadMemory<false>(env, "readMemory"), napi_enumerable),
                             InstanceValue("readMemoryWithTime", MakeReadMemory<true>(env, "readMemoryWithTime"),
                                           napi_enumerable),
                             InstanceValue("Sampler", SamplerWrap::Define(env), napi_enumerable),
                             InstanceMethod<&Addon::ChildrenPeakRss>("childrenPeakRssBytes", napi_enumerable),
                         });
    gpu::RegisterExports(env, exports);
  }

 private:
  // readMemory(out: Float64Array): fills kMemorySlots doubles (bytes, NaN =
  // unknown). The hot path is plain Node-API, two calls (arguments, typed
  // array info), because node-addon-api's wrappers cost more than the
  // /proc/self/statm read itself. The function's data pointer is this
  // environment's Addon, so there is no instance-data lookup either.
  //
  // readMemoryWithTime(out): the same, then out[kMemorySlots] = the wall
  // clock in whole ms since the epoch, read in C right after the /proc read:
  // cheaper than Date.now() in JavaScript after the system call (about
  // 0.2-0.3 us on the benchmark machine), and it stamps the reading itself.
  template <bool kWithTime>
  Napi::Value MakeReadMemory(Napi::Env env, const char* name) {
    napi_value fn;
    NAPI_THROW_IF_FAILED(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, &Addon::ReadMemory<kWithTime>, this, &fn),
                         Napi::Value());
    return Napi::Value(env, fn);
  }

  template <bool kWithTime>
  static napi_value ReadMemory(napi_env env, napi_callback_info cbinfo) {
    constexpr size_t kWant = static_cast<size_t>(kMemorySlots) + (kWithTime ? 1 : 0);
    size_t argc = 1;
    napi_value arg;
    void* data = nullptr;
    if (napi_get_cb_info(env, cbinfo, &argc, &arg, nullptr, &data) != napi_ok) return nullptr;
    napi_typedarray_type type;
    size_t length = 0;
    void* ptr = nullptr;
    bool isTyped = false;
    if (argc >= 1 && napi_is_typedarray(env, arg, &isTyped) == napi_ok && isTyped &&
        napi_get_typedarray_info(env, arg, &type, &length, &ptr, nullptr, nullptr) == napi_ok &&
        type == napi_float64_array && length >= kWant) {
      double* out = static_cast<double*>(ptr);
      static_cast<Addon*>(data)->memory_.Read(out);
      if (kWithTime) {
        auto wall = std::chrono::system_clock::now().time_since_epoch();
        // Whole ms, as Date.now() (same clock): a reading never looks later than a Date.now() after it.
        out[kMemorySlots] = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(wall).count());
      }
      return nullptr;
    }
    // Slow path: say what was wrong.
    try {
      Napi::Value v = argc >= 1 ? Napi::Value(env, arg) : Napi::Env(env).Undefined();
      if (!isTyped || type != napi_float64_array) {
        Napi::TypeError::New(env, "out must be a Float64Array, got " + Got(v)).ThrowAsJavaScriptException();
      } else {
        Napi::RangeError::New(env, "out must hold at least " + Num(static_cast<double>(kWant)) + " doubles, got " +
                                       Num(static_cast<double>(length)))
            .ThrowAsJavaScriptException();
      }
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
    return nullptr;
  }

  // childrenPeakRssBytes(): getrusage(RUSAGE_CHILDREN) ru_maxrss in bytes
  // (memory.h), or null where the platform has none.
  Napi::Value ChildrenPeakRss(const Napi::CallbackInfo& info) {
    double bytes = ChildrenPeakRssBytes();
    if (std::isnan(bytes)) return info.Env().Null();
    return Napi::Number::New(info.Env(), bytes);
  }

  MemoryReader memory_;
};

}  // namespace
}  // namespace perfprobe

using perfprobe::Addon;
NODE_API_ADDON(Addon)
