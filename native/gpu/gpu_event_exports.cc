// JavaScript face of the GPU event watcher (gpu_events.h):
//
//   const w = addon.nvmlWatchEvents(listener)   // after nvmlOpen(): the watcher uses the library open now
//   w.running, w.registered, w.unregistered, w.waitApi
//   w.stats() -> { running, delivered, dropped, waitErrors }
//   w.ref() / w.unref()   // unref'd by default: a watcher never keeps a process or worker alive
//   w.close()             // stops and joins the thread (returns within EventWatcher::kWaitSliceMs)
//
// listener(event) runs on this environment's event loop, once per event:
//   { timestamp (ms since the epoch), gpuId, uuid (string|null),
//     type: 'xid' | 'ecc_single_bit' | 'ecc_double_bit' | 'clocks_event',
//     eventType (the raw nvmlEventType bit), eventData (raw),
//     xid (xid events only: eventData), reasons (clocks_event only: the
//     nvmlClocksEventReason bitmask at delivery, NaN when unreadable),
//     gpuInstanceId, computeInstanceId (MIG attribution, NaN when none) }
//
// Events cross through a Napi::ThreadSafeFunction: the watcher thread never
// calls into JavaScript and the event loop never polls. Its queue holds at
// most kQueueLimit events; beyond that (a listener that cannot keep up, an
// event storm) events are dropped and counted in stats().dropped.
//
// Lifetime: a running watcher is kept alive by a strong reference until
// close(), so a dropped handle keeps delivering (like a timer); a cleanup
// hook stops and joins it when the environment (process or worker) goes
// away, and an atexit handler (gpu_events.cc) covers process.exit().
#include <napi.h>

#include <memory>
#include <string>

#include "gpu_events.h"
#include "gpu_exports.h"
#include "nvml_loader.h"

namespace perfprobe::gpu {
namespace {

constexpr size_t kQueueLimit = 4096;

struct Shared {
  std::atomic<bool> closed{false};
};

void CallJs(Napi::Env env, Napi::Function listener, Shared* shared, GpuEvent* e) {
  std::unique_ptr<GpuEvent> event(e);
  if (env == nullptr || listener.IsEmpty() || !event || shared->closed.load()) return;
  Napi::Object o = Napi::Object::New(env);
  o.Set("timestamp", event->timestampMs);
  o.Set("gpuId", event->gpuId);
  o.Set("uuid", event->uuid.empty() ? env.Null() : Napi::String::New(env, event->uuid));
  o.Set("type", GpuEventTypeName(event->type));
  o.Set("eventType", static_cast<double>(event->eventType));
  o.Set("eventData", static_cast<double>(event->eventData));
  if (event->type == GpuEventType::kXid) o.Set("xid", static_cast<double>(event->eventData));
  if (event->type == GpuEventType::kClocks) o.Set("reasons", event->reasons);
  o.Set("gpuInstanceId", event->gpuInstanceId);
  o.Set("computeInstanceId", event->computeInstanceId);
  try {
    listener.Call({o});
  } catch (const Napi::Error& err) {
    // A throwing listener is an uncaught exception ('uncaughtException', else
    // the process ends), as an EventEmitter listener's would be; left pending
    // here, Node would only print a DEP0168 warning and drop it.
    napi_fatal_exception(env, err.Value());
  }
}

using Tsfn = Napi::TypedThreadSafeFunction<Shared, GpuEvent, CallJs>;

void FinalizeShared(Napi::Env, void*, Shared* shared) { delete shared; }

Napi::Array Registrations(Napi::Env env, const std::vector<EventRegistration>& list, bool withError) {
  Napi::Array arr = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const EventRegistration& r = list[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("gpuId", r.gpuId);
    o.Set("uuid", r.uuid.empty() ? env.Null() : Napi::String::New(env, r.uuid));
    if (withError) {
      o.Set("errorName", nvml::ErrorName(r.code));
      o.Set("errorCode", r.code);
    } else {
      o.Set("eventTypes", static_cast<double>(r.eventTypes));
    }
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

class EventWatcherWrap : public Napi::ObjectWrap<EventWatcherWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NvmlEventWatcher",
                       {
                           InstanceMethod<&EventWatcherWrap::Close>("close"),
                           InstanceMethod<&EventWatcherWrap::RefLoop>("ref"),
                           InstanceMethod<&EventWatcherWrap::UnrefLoop>("unref"),
                           InstanceMethod<&EventWatcherWrap::Stats>("stats"),
                       });
  }

  explicit EventWatcherWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EventWatcherWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "listener must be a function");
    nvml::OpenInfo open = nvml::Current();
    if (!open.ok) throw Napi::Error::New(env, "NVML is not open: call nvmlOpen() first");
    shared_ = new Shared();
    tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), "perfprobe:gpuEvents", kQueueLimit, 1, shared_,
                      FinalizeShared, static_cast<void*>(nullptr));
    tsfn_.Unref(env);
    Tsfn tsfn = tsfn_;
    bool started = false;
    try {
      started = core_.Start(
          [tsfn](GpuEvent&& e) mutable {
            auto* copy = new GpuEvent(std::move(e));
            if (tsfn.NonBlockingCall(copy) == napi_ok) return true;
            delete copy;  // queue full, or the environment is closing
            return false;
          },
          open.path.c_str());
    } catch (const std::system_error& e) {
      tsfn_.Release();
      throw Napi::Error::New(env, std::string("GPU event thread could not start: ") + e.what());
    }
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("registered", Registrations(env, core_.Registered(), false));
    self.Set("unregistered", Registrations(env, core_.Unregistered(), true));
    self.Set("waitApi", core_.WaitApi() == 2 ? "nvmlEventSetWait_v2" : core_.WaitApi() == 1 ? "nvmlEventSetWait" : "");
    self.Set("running", started);
    if (!started) {
      if (!core_.OpenError().empty()) self.Set("openError", core_.OpenError());
      Finish();
      return;
    }
    hook_ = env.AddCleanupHook(&EventWatcherWrap::OnEnvTeardown, this);
    Ref();  // alive until close(), like a timer
  }

  ~EventWatcherWrap() override {
    if (!hookRan_ && !hook_.IsEmpty()) hook_.Remove(Env());
    Finish();
  }

 private:
  // Stops and joins the thread, then lets the thread-safe function go.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    shared_->closed.store(true);  // events still queued are dropped, not delivered after close()
    core_.Stop();
    tsfn_.Release();
  }

  static void OnEnvTeardown(EventWatcherWrap* self) {
    self->hookRan_ = true;
    self->Finish();
  }

  void Close(const Napi::CallbackInfo& info) {
    if (finished_) return;
    Finish();
    info.This().As<Napi::Object>().Set("running", false);
    if (!hookRan_ && !hook_.IsEmpty()) hook_.Remove(Env());
    Unref();  // collectable again
  }

  void RefLoop(const Napi::CallbackInfo& info) {
    if (!finished_) tsfn_.Ref(info.Env());
  }
  void UnrefLoop(const Napi::CallbackInfo& info) {
    if (!finished_) tsfn_.Unref(info.Env());
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("running", core_.Running());
    o.Set("delivered", core_.Delivered());
    o.Set("dropped", core_.Dropped());
    o.Set("waitErrors", core_.WaitErrors());
    return o;
  }

  EventWatcher core_;
  Tsfn tsfn_;
  Shared* shared_ = nullptr;  // owned by the thread-safe function (FinalizeShared)
  Napi::Env::CleanupHook<void (*)(EventWatcherWrap*), EventWatcherWrap> hook_;
  bool hookRan_ = false;
  bool finished_ = false;
};

struct Constructor {
  Napi::FunctionReference ctor;
};

void FreeConstructor(void* arg) { delete static_cast<Constructor*>(arg); }

// nvmlWatchEvents(listener) -> NvmlEventWatcher
Napi::Value WatchEvents(const Napi::CallbackInfo& info) {
  auto* c = static_cast<Constructor*>(info.Data());
  return c->ctor.New({info[0]});
}

}  // namespace

void RegisterEventExports(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = EventWatcherWrap::Define(env);
  auto* c = new Constructor{Napi::Persistent(cls)};
  napi_add_env_cleanup_hook(env, FreeConstructor, c);
  exports.Set("NvmlEventWatcher", cls);
  exports.Set("nvmlWatchEvents", Napi::Function::New(env, WatchEvents, "nvmlWatchEvents", c));
}

}  // namespace perfprobe::gpu
