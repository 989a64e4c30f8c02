// See proc_tree.h. Linux: the tree from /proc/<pid>/task/<tid>/children
// (or, without those files, one pass over /proc/<pid>/stat for parent
// links), then /proc/<pid>/statm for each member of the tree.
#include "proc_tree.h"

#include <algorithm>
#include <limits>

#if defined(__linux__)
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#endif

namespace perfprobe {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

#if defined(__linux__)
// Reads a small /proc file into buf (NUL-terminated); length or -1.
ssize_t ReadSmallFile(const char* path, char* buf, size_t size) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < size) {
    ssize_t n = ::read(fd, buf + got, size - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

// Parent pid from /proc/<pid>/stat: "pid (comm) state ppid ...". comm may
// hold spaces and parentheses, so parse after the LAST ')'.
int32_t ReadParent(int32_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char buf[1024];
  if (ReadSmallFile(path, buf, sizeof buf) <= 0) return -1;
  const char* close = std::strrchr(buf, ')');
  if (!close) return -1;
  const char* p = close + 1;
  while (*p == ' ') ++p;
  if (!*p) return -1;
  ++p;  // state character
  while (*p == ' ') ++p;
  long ppid = std::strtol(p, nullptr, 10);
  return static_cast<int32_t>(ppid);
}

double ReadRssBytes(int32_t pid, double pageBytes) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", pid);
  char buf[256];
  if (ReadSmallFile(path, buf, sizeof buf) <= 0) return kNaN;
  char* end = nullptr;
  std::strtoull(buf, &end, 10);  // size
  if (!end) return kNaN;
  unsigned long long resident = std::strtoull(end, nullptr, 10);
  return static_cast<double>(resident) * pageBytes;
}
#endif
}  // namespace

#if defined(__linux__)
// Reads a /proc file of any length into buf (NUL-terminated), reusing it; length or -1.
static ssize_t ReadWholeFile(const char* path, std::vector<char>* buf) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (buf->size() < 4096) buf->resize(4096);
  size_t got = 0;
  for (;;) {
    if (got + 1 >= buf->size()) buf->resize(buf->size() * 2);
    ssize_t n = ::read(fd, buf->data() + got, buf->size() - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  (*buf)[got] = '\0';
  return static_cast<ssize_t>(got);
}

ProcTree::Walk ProcTree::AppendChildren(int32_t pid, std::vector<int32_t>* out) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* dir = ::opendir(path);
  if (!dir) return Walk::kOk;  // exited meanwhile: no children
  Walk result = Walk::kOk;
  while (struct dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long tid = std::strtol(e->d_name, &end, 10);
    if (tid <= 0 || *end != '\0') continue;
    char file[96];
    std::snprintf(file, sizeof file, "/proc/%d/task/%ld/children", pid, tid);
    if (ReadWholeFile(file, &buf_) < 0) {
      // No children file while its task still exists: the kernel lacks them.
      // (A thread that ended meanwhile takes its whole directory with it.)
      int err = errno;
      char taskDir[96];
      std::snprintf(taskDir, sizeof taskDir, "/proc/%d/task/%ld", pid, tid);
      if (err == ENOENT && ::access(taskDir, F_OK) == 0) {
        result = Walk::kUnsupported;
        break;
      }
      continue;
    }
    for (char* p = buf_.data(); *p;) {
      long child = std::strtol(p, &end, 10);
      if (end == p) break;
      if (child > 0) out->push_back(static_cast<int32_t>(child));
      p = end;
    }
  }
  ::closedir(dir);
  return result;
}

// Visits the tree below rootPid depth-first, appending every pid to `pids`
// (the root first). `appendChildren(parent, out)` appends a parent's
// children to `out` and may answer kUnsupported, which stops the walk.
template <typename AppendChildrenFn>
static ProcTree::Walk Traverse(int32_t rootPid, std::vector<int32_t>* pids, std::vector<int32_t>* frontier,
                               AppendChildrenFn appendChildren) {
  frontier->clear();
  frontier->push_back(rootPid);
  pids->push_back(rootPid);
  while (!frontier->empty()) {
    int32_t parent = frontier->back();
    frontier->pop_back();
    size_t first = pids->size();
    if (appendChildren(parent, pids) == ProcTree::Walk::kUnsupported) return ProcTree::Walk::kUnsupported;
    for (size_t i = first; i < pids->size(); ++i) frontier->push_back((*pids)[i]);
  }
  return ProcTree::Walk::kOk;
}

ProcTree::Walk ProcTree::WalkChildren(int32_t rootPid, std::vector<int32_t>* pids) {
  return Traverse(rootPid, pids, &frontier_, [this](int32_t parent, std::vector<int32_t>* out) {
    return AppendChildren(parent, out);
  });
}

bool ProcTree::ScanAll(int32_t rootPid, std::vector<int32_t>* pids) {
  entries_.clear();
  DIR* dir = ::opendir("/proc");
  if (!dir) return false;
  bool rootSeen = false;
  while (struct dirent* e = ::readdir(dir)) {
    const char* name = e->d_name;
    if (name[0] < '1' || name[0] > '9') continue;
    char* end = nullptr;
    long pid = std::strtol(name, &end, 10);
    if (*end != '\0') continue;
    int32_t ppid = ReadParent(static_cast<int32_t>(pid));
    if (ppid < 0) continue;  // exited while we scanned
    entries_.push_back({static_cast<int32_t>(pid), ppid});
    if (pid == rootPid) rootSeen = true;
  }
  ::closedir(dir);
  if (!rootSeen) return false;

  // Down from the root over the parent links just read.
  Traverse(rootPid, pids, &frontier_, [this](int32_t parent, std::vector<int32_t>* out) {
    for (const Entry& entry : entries_)
      if (entry.ppid == parent && entry.pid != parent) out->push_back(entry.pid);
    return Walk::kOk;
  });
  return true;
}
#endif

double ProcTree::Scan(int32_t rootPid, std::vector<int32_t>* pids) {
  pids->clear();
#if defined(__linux__)
  if (rootPid <= 0) return kNaN;
  char rootDir[32];
  std::snprintf(rootDir, sizeof rootDir, "/proc/%d", rootPid);
  if (::access(rootDir, F_OK) != 0) return kNaN;
  bool found = false;
  if (strategy_ == Strategy::kChildren) {
    if (WalkChildren(rootPid, pids) == Walk::kOk) {
      found = true;
    } else {
      strategy_ = Strategy::kFullScan;  // this kernel has no children files
      pids->clear();
    }
  }
  if (!found && !ScanAll(rootPid, pids)) {
    pids->clear();
    return kNaN;
  }
  // A pid may be listed twice if it was reparented during the walk.
  std::sort(pids->begin(), pids->end());
  pids->erase(std::unique(pids->begin(), pids->end()), pids->end());

  long page = ::sysconf(_SC_PAGESIZE);
  double pageBytes = page > 0 ? static_cast<double>(page) : 4096.0;
  double total = 0;
  bool any = false;
  for (int32_t pid : *pids) {
    double rss = ReadRssBytes(pid, pageBytes);
    if (rss == rss) {  // not NaN: the process may have exited meanwhile
      total += rss;
      any = true;
    }
  }
  return any ? total : kNaN;
#else
  (void)rootPid;
  return kNaN;
#endif
}

}  // namespace perfprobe
