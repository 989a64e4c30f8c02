// The background sampler: a thread that wakes every interval on absolute
// steady-clock deadlines and writes one fixed-size record (record.h: header,
// memory slots, GPU blocks) into a bounded ring. JavaScript drains the ring
// in batches; no call into JavaScript ever happens on the sampler thread.
// Free of Node-API so the native tests link it.
#pragma once

#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "memory.h"
#include "monotonic_wait.h"
#include "proc_tree.h"

namespace perfprobe {

struct SamplerOptions {
  double intervalMs = 1000;      // 1 ms .. 24 h (checked by the caller)
  uint32_t capacityRecords = 1;  // ring capacity, >= 1
  bool gpu = false;              // sample GPUs through gpu::SampleAll
  int32_t watchPid = 0;          // 0 = no process tree watched
  double maxRingBytes = 1073741824;  // Start throws std::length_error beyond this
};

struct SamplerStats {
  bool running = false;
  double written = 0;  // records written since the last Start()
  double dropped = 0;  // records dropped by overflow since the last Start()
  int gpuCount = 0;
  int recordSlots = 0;
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

  mutable std::mutex mutex_;  // guards everything below but the thread-only state
  MonotonicWait wake_;  // CLOCK_MONOTONIC timed wait (see monotonic_wait.h)
  std::thread thread_;
  bool running_ = false;
  bool stopRequested_ = false;

  // Ring of capacity_ records of recordSlots_ doubles.
  std::vector<double> ring_;
  uint32_t capacity_ = 0;
  uint32_t head_ = 0;   // index of the oldest record
  uint32_t count_ = 0;  // records in the ring
  double written_ = 0;
  double dropped_ = 0;
  int recordSlots_ = 0;
  int gpuCount_ = 0;

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
