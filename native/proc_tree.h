// RSS summed over a process and all its descendants, and the tree's pid list
// (the GPU probe sums per-process GPU memory over it). One file per OS,
// chosen by binding.gyp: Linux reads /proc (proc_tree.cc), Windows a
// Toolhelp snapshot (proc_tree_win.cc), macOS proc_listchildpids
// (proc_tree_darwin.cc). Free of Node-API.
#pragma once

#include <cstdint>
#include <vector>

namespace perfprobe {

class ProcTree {
 public:
  // Finds `rootPid` and its descendants (see Strategy). On return
  // `pids` holds the tree's pids sorted ascending (empty when rootPid does
  // not exist or the platform is unsupported). Returns the summed RSS in
  // bytes, or NaN when unknown. Reuses its buffers: after the first scans
  // it allocates only when the tree or the process table grows.
  double Scan(int32_t rootPid, std::vector<int32_t>* pids);

  // How the tree is found. kChildren walks down from the root through
  // /proc/<pid>/task/<tid>/children (cost grows with the tree, not with the
  // machine's process count); kFullScan reads every /proc/<pid>/stat for
  // parent links. kChildren falls back to kFullScan for good when the kernel
  // lacks the children files (CONFIG_PROC_CHILDREN). Tests force either.
  enum class Strategy { kChildren, kFullScan };
  void SetStrategy(Strategy strategy) { strategy_ = strategy; }
  Strategy strategy() const { return strategy_; }

  // Outcome of one walk: kUnsupported when the kernel lacks children files.
  enum class Walk { kOk, kUnsupported };

 private:
  struct Entry {
    int32_t pid;
    int32_t ppid;
  };
  bool ScanAll(int32_t rootPid, std::vector<int32_t>* pids);
  Walk WalkChildren(int32_t rootPid, std::vector<int32_t>* pids);
  // Appends the children of every thread of `pid`; kUnsupported when the
  // kernel has no children files. A pid that exited meanwhile has none.
  Walk AppendChildren(int32_t pid, std::vector<int32_t>* out);

  Strategy strategy_ = Strategy::kChildren;
  std::vector<Entry> entries_;
  std::vector<int32_t> frontier_;
  std::vector<char> buf_;
};

}  // namespace perfprobe
