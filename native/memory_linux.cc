// Linux memory probe: /proc/meminfo and /proc/self/statm kept open and read
// with pread(offset 0) into a stack buffer (the kernel regenerates both files
// on every read from offset 0), peak RSS from getrusage.
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "memory.h"
#include "record.h"

namespace perfprobe {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int OpenReadOnly(const char* path) {
  int fd;
  do {
    fd = ::open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Reads the whole file from offset 0 into buf (NUL-terminated). Returns the
// length, or -1 on error.
ssize_t ReadAll(int fd, char* buf, size_t size) {
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < size) {
    ssize_t n = ::pread(fd, buf + got, size - 1 - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

// Parses an unsigned decimal at p (skipping spaces); NaN when there is none.
double ParseNumber(const char*& p) {
  while (*p == ' ' || *p == '\t') ++p;
  if (*p < '0' || *p > '9') return kNaN;
  double v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

bool StartsWith(const char* line, const char* key, size_t keyLen) {
  return std::strncmp(line, key, keyLen) == 0;
}

}  // namespace

MemoryReader::MemoryReader() {
  meminfoFd_ = OpenReadOnly("/proc/meminfo");
  statmFd_ = OpenReadOnly("/proc/self/statm");
  long page = ::sysconf(_SC_PAGESIZE);
  pageBytes_ = page > 0 ? static_cast<double>(page) : 4096.0;
}

MemoryReader::~MemoryReader() {
  if (meminfoFd_ >= 0) ::close(meminfoFd_);
  if (statmFd_ >= 0) ::close(statmFd_);
}

void MemoryReader::ReadSystem() {
  for (int i = 0; i < kMemorySlots; ++i) system_[i] = kNaN;

  // /proc/meminfo is about 1.5 KiB; the fields we want are near the top.
  char buf[8192];
  if (ReadAll(meminfoFd_, buf, sizeof buf) > 0) {
    struct Field {
      const char* key;
      size_t len;
      int slot;
    };
    static constexpr Field kFields[] = {
        {"MemTotal:", 9, kMemTotalBytes},   {"MemFree:", 8, kMemFreeBytes},
        {"MemAvailable:", 13, kMemAvailableBytes}, {"SwapTotal:", 10, kSwapTotalBytes},
        {"SwapFree:", 9, kSwapFreeBytes},
    };
    int found = 0;
    for (const char* line = buf; *line && found < 5;) {
      for (const Field& f : kFields) {
        if (StartsWith(line, f.key, f.len)) {
          const char* p = line + f.len;
          system_[f.slot] = ParseNumber(p) * 1024.0;  // meminfo says "kB" and means KiB
          ++found;
          break;
        }
      }
      const char* nl = std::strchr(line, '\n');
      if (!nl) break;
      line = nl + 1;
    }
  }

  struct rusage ru;
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    system_[kProcessPeakRssBytes] = static_cast<double>(ru.ru_maxrss) * 1024.0;  // KiB on Linux
  }
}

void MemoryReader::Read(double* out) {
  // A coarse clock (~tick resolution, no syscall) is plenty for a 10 ms age.
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  int64_t now = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  if (!systemValid_ || now - systemReadNs_ >= kSystemRefreshNs) {
    ReadSystem();
    systemReadNs_ = now;
    systemValid_ = true;
  }
  for (int i = 0; i < kMemorySlots; ++i) out[i] = system_[i];

  // /proc/self/statm: "size resident shared text lib data dt" in pages.
  out[kProcessRssBytes] = kNaN;
  char statm[256];
  if (ReadAll(statmFd_, statm, sizeof statm) > 0) {
    const char* p = statm;
    double size = ParseNumber(p);
    double resident = ParseNumber(p);
    if (!std::isnan(size) && !std::isnan(resident)) out[kProcessRssBytes] = resident * pageBytes_;
  }
  // The peak is at least what is resident now (the kernel's high-water mark
  // is updated lazily, and ours may be up to 10 ms old).
  if (out[kProcessRssBytes] > out[kProcessPeakRssBytes]) out[kProcessPeakRssBytes] = out[kProcessRssBytes];
}

}  // namespace perfprobe
