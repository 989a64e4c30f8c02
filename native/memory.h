// The memory probe: system and process memory in bytes, filled into the
// kMemorySlots doubles of record.h. One implementation per OS
// (memory_linux.cc, memory_darwin.cc, memory_win.cc), chosen by binding.gyp
// and CMakeLists.txt. Free of Node-API so the native tests link it.
#pragma once

#include <cstdint>

#include "record.h"

namespace perfprobe {

// Owns whatever the OS needs kept open between readings (on Linux the
// /proc/meminfo and /proc/self/statm descriptors, read with pread so a
// reading never allocates). NOT thread-safe: each environment and each
// sampler keeps its own reader, so no two threads ever share one.
//
// Linux freshness policy (what makes a reading cost one system call): the
// process RSS (/proc/self/statm, one pread) is read on every call; the
// machine-wide figures (/proc/meminfo, which the kernel takes ~2 us to
// generate) and the getrusage peak are re-read when the previous read is
// older than kSystemRefreshNs (10 ms), so they are at most 10 ms old. The
// peak reported is max(getrusage peak, RSS now), never below the current RSS.
class MemoryReader {
 public:
  MemoryReader();
  ~MemoryReader();
  MemoryReader(const MemoryReader&) = delete;
  MemoryReader& operator=(const MemoryReader&) = delete;

  static constexpr int64_t kSystemRefreshNs = 10000000;

  // Writes kMemorySlots doubles to `out` (bytes). A field the platform cannot
  // give is NaN. Never throws, never allocates.
  void Read(double* out);

  // How many times Read() refreshed the machine-wide figures (Linux: one
  // pread of /proc/meminfo + one getrusage each). For tests and benchmarks
  // that count system calls.
  uint64_t SystemReads() const { return systemReads_; }

 private:
  void ReadSystem();  // Linux: /proc/meminfo + getrusage into system_

  int meminfoFd_ = -1;   // Linux only
  int statmFd_ = -1;     // Linux only
  double pageBytes_ = 0;  // Linux only
  int64_t systemReadNs_ = 0;
  bool systemValid_ = false;
  uint64_t systemReads_ = 0;
  double system_[kMemorySlots] = {};  // Linux: cached machine-wide slots and peak
};

// The largest peak RSS of any child process this process has waited for
// (and of their descendants that they waited for): getrusage(RUSAGE_CHILDREN)
// ru_maxrss, in bytes. The kernel's own high-water mark, so a spike between
// two samples is in it; it is per process, not a sum over a tree. NaN where
// the platform has no such figure (Windows).
double ChildrenPeakRssBytes();

}  // namespace perfprobe
