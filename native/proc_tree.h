// RSS summed over a process and all its descendants, and the tree's pid list
// (the GPU probe sums per-process GPU memory over it). Linux reads /proc;
// other platforms report NaN and an empty list. Free of Node-API.
#pragma once

#include <cstdint>
#include <vector>

namespace perfprobe {

class ProcTree {
 public:
  // Scans the process table for `rootPid` and its descendants. On return
  // `pids` holds the tree's pids sorted ascending (empty when rootPid does
  // not exist or the platform is unsupported). Returns the summed RSS in
  // bytes, or NaN when unknown. Reuses its buffers: after the first scans
  // it allocates only when the process table grows.
  double Scan(int32_t rootPid, std::vector<int32_t>* pids);

 private:
  struct Entry {
    int32_t pid;
    int32_t ppid;
  };
  std::vector<Entry> entries_;
  std::vector<int32_t> frontier_;
};

}  // namespace perfprobe
