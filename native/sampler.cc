// See sampler.h. Contains no Node-API: the addon wraps it in addon.cc and the
// native tests drive it directly.
#include "sampler.h"

#if defined(__linux__)
#include <pthread.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>

#include "gpu/gpu_api.h"
#include "record.h"

namespace perfprobe {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

Sampler::~Sampler() { Stop(); }

int Sampler::RecordSlots() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return recordSlots_;
}

bool Sampler::Start(const SamplerOptions& options) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (running_) return false;
  lock.unlock();
  // A previous run's thread has been joined by Stop(); nothing else touches
  // the thread-only state now.

  int gpuCount = 0;
  bool acquired = false;
  if (options.gpu) {
    int n = gpu::AcquireForSampler(options.nvmlLibrary.c_str());
    // -1: NVML could not be opened and no reference was taken, so Stop()
    // must not give one back (that would shut NVML down under its holders).
    acquired = n >= 0;
    gpuCount = n > 0 ? std::min(n, kMaxGpus) : 0;
  }
  int slots = kRecordGpuOffset + gpuCount * gpu::kGpuSlots;
  if (static_cast<double>(options.capacityRecords) * slots * sizeof(double) > options.maxRingBytes) {
    if (acquired) gpu::ReleaseForSampler();
    throw std::length_error("capacityRecords x record size exceeds maxRingBytes");
  }

  try {
    // The ring allocates its chunks as records arrive: nothing to fault in here.
    RecordRing ring;
    ring.Reset(options.capacityRecords, static_cast<size_t>(slots));
    std::vector<double> scratch(static_cast<size_t>(slots), kNaN);
    treePids_.reserve(64);
    // The tree's shape at most every 10 ms and VmHWM every 50 ms: at 1 kHz
    // most ticks only pread each process's statm (proc_tree.h).
    procTree_.Reset();
    procTree_.SetShapeRefreshNs(ProcTree::kSamplerShapeRefreshNs);
    procTree_.SetHwmRefreshNs(ProcTree::kSamplerHwmRefreshNs);

    lock.lock();
    std::swap(ring_, ring);
    scratch_.swap(scratch);
    written_ = 0;
    dropped_ = 0;
    recordSlots_ = slots;
    gpuCount_ = gpuCount;
    options_ = options;
    gpuAcquired_ = acquired;
    treeHwmBytes_ = kNaN;
    stopRequested_ = false;
    running_ = true;
    thread_ = std::thread(&Sampler::Run, this);
  } catch (...) {
    if (!lock.owns_lock()) lock.lock();
    running_ = false;
    gpuAcquired_ = false;
    lock.unlock();
    if (acquired) gpu::ReleaseForSampler();
    throw;
  }
  return true;
}

void Sampler::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) return;
    stopRequested_ = true;
    thread.swap(thread_);
  }
  wake_.NotifyAll();
  if (thread.joinable()) thread.join();
  bool release;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = false;
    release = gpuAcquired_;
    gpuAcquired_ = false;
  }
  if (release) gpu::ReleaseForSampler();
}

void Sampler::TakeSample(double* record, MemoryReader& memory) {
  // Called only on the sampler thread.
  auto mono = std::chrono::steady_clock::now().time_since_epoch();
  auto wall = std::chrono::system_clock::now().time_since_epoch();
  record[kMonotonicNs] = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(mono).count());
  record[kWallClockMs] =
      static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(wall).count()) / 1000.0;
  record[kGpuCountSlot] = gpuCount_;

  memory.Read(record + kRecordMemoryOffset);

  if (options_.watchPid > 0) {
    record[kTreeRssBytes] = procTree_.Scan(options_.watchPid, &treePids_);
  } else {
    record[kTreeRssBytes] = kNaN;
    treePids_.clear();
  }

  if (gpuCount_ > 0) {
    double* gpuOut = record + kRecordGpuOffset;
    int written = gpu::SampleAll(gpuOut, gpuCount_, treePids_);
    if (written < 0) written = 0;
    for (int i = written * gpu::kGpuSlots; i < gpuCount_ * gpu::kGpuSlots; ++i) gpuOut[i] = kNaN;
  }
}

template <typename Lock>
void Sampler::StoreSample(Lock& lock) {
  RecordRing::Push pushed = ring_.Add(scratch_.data(), nullptr);
  if (pushed == RecordRing::Push::kNeedsChunk) {
    // Allocate outside the lock (a drain may run meanwhile); an allocation
    // failure loses this record, counted as dropped, and never throws here.
    size_t doubles = ring_.ChunkDoubles();  // fixed while the thread runs
    lock.unlock();
    std::unique_ptr<double[]> chunk(new (std::nothrow) double[doubles]);
    lock.lock();
    pushed = ring_.Add(scratch_.data(), &chunk);
  }
  written_ += 1;
  if (pushed != RecordRing::Push::kStored) dropped_ += 1;
  if (options_.watchPid > 0) treeHwmBytes_ = procTree_.PeakHwmBytes();
}

void Sampler::Run() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(options_.intervalMs));
  auto deadline = Clock::now();
#if defined(__linux__)
  pthread_setname_np(pthread_self(), "perfprobe-smplr");  // as top -H and /proc/<pid>/task/<tid>/comm show it
#endif
  MemoryReader memory;  // opens its /proc files; closes them when the thread ends
  struct CloseTreeFiles {  // the watched tree's kept files too (its peak stays readable)
    ProcTree& tree;
    ~CloseTreeFiles() { tree.CloseFiles(); }
  } closeTreeFiles{procTree_};

  for (;;) {
    TakeSample(scratch_.data(), memory);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      StoreSample(lock);

      // Absolute deadlines: no drift from the time a sample takes. When a
      // sample overran whole intervals, skip them rather than burst.
      deadline += interval;
      auto now = Clock::now();
      if (deadline <= now) {
        auto behind = (now - deadline) / interval + 1;
        deadline += behind * interval;
      }
      if (wake_.WaitUntil(lock, deadline, [this] { return stopRequested_; })) return;
    }
  }
}

uint32_t Sampler::Drain(double* out, uint32_t maxRecords) {
  std::lock_guard<std::mutex> lock(mutex_);
  return ring_.Drain(out, maxRecords);
}

SamplerStats Sampler::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SamplerStats s;
  s.running = running_;
  s.written = written_;
  s.dropped = dropped_;
  s.gpuCount = gpuCount_;
  s.recordSlots = recordSlots_;
  s.ringBytes = static_cast<double>(ring_.AllocatedBytes());
  s.ringMaxBytes = static_cast<double>(ring_.MaxBytes());
  s.treeHwmBytes = treeHwmBytes_;
  return s;
}

}  // namespace perfprobe
