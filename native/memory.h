// The memory probe: system and process memory in bytes, filled into the
// kMemorySlots doubles of record.h. One implementation per OS
// (memory_linux.cc, memory_darwin.cc, memory_win.cc), chosen by binding.gyp
// and CMakeLists.txt. Free of Node-API so the native tests link it.
#pragma once

namespace perfprobe {

// Owns whatever the OS needs kept open between readings (on Linux the
// /proc/meminfo and /proc/self/statm descriptors, read with pread so a
// reading never allocates). One reader per thread that reads: Read() is
// const and reentrant on Linux, but each environment and each sampler keeps
// its own so no two threads ever share one.
class MemoryReader {
 public:
  MemoryReader();
  ~MemoryReader();
  MemoryReader(const MemoryReader&) = delete;
  MemoryReader& operator=(const MemoryReader&) = delete;

  // Writes kMemorySlots doubles to `out` (bytes). A field the platform cannot
  // give is NaN. Never throws, never allocates.
  void Read(double* out) const;

 private:
  int meminfoFd_ = -1;   // Linux only
  int statmFd_ = -1;     // Linux only
  double pageBytes_ = 0;  // Linux only
};

}  // namespace perfprobe
