// A condition variable whose timed wait runs on the monotonic clock, used by
// the sampler thread to sleep until its next deadline (or until Stop()).
//
// Why not std::condition_variable::wait_until(steady_clock): libstdc++ 10+
// compiles it to pthread_cond_clockwait, a GLIBC_2.30 symbol (GLIBC_2.34
// when built on glibc >= 2.34), so a prebuilt binary would not load on
// RHEL 8 / Ubuntu 20.04-era systems (glibc 2.28 / 2.31) although Node runs
// there; and libc++ built for an older glibc converts the steady deadline to
// the wall clock, so a wall-clock step (NTP, suspend) would stretch or skip
// sampling intervals. Here, on Linux, the condition variable is created
// with a CLOCK_MONOTONIC condattr and waited on with pthread_cond_timedwait
// (both in glibc since 2.3.x): immune to wall-clock steps, and no symbol
// newer than the GLIBC_2.28 floor of the prebuilds (test/prebuild.test.ts
// reads the symbol versions). Elsewhere (macOS, Windows) the standard
// condition variable already waits on a relative, monotonic timeout.
//
// Header-only; used with a std::mutex held by a std::unique_lock.
#pragma once

#include <chrono>
#include <mutex>

#if defined(__linux__)
#include <pthread.h>
#include <time.h>

#include <cerrno>
#else
#include <condition_variable>
#endif

namespace perfprobe {

class MonotonicWait {
 public:
  using Clock = std::chrono::steady_clock;

#if defined(__linux__)
  MonotonicWait() {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cond_, &attr);
    pthread_condattr_destroy(&attr);
  }
  ~MonotonicWait() { pthread_cond_destroy(&cond_); }

  void NotifyAll() { pthread_cond_broadcast(&cond_); }

  // Blocks (lock held on entry and on return) until `stop()` is true or
  // `deadline` has passed. Returns stop(). Spurious wake-ups are absorbed.
  template <typename Predicate>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, Clock::time_point deadline, Predicate stop) {
    // The deadline in CLOCK_MONOTONIC terms, computed from the time left
    // rather than from steady_clock's epoch (which the standard leaves open).
    auto left = deadline - Clock::now();
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long leftNs = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    if (leftNs < 0) leftNs = 0;
    long long ns = static_cast<long long>(now.tv_nsec) + leftNs % 1000000000LL;
    timespec until;
    until.tv_sec = now.tv_sec + static_cast<time_t>(leftNs / 1000000000LL + ns / 1000000000LL);
    until.tv_nsec = static_cast<long>(ns % 1000000000LL);
    while (!stop()) {
      if (pthread_cond_timedwait(&cond_, lock.mutex()->native_handle(), &until) == ETIMEDOUT) return stop();
    }
    return true;
  }

  MonotonicWait(const MonotonicWait&) = delete;
  MonotonicWait& operator=(const MonotonicWait&) = delete;

 private:
  pthread_cond_t cond_;
#else
  MonotonicWait() = default;
  void NotifyAll() { cond_.notify_all(); }
  template <typename Predicate>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, Clock::time_point deadline, Predicate stop) {
    return cond_.wait_until(lock, deadline, stop);
  }

  MonotonicWait(const MonotonicWait&) = delete;
  MonotonicWait& operator=(const MonotonicWait&) = delete;

 private:
  std::condition_variable cond_;
#endif
};

}  // namespace perfprobe
