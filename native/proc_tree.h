// RSS summed over a process and all its descendants, and the tree's pid list
// (the GPU probe sums per-process GPU memory over it). One file per OS,
// chosen by binding.gyp: Linux reads /proc (proc_tree.cc), Windows a
// Toolhelp snapshot (proc_tree_win.cc), macOS proc_listchildpids
// (proc_tree_darwin.cc). Free of Node-API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#if defined(__linux__)
#include <unistd.h>
#endif

namespace perfprobe {

// An owned file descriptor, closed when it goes (Linux; elsewhere never set).
class ProcFd {
 public:
  ProcFd() = default;
  explicit ProcFd(int fd) : fd_(fd) {}
  ~ProcFd() { Reset(); }
  ProcFd(ProcFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ProcFd& operator=(ProcFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ProcFd(const ProcFd&) = delete;
  ProcFd& operator=(const ProcFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
#if defined(__linux__)
    if (fd_ >= 0) ::close(fd_);
#endif
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class ProcTree {
 public:
  ProcTree() = default;
  ProcTree(const ProcTree&) = delete;
  ProcTree& operator=(const ProcTree&) = delete;

  // Finds `rootPid` and its descendants (see Strategy) and sums their RSS. On
  // return `pids` holds the tree's pids sorted ascending (empty when rootPid
  // does not exist or the platform is unsupported). Returns the summed RSS
  // in bytes, or NaN when unknown.
  //
  // Linux cost (what makes a 1 kHz sampler watching a tree cheap): every
  // process found is opened once (/proc/<pid>/statm, task/, status and each
  // thread's children file, kept open; a descriptor of /proc/<pid> stays
  // bound to that process, so a reused pid can never be read by mistake).
  // Each Scan then reads each process's statm with one pread. The tree's
  // shape (one pread of each thread's children file; the thread list only
  // when the thread count, fstat of task/, changed) is re-read at most every
  // ShapeRefreshNs() (default: every Scan), and at the next Scan after a
  // member exits. Members' VmHWM (status) is re-read at most every
  // HwmRefreshNs(). Allocates only when the tree grows.
  double Scan(int32_t rootPid, std::vector<int32_t>* pids);

  // How the tree is found. kChildren walks down from the root through
  // /proc/<pid>/task/<tid>/children (cost grows with the tree, not with the
  // machine's process count); kFullScan reads every /proc/<pid>/stat for
  // parent links. kChildren falls back to kFullScan for good when the kernel
  // lacks the children files (CONFIG_PROC_CHILDREN). Tests force either.
  enum class Strategy { kChildren, kFullScan };
  void SetStrategy(Strategy strategy) { strategy_ = strategy; }
  Strategy strategy() const { return strategy_; }

  // How often the shape is re-walked and VmHWM re-read: at most every `ns`
  // (0, the default: on every Scan). The sampler sets kSamplerShapeRefreshNs
  // and kSamplerHwmRefreshNs, so at 1 kHz most ticks only read statm, while at
  // intervals of 50 ms and more every tick does everything.
  static constexpr int64_t kSamplerShapeRefreshNs = 10000000;  // 10 ms
  static constexpr int64_t kSamplerHwmRefreshNs = 50000000;    // 50 ms
  void SetShapeRefreshNs(int64_t ns) { shapeRefreshNs_ = ns < 0 ? 0 : ns; }
  void SetHwmRefreshNs(int64_t ns) { hwmRefreshNs_ = ns < 0 ? 0 : ns; }
  int64_t ShapeRefreshNs() const { return shapeRefreshNs_; }
  int64_t HwmRefreshNs() const { return hwmRefreshNs_; }

  // The largest VmHWM (the kernel's per-process peak RSS) read from any
  // process of the tree since the last Reset(), in bytes; NaN when none was
  // read. A floor under the tree's true peak (which is at least the peak of
  // each of its processes), also for spikes between two samples.
  double PeakHwmBytes() const { return peakHwmBytes_; }

  // Forgets the tree and the peak, and closes every descriptor it kept.
  void Reset() {
    ForgetTree();
    root_ = 0;
    hwmRead_ = false;
    peakHwmBytes_ = std::numeric_limits<double>::quiet_NaN();
  }
  // Closes every descriptor and forgets the tree, keeping PeakHwmBytes()
  // (the sampler calls it when its thread ends).
  void CloseFiles() { ForgetTree(); }

  // Descriptors held open now, and the most it keeps (beyond it, files are
  // opened and closed per read, as a fallback).
  size_t KeptFds() const { return keptFds_; }
  void SetMaxKeptFds(size_t n) { maxKeptFds_ = n; }

 private:
  struct Thread {
    int32_t tid = 0;
    ProcFd children;
  };
  struct Member {
    int32_t pid = 0;
    bool kept = false;  // false: over the descriptor budget, files read by path
    ProcFd statm, task, status;
    uint64_t taskLinks = 0;       // st_nlink of task/ when the threads were listed
    int64_t threadsListedNs = 0;  // when they were listed
    std::vector<Thread> threads;
    bool seen = false;            // listed by the current walk
  };
  struct Entry {
    int32_t pid;
    int32_t ppid;
  };

  // Outcome of a walk step: kUnsupported when the kernel lacks children
  // files, kGone when the process is no longer there.
  enum class Step { kOk, kUnsupported, kGone };
  Member* Find(int32_t pid);
  Member* Open(int32_t pid, int32_t parent);
  void Drop(Member* m);
  void ForgetTree() {             // closes every descriptor; keeps root and peak
    members_.clear();              // their ProcFds close
    keptFds_ = 0;
    treePids_.clear();
    walkNeeded_ = true;
  }
  bool WalkShape(int64_t nowNs);   // false: the root is gone
  Step WalkChildren(int64_t nowNs);
  bool WalkFullScan();
  Step ListThreads(Member* m, int64_t nowNs);
  Step AppendChildren(Member* m, std::vector<Entry>* out);
  bool ScanAll(int32_t rootPid, std::vector<int32_t>* pids);
  double ReadRss(Member* m);       // NaN: the process is gone
  void ReadHwm(Member* m);
  size_t FdsOf(const Member& m) const;

  Strategy strategy_ = Strategy::kChildren;
  int64_t shapeRefreshNs_ = 0;
  int64_t hwmRefreshNs_ = 0;
  int32_t root_ = 0;
  bool walkNeeded_ = true;
  int64_t lastWalkNs_ = 0;
  int64_t lastHwmNs_ = 0;
  bool hwmRead_ = false;
  double peakHwmBytes_ = std::numeric_limits<double>::quiet_NaN();
  double pageBytes_ = 0;
  size_t keptFds_ = 0;
  size_t maxKeptFds_ = 0;  // set by tests; 0: derived from RLIMIT_NOFILE
  size_t budgetFds_ = 0;
  std::vector<std::unique_ptr<Member>> members_;  // sorted by pid
  std::vector<int32_t> treePids_;                 // sorted, as Scan returns them
  std::vector<Entry> entries_;
  std::vector<Entry> frontier_;
  std::vector<int32_t> scanned_;
  std::vector<char> buf_;
};

}  // namespace perfprobe
