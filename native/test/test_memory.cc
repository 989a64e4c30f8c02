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
#include "proc_read.h"
#include "proc_tree.h"
#include "record.h"

#if defined(__linux__)
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
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

// Read system calls (read, pread, ...) this thread has made so far: syscr of
// /proc/thread-self/io, read with one raw read() (which shows up in the next
// reading, so each call adds exactly one). -1 without task I/O accounting.
long long ThreadReadSyscalls() {
  int fd = open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* p = std::strstr(buf, "syscr:");
  return p ? std::strtoll(p + 6, nullptr, 10) : -1;
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

// Each Read() is one pread of /proc/self/statm, plus one pread of
// /proc/meminfo when the machine-wide figures are refreshed: never a second
// read to find the end of the file.
TEST(MemoryReadIsOnePreadPerFile) {
  MemoryReader reader;
  double m[kMemorySlots];
  reader.Read(m);
  long long before = ThreadReadSyscalls();
  CHECK(before >= 0);  // Linux with task I/O accounting (every distribution kernel)
  if (before < 0) return;
  uint64_t refreshesBefore = reader.SystemReads();
  const int kCalls = 2000;
  for (int i = 0; i < kCalls; ++i) reader.Read(m);
  long long reads = ThreadReadSyscalls() - before - 1;  // - the read of io itself
  long long refreshes = static_cast<long long>(reader.SystemReads() - refreshesBefore);
  CHECK_EQ(reads, kCalls + refreshes);
  CHECK(m[kProcessRssBytes] > 0);
}

// proc_read.h: one pread when the file fits; a buffer too small keeps whole
// tokens of the beginning and says so; a growable buffer grows and re-reads.
TEST(ProcReadHandlesSmallBuffers) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);  // ~1.4 KiB, one record
  CHECK(fd >= 0);
  char whole[16384];
  bool complete = false;
  long long before = ThreadReadSyscalls();
  ssize_t n = PreadProcFile(fd, whole, sizeof whole, &complete);
  long long reads = ThreadReadSyscalls() - before - 1;
  CHECK(n > 200);
  CHECK(complete);
  CHECK_EQ(reads, 1LL);  // fits: one pread, no second read to find the end
  CHECK_EQ(std::strlen(whole), static_cast<size_t>(n));
  CHECK(std::strncmp(whole, "Name:", 5) == 0);

  char small[100];
  ssize_t k = PreadProcFile(fd, small, sizeof small, &complete);
  CHECK(!complete);
  CHECK(k > 0 && k <= 99);
  CHECK(small[k - 1] == '\n' || small[k - 1] == ' ');  // cut after whole tokens
  CHECK(std::strncmp(small, whole, static_cast<size_t>(k)) == 0 || std::strncmp(small, "Name:", 5) == 0);

  std::vector<char> grown(16);
  ssize_t g = PreadProcFile(fd, &grown, 1 << 20, &complete);
  CHECK(complete);
  CHECK(g > 200);
  CHECK(grown.size() > static_cast<size_t>(g));
  CHECK(std::strncmp(grown.data(), "Name:", 5) == 0);

  std::vector<char> capped(16);
  ssize_t c = PreadProcFile(fd, &capped, 128, &complete);
  CHECK(!complete);  // could not grow past maxBytes
  CHECK(c > 0 && c < 128);
  CHECK_EQ(capped.size(), static_cast<size_t>(128));
  close(fd);
  CHECK(PreadProcFile(-1, small, sizeof small, &complete) == -1);
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

namespace {
size_t OpenFds() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  while (readdir(d)) ++n;
  closedir(d);
  return n;
}

// Forks a child that pauses until killed (after `before` runs in it).
template <typename Fn>
pid_t ForkPaused(int readyFd, Fn before) {
  pid_t pid = fork();
  if (pid == 0) {
    before();
    char c = 'r';
    (void)!write(readyFd, &c, 1);
    for (;;) pause();
  }
  return pid;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

bool Has(const std::vector<int32_t>& pids, pid_t pid) { return std::find(pids.begin(), pids.end(), pid) != pids.end(); }
}  // namespace

// Between shape walks a scan is one pread of statm per process: no open, no
// directory listing, no second read to find the end of a file.
TEST(ProcTreeSteadyScanIsOnePreadPerProcess) {
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t a = ForkPaused(ready[1], [] {});
  pid_t b = ForkPaused(ready[1], [] {});
  char c;
  CHECK(read(ready[0], &c, 1) == 1 && read(ready[0], &c, 1) == 1);
  ProcTree tree;
  tree.SetShapeRefreshNs(3600LL * 1000000000);
  tree.SetHwmRefreshNs(3600LL * 1000000000);
  std::vector<int32_t> pids;
  double rss = tree.Scan(static_cast<int32_t>(getpid()), &pids);
  CHECK(!std::isnan(rss));
  CHECK(Has(pids, a) && Has(pids, b));
  long long before = ThreadReadSyscalls();
  const int kScans = 300;
  for (int i = 0; i < kScans; ++i) rss = tree.Scan(static_cast<int32_t>(getpid()), &pids);
  long long reads = ThreadReadSyscalls() - before - 1;
  CHECK_EQ(reads, static_cast<long long>(kScans) * static_cast<long long>(pids.size()));
  CHECK(rss > 1 * kMiB);
  KillAndReap(a);
  KillAndReap(b);
  close(ready[0]);
  close(ready[1]);
}

// Walking the shape on every scan: one pread per thread's children file and
// per statm; a child forked since the last scan is in the next one.
TEST(ProcTreeWalkEveryScanFindsNewChildren) {
  int ready[2];
  CHECK(pipe(ready) == 0);
  ProcTree tree;
  tree.SetShapeRefreshNs(0);
  tree.SetHwmRefreshNs(3600LL * 1000000000);
  std::vector<int32_t> pids;
  tree.Scan(static_cast<int32_t>(getpid()), &pids);
  size_t alone = pids.size();
  pid_t a = ForkPaused(ready[1], [] {});
  char c;
  CHECK(read(ready[0], &c, 1) == 1);
  tree.Scan(static_cast<int32_t>(getpid()), &pids);
  CHECK(Has(pids, a));
  CHECK_EQ(pids.size(), alone + 1);
  long long before = ThreadReadSyscalls();
  tree.Scan(static_cast<int32_t>(getpid()), &pids);
  long long reads = ThreadReadSyscalls() - before - 1;
  // This process has one thread (the tests' threads have ended) and so has
  // the child: a children file and a statm each.
  CHECK_EQ(reads, static_cast<long long>(2 * pids.size()));
  KillAndReap(a);
  tree.Scan(static_cast<int32_t>(getpid()), &pids);  // notices the exit...
  tree.Scan(static_cast<int32_t>(getpid()), &pids);
  CHECK(!Has(pids, a));
  CHECK_EQ(pids.size(), alone);
  close(ready[0]);
  close(ready[1]);
}

// A child forked by a thread that is still running is listed in that
// thread's children file: the walk lists the threads (task/ has more than one
// entry) and reads each one's file.
TEST(ProcTreeFindsChildrenOfALiveSecondThread) {
  int ready[2], done[2];
  CHECK(pipe(ready) == 0);
  CHECK(pipe(done) == 0);
  pid_t child = -1;
  std::thread forker([&] {
    child = ForkPaused(ready[1], [] {});
    char c;
    (void)!read(done[0], &c, 1);  // stay alive (and the child's parent thread) until told
  });
  char c;
  CHECK(read(ready[0], &c, 1) == 1);
  ProcTree tree;
  std::vector<int32_t> pids;
  tree.Scan(static_cast<int32_t>(getpid()), &pids);
  CHECK(child > 0 && Has(pids, child));
  CHECK(tree.KeptFds() >= 3 + 2 + 3 + 1);  // us: 3 + two children files; the child: 3 + one
  c = 'd';
  CHECK(write(done[1], &c, 1) == 1);
  forker.join();
  KillAndReap(child);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
}

// Descriptors: held per process while it is in the tree, closed when it
// leaves, all closed with the tree; a budget bounds them, and a tree larger
// than the budget is still read whole (by path beyond it).
TEST(ProcTreeDescriptorsFollowTheTreeAndStayInBudget) {
  size_t fdsBefore = OpenFds();
  int ready[2];
  CHECK(pipe(ready) == 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < 3; ++i) kids.push_back(ForkPaused(ready[1], [] {}));
  char c;
  for (int i = 0; i < 3; ++i) CHECK(read(ready[0], &c, 1) == 1);
  {
    ProcTree tree;
    tree.SetShapeRefreshNs(0);
    std::vector<int32_t> pids;
    double rss = tree.Scan(static_cast<int32_t>(getpid()), &pids);
    for (pid_t k : kids) CHECK(Has(pids, k));
    CHECK(tree.KeptFds() >= 4 * 3);  // statm, task/, status (+ children files) each
    size_t withKids = tree.KeptFds();
    KillAndReap(kids[0]);
    tree.Scan(static_cast<int32_t>(getpid()), &pids);
    tree.Scan(static_cast<int32_t>(getpid()), &pids);
    CHECK(!Has(pids, kids[0]));
    CHECK(tree.KeptFds() < withKids);

    ProcTree small;
    small.SetMaxKeptFds(4);
    small.SetShapeRefreshNs(0);
    std::vector<int32_t> smallPids;
    double smallRss = small.Scan(static_cast<int32_t>(getpid()), &smallPids);
    CHECK(smallPids == pids);
    CHECK(small.KeptFds() <= 4);
    CHECK(!std::isnan(smallRss) && !std::isnan(rss));
    CHECK_NEAR(smallRss, tree.Scan(static_cast<int32_t>(getpid()), &pids), 0.1 * smallRss);
  }
  for (size_t i = 1; i < kids.size(); ++i) KillAndReap(kids[i]);
  close(ready[0]);
  close(ready[1]);
  CHECK_EQ(OpenFds(), fdsBefore);  // every descriptor closed with the trees
}

// VmHWM: a child that touched 64 MiB and freed it again reads small now, but
// the tree's peak high-water mark keeps the 64 MiB.
TEST(ProcTreePeakHwmKeepsASpikeBetweenScans) {
  int ready[2];
  CHECK(pipe(ready) == 0);
  ProcTree tree;
  std::vector<int32_t> pids;
  tree.Scan(static_cast<int32_t>(getpid()), &pids);
  pid_t spiky = ForkPaused(ready[1], [] {
    const size_t size = 64 * 1024 * 1024;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      std::memset(p, 1, size);
      munmap(p, size);
    }
  });
  char c;
  CHECK(read(ready[0], &c, 1) == 1);  // the spike is over
  tree.SetShapeRefreshNs(0);
  tree.SetHwmRefreshNs(0);
  double rss = tree.Scan(static_cast<int32_t>(getpid()), &pids);
  CHECK(Has(pids, spiky));
  CHECK(tree.PeakHwmBytes() >= 64 * kMiB);
  CHECK(!std::isnan(rss));
  KillAndReap(spiky);
  // The peak outlives the process; Reset forgets it.
  tree.Scan(static_cast<int32_t>(getpid()), &pids);
  CHECK(tree.PeakHwmBytes() >= 64 * kMiB);
  tree.Reset();
  CHECK(std::isnan(tree.PeakHwmBytes()));
  close(ready[0]);
  close(ready[1]);
}

// ru_maxrss of reaped children: a child's 64 MiB peak is known once it has
// been waited for, although it freed the memory before exiting.
TEST(ChildrenPeakRssCountsAReapedChildsSpike) {
  double before = ChildrenPeakRssBytes();
  CHECK(!std::isnan(before));
  pid_t child = fork();
  if (child == 0) {
    const size_t size = 64 * 1024 * 1024;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(1);
    std::memset(p, 1, size);
    munmap(p, size);
    _exit(0);
  }
  int status = -1;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(ChildrenPeakRssBytes() >= 64 * kMiB);
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
