// GPU events from a native thread: one NVML event set per watcher, every
// device registered for Xid critical errors, single- and double-bit ECC
// errors and, where nvmlDeviceGetSupportedEventTypes says so, clock changes;
// the thread blocks in nvmlEventSetWait_v2 (nvmlEventSetWait on older
// drivers) and hands each event to a sink. Free of Node-API (the native tests
// link it; gpu_event_exports.cc wraps it in a Napi::ThreadSafeFunction).
//
// Waking the thread: NVML has no call that interrupts nvmlEventSetWait, and
// freeing the set under a waiting thread is undefined; a signal would need a
// process-wide handler inside Node's process. So the thread waits in slices
// of kWaitSliceMs and checks a stop flag between them: Stop() returns within
// one slice, and an idle watcher costs kWaitSliceMs^-1 wake-ups a second
// (one poll in the driver each, microseconds).
//
// Process exit: Node's process.exit() runs no environment cleanup hooks, so
// every running watcher is also stopped and joined by an atexit handler
// (registered when the first watcher starts, after the NVML library was
// loaded, so it runs before the library's own exit-time teardown): the set
// is freed and the thread gone before exit() goes on. The thread never
// touches the loader's device table after Start (it keeps its own copy of
// the handles and UUIDs).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nvml_types.h"

namespace perfprobe::gpu {

enum class GpuEventType { kXid, kEccSingleBit, kEccDoubleBit, kClocks };
const char* GpuEventTypeName(GpuEventType t);  // "xid", "ecc_single_bit", "ecc_double_bit", "clocks_event"

struct GpuEvent {
  double timestampMs = 0;  // wall clock when the wait returned, ms since the Unix epoch
  int gpuId = -1;          // index of the device (-1: a handle NVML gave that matches none)
  std::string uuid;        // empty when unknown
  GpuEventType type = GpuEventType::kXid;
  unsigned long long eventType = 0;  // the raw nvmlEventType bit
  unsigned long long eventData = 0;  // raw: the Xid for xid events (999 = unknown Xid), else 0
  double reasons = 0;      // clocks_event: nvmlClocksEventReason bitmask read at delivery; NaN otherwise/unsupported
  double gpuInstanceId = 0;      // MIG attribution of an Xid; NaN when none
  double computeInstanceId = 0;
};

struct EventRegistration {
  int gpuId = 0;
  std::string uuid;
  unsigned long long eventTypes = 0;  // registered bits (0 when none)
  int code = 0;                       // kSuccess, or the NVML code why nothing could be registered
};

class EventWatcher {
 public:
  static constexpr unsigned kWaitSliceMs = 20;
  static constexpr unsigned long long kWantedEvents =
      nvml::kEventXidCritical | nvml::kEventSingleBitEcc | nvml::kEventDoubleBitEcc | nvml::kEventClock;

  // Called on the watcher thread for every event; returns false when the
  // event could not be handed over (then it is counted as dropped). Must not block.
  using Sink = std::function<bool(GpuEvent&&)>;

  EventWatcher();
  ~EventWatcher();  // Stop()
  EventWatcher(const EventWatcher&) = delete;
  EventWatcher& operator=(const EventWatcher&) = delete;

  // Takes an NVML reference on `library` (null = the default path; NVML
  // already open is kept), creates the event set and registers every device
  // on the calling thread, then starts the thread when at least one device
  // registered. Returns false (and starts nothing) when NVML cannot be opened
  // (openError says why) or no device could register (see Unregistered()).
  // Never throws for NVML failures; std::system_error if the thread cannot start.
  bool Start(Sink sink, const char* library);

  // Wakes the thread (within kWaitSliceMs), joins it, frees the event set and
  // gives back the NVML reference. Idempotent; any thread but the watcher's.
  void Stop();

  bool Running() const { return running_.load(std::memory_order_acquire); }
  const std::vector<EventRegistration>& Registered() const { return registered_; }
  const std::vector<EventRegistration>& Unregistered() const { return unregistered_; }
  const std::string& OpenError() const { return openError_; }
  int WaitApi() const { return waitApi_; }  // 2 = nvmlEventSetWait_v2, 1 = nvmlEventSetWait, 0 = none
  int SetCreateCode() const { return setCreateCode_; }
  double Delivered() const { return static_cast<double>(delivered_.load(std::memory_order_relaxed)); }
  double Dropped() const { return static_cast<double>(dropped_.load(std::memory_order_relaxed)); }
  double WaitErrors() const { return static_cast<double>(waitErrors_.load(std::memory_order_relaxed)); }

 private:
  struct Target {
    nvml::Device handle;
    int gpuId;
    std::string uuid;
  };
  void Run();
  void Deliver(const nvml::EventData& d);
  bool RegisterAll();
  void FreeSet();

  std::mutex mutex_;  // serialises Start/Stop
  std::condition_variable backoff_;
  std::mutex backoffMutex_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_{false};
  bool holdsNvml_ = false;
  nvml::EventSet set_ = nullptr;
  Sink sink_;
  std::vector<Target> targets_;
  std::vector<EventRegistration> registered_, unregistered_;
  std::string openError_;
  int waitApi_ = 0;
  int setCreateCode_ = 0;
  std::atomic<uint64_t> delivered_{0}, dropped_{0}, waitErrors_{0};
};

}  // namespace perfprobe::gpu
