// See sampler.h. Contains no Node-API: the addon wraps it in addon.cc and the
// native tests drive it directly.
#include "sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
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
    int n = gpu::AcquireForSampler();
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
    std::vector<double> ring(static_cast<size_t>(options.capacityRecords) * static_cast<size_t>(slots), kNaN);
    std::vector<double> scratch(static_cast<size_t>(slots), kNaN);
    treePids_.reserve(64);

    lock.lock();
    ring_.swap(ring);
    scratch_.swap(scratch);
    capacity_ = options.capacityRecords;
    head_ = 0;
    count_ = 0;
    written_ = 0;
    dropped_ = 0;
    recordSlots_ = slots;
    gpuCount_ = gpuCount;
    options_ = options;
    gpuAcquired_ = acquired;
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

void Sampler::Run() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(options_.intervalMs));
  const size_t slots = static_cast<size_t>(recordSlots_);
  auto deadline = Clock::now();
  MemoryReader memory;  // opens its /proc files; closes them when the thread ends

  for (;;) {
    TakeSample(scratch_.data(), memory);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      uint32_t tail;
      if (count_ == capacity_) {  // full: overwrite the oldest
        tail = head_;
        head_ = (head_ + 1) % capacity_;
        dropped_ += 1;
      } else {
        tail = (head_ + count_) % capacity_;
        ++count_;
      }
      std::memcpy(&ring_[tail * slots], scratch_.data(), slots * sizeof(double));
      written_ += 1;

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
  uint32_t n = std::min(maxRecords, count_);
  const size_t slots = static_cast<size_t>(recordSlots_);
  uint32_t first = std::min(n, capacity_ - head_);  // up to the ring's end
  if (first > 0) std::memcpy(out, &ring_[head_ * slots], first * slots * sizeof(double));
  if (n > first) std::memcpy(out + first * slots, &ring_[0], (n - first) * slots * sizeof(double));
  if (n > 0) {
    head_ = (head_ + n) % capacity_;
    count_ -= n;
  }
  return n;
}

SamplerStats Sampler::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SamplerStats s;
  s.running = running_;
  s.written = written_;
  s.dropped = dropped_;
  s.gpuCount = gpuCount_;
  s.recordSlots = recordSlots_;
  return s;
}

}  // namespace perfprobe
