// The GPU event thread (see gpu_events.h).
#include "gpu_events.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "nvml_loader.h"

namespace perfprobe::gpu {

using namespace perfprobe::nvml;

namespace {

// Every watcher that has started, for the atexit handler. Heap-allocated and
// never freed, so no static destructor can run before the handler.
std::mutex* g_registryMutex = new std::mutex;
std::vector<EventWatcher*>* g_registry = new std::vector<EventWatcher*>;
std::once_flag g_atexitOnce;

void StopAllAtExit() {
  std::lock_guard<std::mutex> lock(*g_registryMutex);
  for (EventWatcher* w : *g_registry) w->Stop();
}

void Enlist(EventWatcher* w) {
  std::call_once(g_atexitOnce, [] { std::atexit(StopAllAtExit); });
  std::lock_guard<std::mutex> lock(*g_registryMutex);
  if (std::find(g_registry->begin(), g_registry->end(), w) == g_registry->end()) g_registry->push_back(w);
}

void Delist(EventWatcher* w) {
  std::lock_guard<std::mutex> lock(*g_registryMutex);
  g_registry->erase(std::remove(g_registry->begin(), g_registry->end(), w), g_registry->end());
}

double WallMs() {
  auto t = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(t).count()) / 1000.0;
}

int Bits(unsigned long long v) {
  int n = 0;
  for (; v; v &= v - 1) ++n;
  return n;
}

}  // namespace

const char* GpuEventTypeName(GpuEventType t) {
  switch (t) {
    case GpuEventType::kXid: return "xid";
    case GpuEventType::kEccSingleBit: return "ecc_single_bit";
    case GpuEventType::kEccDoubleBit: return "ecc_double_bit";
    case GpuEventType::kClocks: return "clocks_event";
  }
  return "unknown";
}

EventWatcher::EventWatcher() = default;

EventWatcher::~EventWatcher() {
  Delist(this);
  Stop();
}

void EventWatcher::FreeSet() {
  if (set_ && GetApi().eventSetFree) GetApi().eventSetFree(set_);
  set_ = nullptr;
}

// Registers every target on set_; fills registered_ / unregistered_.
// Returns false when the set had to be dropped (NVML_ERROR_UNKNOWN leaves it
// undefined) and no new one could be made.
bool EventWatcher::RegisterAll() {
  const Api& api = GetApi();
  for (const Target& t : targets_) {
    unsigned long long supported = 0;
    const bool known = api.getSupportedEventTypes && api.getSupportedEventTypes(t.handle, &supported) == kSuccess;
    // Clock events only where the device says it has them (they are Kepler-era).
    const unsigned long long want = known ? (kWantedEvents & supported) : (kWantedEvents & ~kEventClock);
    EventRegistration reg{t.gpuId, t.uuid, 0, kNotSupported};
    if (want != 0) {
      Return r = api.registerEvents(t.handle, want, set_);
      if (r == kSuccess) {
        reg.eventTypes = want;
      } else if (r == kNotSupported && Bits(want) > 1) {
        // NOT_SUPPORTED registers none of the types: try them one by one.
        for (unsigned long long bit = 1; bit <= want; bit <<= 1) {
          if (!(want & bit)) continue;
          Return one = api.registerEvents(t.handle, bit, set_);
          if (one == kSuccess) reg.eventTypes |= bit;
          else r = one;
        }
      } else if (r == kUnknown) {
        // The set is now undefined: free it, make a new one, register the
        // devices done so far again; this device counts as unregistered.
        FreeSet();
        setCreateCode_ = api.eventSetCreate(&set_);
        if (setCreateCode_ != kSuccess) {
          set_ = nullptr;
          for (EventRegistration& done : registered_) {
            done.code = setCreateCode_;
            done.eventTypes = 0;
            unregistered_.push_back(done);
          }
          registered_.clear();
          reg.code = r;
          unregistered_.push_back(reg);
          return false;
        }
        for (auto it = registered_.begin(); it != registered_.end();) {
          const Target& prev = *std::find_if(targets_.begin(), targets_.end(),
                                             [&](const Target& x) { return x.gpuId == it->gpuId; });
          Return again = api.registerEvents(prev.handle, it->eventTypes, set_);
          if (again == kSuccess) {
            ++it;
          } else {
            it->code = again;
            it->eventTypes = 0;
            unregistered_.push_back(*it);
            it = registered_.erase(it);
          }
        }
      }
      reg.code = reg.eventTypes ? kSuccess : r;
    }
    (reg.eventTypes ? registered_ : unregistered_).push_back(reg);
  }
  return true;
}

bool EventWatcher::Start(Sink sink, const char* library) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_.load()) return false;
  registered_.clear();
  unregistered_.clear();
  targets_.clear();
  openError_.clear();
  delivered_ = dropped_ = waitErrors_ = 0;
  setCreateCode_ = kSuccess;
  OpenInfo info = Acquire(library);
  if (!info.ok) {
    openError_ = info.error;
    return false;
  }
  holdsNvml_ = true;
  const Api& api = GetApi();
  waitApi_ = api.eventWaitApi;
  auto& devices = Devices();
  for (size_t i = 0; i < devices.size(); ++i) {
    const DeviceInfo& d = *devices[i];
    if (d.handle && !d.lost.load()) {
      targets_.push_back({d.handle, static_cast<int>(i), d.uuid});
    } else {
      unregistered_.push_back({static_cast<int>(i), d.uuid, 0, d.handle ? kGpuIsLost : d.handleError});
    }
  }
  auto giveUp = [&](Return code) {
    for (const Target& t : targets_) unregistered_.push_back({t.gpuId, t.uuid, 0, code});
    targets_.clear();
    std::sort(unregistered_.begin(), unregistered_.end(), [](auto& a, auto& b) { return a.gpuId < b.gpuId; });
    Release();
    holdsNvml_ = false;
    return false;
  };
  if (!api.eventSetCreate || !api.eventSetFree || !api.registerEvents || !api.eventSetWait)
    return giveUp(kFunctionNotFound);
  setCreateCode_ = api.eventSetCreate(&set_);
  if (setCreateCode_ != kSuccess) {
    set_ = nullptr;
    return giveUp(setCreateCode_);
  }
  bool kept = RegisterAll();
  std::sort(unregistered_.begin(), unregistered_.end(), [](auto& a, auto& b) { return a.gpuId < b.gpuId; });
  if (!kept || registered_.empty()) {
    FreeSet();
    targets_.clear();
    Release();
    holdsNvml_ = false;
    return false;
  }
  sink_ = std::move(sink);
  stop_.store(false);
  Enlist(this);
  try {
    thread_ = std::thread(&EventWatcher::Run, this);
  } catch (...) {
    FreeSet();
    Release();
    holdsNvml_ = false;
    sink_ = nullptr;
    throw;
  }
  running_.store(true, std::memory_order_release);
  return true;
}

void EventWatcher::Stop() {
  if (thread_.get_id() == std::this_thread::get_id()) {
    // From the sink: only ask; the thread ends after it, and the next Stop
    // from another thread (or the destructor) joins and frees.
    stop_.store(true, std::memory_order_release);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> b(backoffMutex_);
      stop_.store(true, std::memory_order_release);
    }
    backoff_.notify_all();
    thread_.join();
  }
  FreeSet();
  if (holdsNvml_) {
    Release();
    holdsNvml_ = false;
  }
  sink_ = nullptr;
  running_.store(false, std::memory_order_release);
}

void EventWatcher::Run() {
  const Api& api = GetApi();  // stable while this watcher holds its reference
  EventData d;
  while (!stop_.load(std::memory_order_acquire)) {
    std::memset(&d, 0, sizeof d);
    d.gpuInstanceId = d.computeInstanceId = kInstanceIdNone;  // the unversioned wait leaves them
    Return r = api.eventSetWait(set_, &d, kWaitSliceMs);
    if (r == kSuccess) {
      Deliver(d);
      continue;
    }
    if (r == kTimeout) continue;
    // An error that returns at once (a lost GPU, UNKNOWN): back off one
    // slice so a broken set cannot spin a core, and stay stoppable.
    waitErrors_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock<std::mutex> b(backoffMutex_);
    backoff_.wait_for(b, std::chrono::milliseconds(kWaitSliceMs),
                      [this] { return stop_.load(std::memory_order_acquire); });
  }
}

void EventWatcher::Deliver(const EventData& d) {
  const Api& api = GetApi();
  const Target* target = nullptr;
  for (const Target& t : targets_)
    if (t.handle == d.device) target = &t;
  static constexpr struct {
    unsigned long long bit;
    GpuEventType type;
  } kKinds[] = {{kEventXidCritical, GpuEventType::kXid},
                {kEventDoubleBitEcc, GpuEventType::kEccDoubleBit},
                {kEventSingleBitEcc, GpuEventType::kEccSingleBit},
                {kEventClock, GpuEventType::kClocks}};
  const double now = WallMs();
  for (const auto& kind : kKinds) {
    if (!(d.eventType & kind.bit)) continue;
    GpuEvent e;
    e.timestampMs = now;
    e.gpuId = target ? target->gpuId : -1;
    if (target) e.uuid = target->uuid;
    e.type = kind.type;
    e.eventType = kind.bit;
    e.eventData = d.eventData;
    e.reasons = NAN;
    if (kind.type == GpuEventType::kClocks && api.getClocksEventReasons && d.device) {
      unsigned long long reasons = 0;
      if (api.getClocksEventReasons(d.device, &reasons) == kSuccess) e.reasons = static_cast<double>(reasons);
    }
    e.gpuInstanceId = d.gpuInstanceId == kInstanceIdNone ? NAN : d.gpuInstanceId;
    e.computeInstanceId = d.computeInstanceId == kInstanceIdNone ? NAN : d.computeInstanceId;
    if (sink_ && sink_(std::move(e))) {
      delivered_.fetch_add(1, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace perfprobe::gpu
