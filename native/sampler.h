// The background sampler: a thread that wakes every interval on absolute
// steady-clock deadlines and writes one fixed-size record (record.h: header,
// memory slots, GPU blocks) into a bounded ring (ring.h: chunks allocated as
// records arrive, so start() allocates none and an idle ring holds one).
// JavaScript drains the ring in batches; no call into JavaScript ever happens
// on the sampler thread.
// Free of Node-API so the native tests link it.
#pragma once

#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "memory.h"
#include "monotonic_wait.h"
#include "proc_tree.h"
#include "ring.h"

namespace perfprobe {

struct SamplerOptions {
  double intervalMs = 1000;      // 1 ms .. 24 h (checked by the caller)
  uint32_t capacityRecords = 1;  // ring capacity, >= 1
  bool gpu = false;              // sample GPUs through gpu::SampleAll
  std::string nvmlLibrary;       // with gpu: the NVML library to open ("" = the platform's default name)
  int32_t watchPid = 0;          // 0 = no process tree watched
  double maxRingBytes = 1073741824;  // Start throws std::length_error beyond this
};

struct SamplerStats {
  bool running = false;
  double written = 0;  // records written since the last Start()
  double dropped = 0;  // records dropped by overflow since the last Start()
  int gpuCount = 0;
  int recordSlots = 0;
  double ringBytes = 0;     // ring memory allocated now (chunks in use and spare)
  double ringMaxBytes = 0;  // the most the ring can allocate (capacity, in whole chunks)
  // The largest VmHWM of any process of the watched tree since Start()
  // (ProcTree::PeakHwmBytes); NaN when none watched or none read.
  double treeHwmBytes = std::numeric_limits<double>::quiet_NaN();
};

class Sampler {
 public:
  static constexpr int kMaxGpus = 64;

  Sampler() = default;
  ~Sampler();  // stops and joins
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Starts the thread. Returns false (and does nothing) when already
  // running. Clears the ring and counters of any previous run. The first
  // record is taken at once, then one per interval. Throws std::bad_alloc or
  // std::system_error when the ring or the thread cannot be made; the
  // sampler is then left stopped.
  bool Start(const SamplerOptions& options);

  // Stops and joins the thread; records already written stay drainable.
  // A no-op when stopped. Safe to call from any thread but the sampler's.
  void Stop();

  // Copies up to `maxRecords` records, oldest first, into `out` (which holds
  // maxRecords * RecordSlots() doubles) and removes them from the ring.
  // Returns how many were copied.
  uint32_t Drain(double* out, uint32_t maxRecords);

  SamplerStats Stats() const;
  int RecordSlots() const;

 private:
  void Run();
  void TakeSample(double* record, MemoryReader& memory);
  // Stores scratch_ in the ring (under `lock`, which it releases while it
  // allocates a chunk) and counts it. Any lock type with lock()/unlock().
  template <typename Lock>
  void StoreSample(Lock& lock);

  mutable std::mutex mutex_;  // guards everything below but the thread-only state
  MonotonicWait wake_;  // CLOCK_MONOTONIC timed wait (see monotonic_wait.h)
  std::thread thread_;
  bool running_ = false;
  bool stopRequested_ = false;

  // Up to options_.capacityRecords records of recordSlots_ doubles.
  RecordRing ring_;
  double written_ = 0;
  double dropped_ = 0;
  int recordSlots_ = 0;
  int gpuCount_ = 0;
  double treeHwmBytes_ = std::numeric_limits<double>::quiet_NaN();

  // Set by Start before the thread exists, then read only by the thread.
  SamplerOptions options_;
  bool gpuAcquired_ = false;

  // Used only on the sampler thread. (Its MemoryReader lives in Run(): the
  // /proc descriptors it keeps open are held only while the thread runs, so
  // a stopped sampler, however long JavaScript keeps it, holds none.)
  ProcTree procTree_;
  std::vector<int32_t> treePids_;
  std::vector<double> scratch_;
};

}  // namespace perfprobe
