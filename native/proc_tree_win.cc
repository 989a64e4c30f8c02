// See proc_tree.h. Windows: one Toolhelp snapshot of every process gives the
// parent links; each member of the tree is opened for its working set
// (GetProcessMemoryInfo: the RSS that Task Manager and Node's
// process.memoryUsage().rss report). Compiled only on Windows (binding.gyp).
//
// Windows keeps a child's parent pid after the parent exits, and pids are
// reused: a process that now holds a dead parent's pid would inherit that
// parent's orphans. A child therefore counts only when it was created after
// its parent (GetProcessTimes), as Process Explorer does.
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#include <psapi.h>
#include <tlhelp32.h>

#include <algorithm>
#include <limits>

#include "proc_tree.h"

namespace perfprobe {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Creation time (100 ns ticks since 1601) of `pid`, or 0 when it cannot be
// opened (exited, or another user's process).
uint64_t CreationTime(DWORD pid) {
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!h) return 0;
  FILETIME created, exited, kernel, user;
  uint64_t t = 0;
  if (GetProcessTimes(h, &created, &exited, &kernel, &user)) {
    t = (static_cast<uint64_t>(created.dwHighDateTime) << 32) | created.dwLowDateTime;
  }
  CloseHandle(h);
  return t;
}

// Working set of `pid` in bytes, or NaN when it cannot be read; `peak`
// gets the process's peak working set (the kernel's high-water mark, the
// counterpart of Linux's VmHWM), or NaN.
double WorkingSetBytes(DWORD pid, double* peak) {
  *peak = kNaN;
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, FALSE, pid);
  if (!h) h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!h) return kNaN;
  PROCESS_MEMORY_COUNTERS pmc;
  double rss = kNaN;
  if (GetProcessMemoryInfo(h, &pmc, sizeof pmc)) {
    rss = static_cast<double>(pmc.WorkingSetSize);
    *peak = static_cast<double>(pmc.PeakWorkingSetSize);
  }
  CloseHandle(h);
  return rss;
}
}  // namespace

double ProcTree::Scan(int32_t rootPid, std::vector<int32_t>* pids) {
  pids->clear();
  if (rootPid <= 0) return kNaN;
  if (rootPid != root_) {
    Reset();
    root_ = rootPid;
  }
  HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snapshot == INVALID_HANDLE_VALUE) return kNaN;
  entries_.clear();
  bool rootSeen = false;
  PROCESSENTRY32W entry;
  entry.dwSize = sizeof entry;
  for (BOOL ok = Process32FirstW(snapshot, &entry); ok; ok = Process32NextW(snapshot, &entry)) {
    int32_t pid = static_cast<int32_t>(entry.th32ProcessID);
    entries_.push_back({pid, static_cast<int32_t>(entry.th32ParentProcessID)});
    if (pid == rootPid) rootSeen = true;
  }
  CloseHandle(snapshot);
  if (!rootSeen) return kNaN;

  // Down from the root over the parent links just read (scanned_ is the
  // frontier of pids still to visit).
  scanned_.clear();
  scanned_.push_back(rootPid);
  pids->push_back(rootPid);
  while (!scanned_.empty()) {
    int32_t parent = scanned_.back();
    scanned_.pop_back();
    uint64_t parentCreated = CreationTime(static_cast<DWORD>(parent));
    for (const Entry& e : entries_) {
      if (e.ppid != parent || e.pid == parent || e.pid == 0) continue;
      uint64_t created = CreationTime(static_cast<DWORD>(e.pid));
      if (parentCreated != 0 && created != 0 && created < parentCreated) continue;  // orphan of an earlier holder of the pid
      if (std::find(pids->begin(), pids->end(), e.pid) != pids->end()) continue;    // never loop
      pids->push_back(e.pid);
      scanned_.push_back(e.pid);
    }
  }
  std::sort(pids->begin(), pids->end());

  double total = 0;
  bool any = false;
  for (int32_t pid : *pids) {
    double peak;
    double rss = WorkingSetBytes(static_cast<DWORD>(pid), &peak);
    if (rss == rss) {  // not NaN: the process may have exited meanwhile
      total += rss;
      any = true;
    }
    if (peak == peak && !(peak <= peakHwmBytes_)) peakHwmBytes_ = peak;  // NaN peak: first reading
  }
  return any ? total : kNaN;
}

}  // namespace perfprobe
