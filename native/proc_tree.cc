// See proc_tree.h. Linux: one pass over /proc/<pid>/stat for parent links,
// then /proc/<pid>/statm for each member of the tree.
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

double ProcTree::Scan(int32_t rootPid, std::vector<int32_t>* pids) {
  pids->clear();
#if defined(__linux__)
  if (rootPid <= 0) return kNaN;
  entries_.clear();
  DIR* dir = ::opendir("/proc");
  if (!dir) return kNaN;
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
  if (!rootSeen) return kNaN;

  // Breadth-first from the root over parent links.
  frontier_.clear();
  frontier_.push_back(rootPid);
  pids->push_back(rootPid);
  while (!frontier_.empty()) {
    int32_t parent = frontier_.back();
    frontier_.pop_back();
    for (const Entry& entry : entries_) {
      if (entry.ppid == parent && entry.pid != parent) {
        pids->push_back(entry.pid);
        frontier_.push_back(entry.pid);
      }
    }
  }
  std::sort(pids->begin(), pids->end());

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
