// See proc_tree.h. macOS: the tree from proc_listchildpids (the kernel's
// own child lists; an orphan is re-parented to launchd, so no stale links),
// and each member's resident size from proc_pidinfo(PROC_PIDTASKINFO).
// Compiled only on macOS (binding.gyp). Compile-checked by CI with zig for
// aarch64-macos and x86_64-macos; not yet run on a Mac.
#include <libproc.h>
#include <sys/proc_info.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "proc_tree.h"

namespace perfprobe {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Resident bytes of `pid`, or NaN when it cannot be read (exited, or not
// ours: proc_pidinfo answers EPERM for other users' processes).
double ResidentBytes(int32_t pid) {
  struct proc_taskinfo info;
  int n = proc_pidinfo(pid, PROC_PIDTASKINFO, 0, &info, sizeof info);
  if (n != static_cast<int>(sizeof info)) return kNaN;
  return static_cast<double>(info.pti_resident_size);
}

bool Exists(int32_t pid) {
  struct proc_bsdshortinfo info;
  if (proc_pidinfo(pid, PROC_PIDT_SHORTBSDINFO, 0, &info, sizeof info) == static_cast<int>(sizeof info)) return true;
  return errno == EPERM;  // exists, but belongs to someone else
}
}  // namespace

double ProcTree::Scan(int32_t rootPid, std::vector<int32_t>* pids) {
  pids->clear();
  if (rootPid <= 0 || !Exists(rootPid)) return kNaN;
  if (rootPid != root_) {
    Reset();
    root_ = rootPid;
  }

  // scanned_ is the frontier of pids still to visit.
  scanned_.clear();
  scanned_.push_back(rootPid);
  pids->push_back(rootPid);
  while (!scanned_.empty()) {
    int32_t parent = scanned_.back();
    scanned_.pop_back();
    // buf_ holds the pid_t array: grown until the kernel's answer fits with
    // room to spare (a full buffer may have been truncated).
    if (buf_.size() < 64 * sizeof(pid_t)) buf_.resize(64 * sizeof(pid_t));
    int count;
    for (;;) {
      count = proc_listchildpids(parent, buf_.data(), static_cast<int>(buf_.size()));
      if (count < 0) count = 0;
      if (static_cast<size_t>(count) * sizeof(pid_t) < buf_.size()) break;
      buf_.resize(buf_.size() * 2);
    }
    for (int i = 0; i < count; ++i) {
      pid_t child;
      std::memcpy(&child, buf_.data() + i * sizeof(pid_t), sizeof child);
      if (child <= 0 || child == parent) continue;
      if (std::find(pids->begin(), pids->end(), child) != pids->end()) continue;
      pids->push_back(child);
      scanned_.push_back(child);
    }
  }
  std::sort(pids->begin(), pids->end());

  double total = 0;
  bool any = false;
  for (int32_t pid : *pids) {
    double rss = ResidentBytes(pid);
    if (rss == rss) {  // not NaN: the process may have exited meanwhile
      total += rss;
      any = true;
    }
  }
  return any ? total : kNaN;
}

}  // namespace perfprobe
