// See proc_tree.h. Linux: the tree from /proc/<pid>/task/<tid>/children
// (or, without those files, one pass over /proc/<pid>/stat for parent
// links), then /proc/<pid>/statm for each member of the tree, every file
// kept open between scans and read with one pread (proc_read.h).
#include "proc_tree.h"

#include <algorithm>
#include <limits>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proc_parse.h"
#include "proc_read.h"
#endif

namespace perfprobe {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

#if defined(__linux__)
// Threads are re-listed when their count (fstat of task/) changes, and at
// least this often, for a thread that ended while another began.
constexpr int64_t kThreadRelistNs = 1000000000;
constexpr size_t kMaxChildrenBytes = 16u << 20;  // 2 M children of one thread
constexpr size_t kMaxTrackedFds = 1024;

int64_t MonotonicNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool OutOfDescriptors(int err) { return err == EMFILE || err == ENFILE || err == ENOMEM; }

int32_t ReadParent(int32_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char buf[1024];
  if (ReadPath(path, buf, sizeof buf) <= 0) return -1;
  return ParseParent(buf);
}

#endif
}  // namespace

#if defined(__linux__)
size_t ProcTree::FdsOf(const Member& m) const {
  size_t n = (m.statm.valid() ? 1 : 0) + (m.task.valid() ? 1 : 0) + (m.status.valid() ? 1 : 0);
  for (const Thread& t : m.threads) n += t.children.valid() ? 1 : 0;
  return n;
}

ProcTree::Member* ProcTree::Find(int32_t pid) {
  auto it = std::lower_bound(members_.begin(), members_.end(), pid,
                             [](const std::unique_ptr<Member>& m, int32_t p) { return m->pid < p; });
  return it != members_.end() && (*it)->pid == pid ? it->get() : nullptr;
}

void ProcTree::Drop(Member* m) {
  auto it = std::lower_bound(members_.begin(), members_.end(), m->pid,
                             [](const std::unique_ptr<Member>& x, int32_t p) { return x->pid < p; });
  if (it == members_.end() || it->get() != m) return;
  keptFds_ -= FdsOf(*m);
  members_.erase(it);
}

// Opens a process found in `parent`'s children file (parent 0: the root, or
// a pid the full scan found). Through a descriptor of /proc/<pid>, every file
// opened belongs to that one process; its parent is checked first, so a pid
// that exited and was reused between the children file and here is refused.
ProcTree::Member* ProcTree::Open(int32_t pid, int32_t parent) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d", pid);
  int dir = OpenAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY);
  if (dir < 0) return nullptr;  // gone (or no descriptor left: read nothing this time)
  if (parent > 0) {
    int statFd = OpenAt(dir, "stat", O_RDONLY);
    char buf[1024];
    bool complete;
    ssize_t n = statFd >= 0 ? PreadProcFile(statFd, buf, sizeof buf, &complete) : -1;
    if (statFd >= 0) ::close(statFd);
    if (n <= 0 || ParseParent(buf) != parent) {
      ::close(dir);
      return nullptr;
    }
  }
  auto m = std::make_unique<Member>();
  m->pid = pid;
  if (keptFds_ + 3 <= budgetFds_) {
    int err = 0;
    m->statm = ProcFd(OpenAt(dir, "statm", O_RDONLY));
    if (!m->statm.valid()) err = errno;
    if (err == 0) {
      m->task = ProcFd(OpenAt(dir, "task", O_RDONLY | O_DIRECTORY));
      if (!m->task.valid()) err = errno;
    }
    if (err == 0) {
      m->status = ProcFd(OpenAt(dir, "status", O_RDONLY));
      if (!m->status.valid()) err = errno;
    }
    m->kept = err == 0;
    if (!m->kept) {
      m->statm.Reset();
      m->task.Reset();
      m->status.Reset();
      if (!OutOfDescriptors(err)) {  // exited meanwhile
        ::close(dir);
        return nullptr;
      }
    }
  }
  ::close(dir);
  if (m->kept) keptFds_ += 3;
  Member* raw = m.get();
  auto it = std::lower_bound(members_.begin(), members_.end(), pid,
                             [](const std::unique_ptr<Member>& x, int32_t p) { return x->pid < p; });
  members_.insert(it, std::move(m));
  return raw;
}

// Brings m->threads up to date. One thread (task/ has 3 links: ., .. and the
// thread) needs no listing: its tid is the pid.
ProcTree::Step ProcTree::ListThreads(Member* m, int64_t nowNs) {
  uint64_t links = 0;
  if (m->kept) {
    struct stat st;
    if (::fstat(m->task.get(), &st) != 0) return Step::kGone;
    links = static_cast<uint64_t>(st.st_nlink);
    if (links < 3) return Step::kGone;  // no live thread behind this descriptor: exited
    if (!m->threads.empty() && links == m->taskLinks && nowNs - m->threadsListedNs < kThreadRelistNs) return Step::kOk;
  }
  m->taskLinks = links;
  m->threadsListedNs = nowNs;

  scanned_.clear();
  if (links == 3) {
    scanned_.push_back(m->pid);
  } else if (m->kept) {
    ListNumericNames(m->task.get(), &scanned_);
  } else {
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/task", m->pid);
    ListNumericNames(path, &scanned_);
  }
  if (scanned_.empty()) return Step::kGone;
  std::sort(scanned_.begin(), scanned_.end());

  // Keep the children files of threads still there, open those of new ones.
  std::vector<Thread> next;
  next.reserve(scanned_.size());
  size_t old = 0;
  bool unsupported = false;
  for (int32_t tid : scanned_) {
    while (old < m->threads.size() && m->threads[old].tid < tid) {
      if (m->threads[old].children.valid()) --keptFds_;
      ++old;
    }
    if (old < m->threads.size() && m->threads[old].tid == tid) {
      next.push_back(std::move(m->threads[old++]));
      continue;
    }
    Thread t;
    t.tid = tid;
    if (m->kept && keptFds_ < budgetFds_) {
      char name[48];
      std::snprintf(name, sizeof name, "%d/children", tid);
      t.children = ProcFd(OpenAt(m->task.get(), name, O_RDONLY));
      if (t.children.valid()) {
        ++keptFds_;
      } else if (errno == ENOENT) {
        // No children file while its task still exists: the kernel lacks them.
        // (A thread that ended meanwhile takes its whole directory with it.)
        char taskName[24];
        std::snprintf(taskName, sizeof taskName, "%d", tid);
        if (::faccessat(m->task.get(), taskName, F_OK, 0) == 0) {
          unsupported = true;
          break;
        }
        continue;
      }
    }
    next.push_back(std::move(t));
  }
  for (; old < m->threads.size(); ++old)
    if (m->threads[old].children.valid()) --keptFds_;
  m->threads.swap(next);  // the old list, closed as `next` goes
  return unsupported ? Step::kUnsupported : Step::kOk;
}

ProcTree::Step ProcTree::AppendChildren(Member* m, std::vector<Entry>* out) {
  for (Thread& t : m->threads) {
    ssize_t n;
    bool complete;
    if (t.children.valid()) {
      n = PreadProcFile(t.children.get(), &buf_, kMaxChildrenBytes, &complete);
    } else {
      char path[64];
      std::snprintf(path, sizeof path, "/proc/%d/task/%d/children", m->pid, t.tid);
      n = ReadPath(path, &buf_, kMaxChildrenBytes);
      if (n < 0 && errno == ENOENT) {
        char taskDir[48];
        std::snprintf(taskDir, sizeof taskDir, "/proc/%d/task/%d", m->pid, t.tid);
        if (::access(taskDir, F_OK) == 0) return Step::kUnsupported;
      }
    }
    if (n <= 0) {
      if (n < 0) m->taskLinks = 0;  // that thread is gone: re-list the threads next walk
      continue;
    }
    for (const char* p = buf_.data(); *p;) {
      char* end = nullptr;
      long child = std::strtol(p, &end, 10);
      if (end == p) break;
      if (child > 0) out->push_back({static_cast<int32_t>(child), m->pid});
      p = end;
    }
  }
  return Step::kOk;
}

// Depth-first from the root through the children files, opening what is new.
ProcTree::Step ProcTree::WalkChildren(int64_t nowNs) {
  for (auto& m : members_) m->seen = false;
  frontier_.clear();
  frontier_.push_back({root_, 0});
  while (!frontier_.empty()) {
    Entry e = frontier_.back();
    frontier_.pop_back();
    Member* m = Find(e.pid);
    if (m && m->seen) continue;  // listed twice (reparented during the walk)
    bool fresh = false;
    if (!m) {
      m = Open(e.pid, e.ppid);
      if (!m) {
        if (e.pid == root_) return Step::kGone;
        continue;
      }
      fresh = true;
    }
    Step step = ListThreads(m, nowNs);
    if (step == Step::kGone && !fresh) {
      // The process behind the kept descriptors exited; a live one listed
      // under the same pid is a new process: open it afresh.
      Drop(m);
      m = Open(e.pid, e.ppid);
      if (!m) {
        if (e.pid == root_) return Step::kGone;
        continue;
      }
      step = ListThreads(m, nowNs);
    }
    m->seen = true;
    if (step == Step::kUnsupported) return step;
    if (step == Step::kGone) continue;  // a zombie: no threads, no children
    if (AppendChildren(m, &frontier_) == Step::kUnsupported) return Step::kUnsupported;
  }
  return Step::kOk;
}

bool ProcTree::ScanAll(int32_t rootPid, std::vector<int32_t>* pids) {
  entries_.clear();
  scanned_.clear();
  if (!ListNumericNames("/proc", &scanned_)) return false;
  bool rootSeen = false;
  for (int32_t pid : scanned_) {
    int32_t ppid = ReadParent(pid);
    if (ppid < 0) continue;  // exited while we scanned
    entries_.push_back({pid, ppid});
    if (pid == rootPid) rootSeen = true;
  }
  if (!rootSeen) return false;

  // Down from the root over the parent links just read.
  pids->push_back(rootPid);
  for (size_t i = 0; i < pids->size(); ++i) {
    int32_t parent = (*pids)[i];
    for (const Entry& entry : entries_)
      if (entry.ppid == parent && entry.pid != parent) pids->push_back(entry.pid);
  }
  return true;
}

bool ProcTree::WalkFullScan() {
  std::vector<int32_t> found;
  if (!ScanAll(root_, &found)) return false;
  for (auto& m : members_) m->seen = false;
  for (int32_t pid : found) {
    Member* m = Find(pid);
    if (!m) m = Open(pid, 0);
    if (m) m->seen = true;
  }
  return true;
}

bool ProcTree::WalkShape(int64_t nowNs) {
  bool ok;
  if (strategy_ == Strategy::kChildren) {
    Step step = WalkChildren(nowNs);
    if (step == Step::kUnsupported) {
      strategy_ = Strategy::kFullScan;  // this kernel has no children files
      ok = WalkFullScan();
    } else {
      ok = step == Step::kOk;
    }
  } else {
    ok = WalkFullScan();
  }
  if (!ok) return false;
  for (size_t i = members_.size(); i-- > 0;) {
    if (!members_[i]->seen) Drop(members_[i].get());  // left the tree: exited or reparented away
  }
  treePids_.clear();
  for (const auto& m : members_) treePids_.push_back(m->pid);
  return true;
}

double ProcTree::ReadRss(Member* m) {
  char buf[256];
  ssize_t n;
  if (m->kept) {
    bool complete;
    n = PreadProcFile(m->statm.get(), buf, sizeof buf, &complete);
  } else {
    char path[48];
    std::snprintf(path, sizeof path, "/proc/%d/statm", m->pid);
    n = ReadPath(path, buf, sizeof buf);
  }
  return n > 0 ? ParseStatmRss(buf, pageBytes_) : kNaN;
}

void ProcTree::ReadHwm(Member* m) {
  char buf[4096];
  ssize_t n;
  if (m->kept) {
    bool complete;
    n = PreadProcFile(m->status.get(), buf, sizeof buf, &complete);
  } else {
    char path[48];
    std::snprintf(path, sizeof path, "/proc/%d/status", m->pid);
    n = ReadPath(path, buf, sizeof buf);
  }
  if (n <= 0) return;
  double hwm = ParseHwm(buf);
  if (hwm == hwm && !(hwm <= peakHwmBytes_)) peakHwmBytes_ = hwm;  // NaN peak: first reading
}
#endif

double ProcTree::Scan(int32_t rootPid, std::vector<int32_t>* pids) {
  pids->clear();
#if defined(__linux__)
  if (rootPid <= 0) return kNaN;
  if (rootPid != root_) {
    Reset();
    root_ = rootPid;
  }
  if (pageBytes_ == 0) {
    long page = ::sysconf(_SC_PAGESIZE);
    pageBytes_ = page > 0 ? static_cast<double>(page) : 4096.0;
  }
  if (budgetFds_ == 0) {
    struct rlimit rl;
    size_t soft = 1024;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0)
      soft = rl.rlim_cur == RLIM_INFINITY ? kMaxTrackedFds * 4 : static_cast<size_t>(rl.rlim_cur);
    budgetFds_ = std::min(kMaxTrackedFds, soft / 4);
  }
  if (maxKeptFds_ > 0) budgetFds_ = maxKeptFds_;

  int64_t now = MonotonicNs();
  if (walkNeeded_ || members_.empty() || now - lastWalkNs_ >= shapeRefreshNs_) {
    if (!WalkShape(now)) {
      ForgetTree();  // the root is gone: keep its peak, hold no descriptor
      return kNaN;
    }
    lastWalkNs_ = now;
    walkNeeded_ = false;
  }
  bool hwmDue = !hwmRead_ || now - lastHwmNs_ >= hwmRefreshNs_;
  double total = 0;
  bool any = false;
  bool dropped = false;
  for (size_t i = 0; i < members_.size();) {
    Member* m = members_[i].get();
    double rss = ReadRss(m);
    if (rss != rss) {  // the process is gone (a zombie still reads 0)
      if (m->pid == root_) {
        ForgetTree();
        return kNaN;
      }
      Drop(m);
      dropped = true;
      walkNeeded_ = true;  // its children may have moved: re-walk next time
      continue;
    }
    total += rss;
    any = true;
    if (hwmDue) ReadHwm(m);
    ++i;
  }
  if (hwmDue) {
    lastHwmNs_ = now;
    hwmRead_ = true;
  }
  if (dropped) {
    treePids_.clear();
    for (const auto& m : members_) treePids_.push_back(m->pid);
  }
  *pids = treePids_;
  return any ? total : kNaN;
#else
  (void)rootPid;
  return kNaN;
#endif
}

}  // namespace perfprobe
