// Linux memory probe: /proc/meminfo and /proc/self/statm kept open and read
// with ONE pread(offset 0) each into a stack buffer (the kernel regenerates
// both files whole on every read from offset 0, so a short read is the whole
// file: proc_read.h), peak RSS from getrusage.
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "memory.h"
#include "proc_read.h"
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
  ++systemReads_;
  char buf[8192];
  bool complete;  // a meminfo longer than buf keeps its first lines, which hold these fields
  if (PreadProcFile(meminfoFd_, buf, sizeof buf, &complete) > 0) {
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
  char statm[256];  // 7 numbers: never near full, so one pread
  bool complete;
  if (PreadProcFile(statmFd_, statm, sizeof statm, &complete) > 0) {
    const char* p = statm;
    double size = ParseNumber(p);
    double resident = ParseNumber(p);
    if (!std::isnan(size) && !std::isnan(resident)) out[kProcessRssBytes] = resident * pageBytes_;
  }
  // The peak is at least what is resident now (the kernel's high-water mark
  // is updated lazily, and ours may be up to 10 ms old).
  if (out[kProcessRssBytes] > out[kProcessPeakRssBytes]) out[kProcessPeakRssBytes] = out[kProcessRssBytes];
}

double ChildrenPeakRssBytes() {
  struct rusage ru;
  if (::getrusage(RUSAGE_CHILDREN, &ru) != 0) return kNaN;
  return static_cast<double>(ru.ru_maxrss) * 1024.0;  // KiB on Linux
}

}  // namespace perfprobe
