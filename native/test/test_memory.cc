// Native tests of the memory probe (memory_<os>.cc) and the process tree.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "memory.h"
#include "proc_tree.h"
#include "record.h"

#if defined(__linux__)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

using namespace perfprobe;

namespace {
constexpr double kMiB = 1048576.0;

#if defined(__linux__)
// "Key:   123 kB" from a /proc file, in bytes; NaN when absent.
double ProcField(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtod(line.c_str() + key.size() + 1, nullptr) * 1024.0;
    }
  }
  return std::nan("");
}
#endif
}  // namespace

TEST(MemoryReadsPlausibleValues) {
  MemoryReader reader;
  double m[kMemorySlots];
  reader.Read(m);
  CHECK(m[kMemTotalBytes] > 64 * kMiB);
  CHECK(m[kMemAvailableBytes] > 0);
  CHECK(m[kMemAvailableBytes] <= m[kMemTotalBytes]);
  CHECK(m[kMemFreeBytes] <= m[kMemTotalBytes]);
  CHECK(m[kProcessRssBytes] > 1 * kMiB);
  CHECK(m[kProcessRssBytes] < m[kMemTotalBytes]);
  CHECK(m[kProcessPeakRssBytes] >= 0.9 * m[kProcessRssBytes]);
#if defined(__linux__)
  CHECK(m[kSwapTotalBytes] >= 0);
  CHECK(m[kSwapFreeBytes] <= m[kSwapTotalBytes]);
#endif
}

#if defined(__linux__)
TEST(MemoryAgreesWithProcFilesReadIndependently) {
  MemoryReader reader;
  double m[kMemorySlots];
  reader.Read(m);
  double vmRss = ProcField("/proc/self/status", "VmRSS");
  double total = ProcField("/proc/meminfo", "MemTotal");
  double swapTotal = ProcField("/proc/meminfo", "SwapTotal");
  CHECK(!std::isnan(vmRss));
  CHECK_NEAR(m[kProcessRssBytes], vmRss, std::fmax(0.02 * vmRss, kMiB));
  CHECK_EQ(m[kMemTotalBytes], total);
  CHECK_EQ(m[kSwapTotalBytes], swapTotal);
}

TEST(MemoryRssFollowsAllocation) {
  MemoryReader reader;
  double before[kMemorySlots], after[kMemorySlots];
  reader.Read(before);
  const size_t size = 64 * 1024 * 1024;
  char* block = static_cast<char*>(std::malloc(size));
  CHECK(block != nullptr);
  for (size_t i = 0; i < size; i += 4096) block[i] = static_cast<char>(i);
  reader.Read(after);
  CHECK(after[kProcessRssBytes] - before[kProcessRssBytes] > 56 * kMiB);
  CHECK(after[kProcessPeakRssBytes] >= after[kProcessRssBytes] - kMiB);
  std::free(block);
}
#endif

TEST(MemoryRepeatedReadsStayConsistent) {
  MemoryReader reader;
  double first[kMemorySlots], m[kMemorySlots];
  reader.Read(first);
  for (int i = 0; i < 2000; ++i) {
    reader.Read(m);
    if (m[kMemTotalBytes] != first[kMemTotalBytes]) {
      CHECK_EQ(m[kMemTotalBytes], first[kMemTotalBytes]);
      break;
    }
  }
  CHECK(m[kProcessRssBytes] > 0);
}

#if defined(__linux__)
TEST(ProcTreeFindsSelfAndChild) {
  ProcTree tree;
  std::vector<int32_t> pids;
  double rss = tree.Scan(static_cast<int32_t>(getpid()), &pids);
  CHECK(!std::isnan(rss));
  CHECK(rss > 1 * kMiB);
  CHECK(pids.size() >= 1);
  CHECK(pids[0] == getpid() || std::find(pids.begin(), pids.end(), getpid()) != pids.end());

  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  CHECK(child > 0);
  double withChild = tree.Scan(static_cast<int32_t>(getpid()), &pids);
  bool found = false;
  for (int32_t p : pids) found = found || p == child;
  CHECK(found);
  CHECK(withChild >= rss * 0.5);
  for (size_t i = 1; i < pids.size(); ++i) CHECK(pids[i - 1] < pids[i]);  // sorted ascending
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

// A child forked from a second thread (listed in that thread's children
// file) and a grandchild: both strategies must find the same tree.
TEST(ProcTreeStrategiesAgreeOnThreadsAndGrandchildren) {
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t child = -1;
  std::thread spawner([&] {
    child = fork();
    if (child == 0) {
      pid_t grandchild = fork();
      if (grandchild == 0) {
        pause();
        _exit(0);
      }
      char c = 'r';
      (void)!write(ready[1], &c, 1);
      pause();
      _exit(0);
    }
  });
  spawner.join();
  CHECK(child > 0);
  char c;
  CHECK(read(ready[0], &c, 1) == 1);  // the grandchild exists now

  ProcTree walk, scan;
  scan.SetStrategy(ProcTree::Strategy::kFullScan);
  std::vector<int32_t> walked, scanned;
  double walkedRss = walk.Scan(static_cast<int32_t>(getpid()), &walked);
  double scannedRss = scan.Scan(static_cast<int32_t>(getpid()), &scanned);
  CHECK(walk.strategy() == ProcTree::Strategy::kChildren);  // this kernel has children files
  CHECK_EQ(walked.size(), scanned.size());
  CHECK(walked == scanned);
  CHECK(walked.size() >= 3);  // self, child, grandchild
  CHECK(std::find(walked.begin(), walked.end(), child) != walked.end());
  CHECK(!std::isnan(walkedRss) && walkedRss > 0);
  CHECK_NEAR(walkedRss, scannedRss, 0.1 * scannedRss);  // two reads of live RSS

  for (int32_t p : walked)  // the grandchild first, while it is still ours to find
    if (p != getpid() && p != child) kill(p, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

TEST(ProcTreeUnknownPidIsNaN) {
  ProcTree tree;
  std::vector<int32_t> pids{1, 2, 3};
  double rss = tree.Scan(2147483646, &pids);
  CHECK(std::isnan(rss));
  CHECK(pids.empty());
  CHECK(std::isnan(tree.Scan(0, &pids)));
}
#endif
