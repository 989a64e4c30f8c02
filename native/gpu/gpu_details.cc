// On-demand readings (see gpu_details.h).
#include "gpu_details.h"

#ifdef _WIN32
#include <windows.h>
#include <process.h>
#define getpid _getpid
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "nvml_loader.h"

namespace perfprobe::gpu {

using namespace perfprobe::nvml;

namespace {

constexpr size_t kMaxSamples = 65536;  // same cap as the process lists

bool Unsupported(Return r) { return r == kNotSupported || r == kNoPermission || r == kFunctionNotFound; }

void MarkUnsupported(DeviceInfo& dev, Return r, uint32_t bit) {
  if (Unsupported(r)) dev.unsupported.fetch_or(bit, std::memory_order_relaxed);
  if (r == kGpuIsLost) dev.lost.store(true, std::memory_order_relaxed);
}

double InstanceId(uint32_t id) { return id == kInstanceIdNone ? NAN : static_cast<double>(id); }

// NaN-aware sum: unknown only when every part is unknown.
double AddKnown(double a, double b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return a + b;
}

double MaxKnown(double a, double b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return std::max(a, b);
}

struct UtilScratch {
  std::vector<ProcessUtilizationSample> samples;
};

UtilScratch& ThreadUtil() {
  thread_local UtilScratch u;
  return u;
}

// Samples newer than the device's last seen timestamp, newest per pid,
// sorted by pid, into `out`. Sized by a first call with no buffer; grown and
// retried on INSUFFICIENT_SIZE (samples appear between the calls).
Return ReadUtilization(DeviceInfo& dev, std::vector<ProcessUtilizationSample>& out) {
  out.clear();
  const Api& api = GetApi();
  if (!api.getProcessUtilization) return kFunctionNotFound;
  const unsigned long long since = dev.processUtilSeenUs.load(std::memory_order_relaxed);
  unsigned count = 0;
  Return r = api.getProcessUtilization(dev.handle, nullptr, &count, since);
  if (r == kNotFound) return kNotFound;
  if (r == kSuccess && count == 0) return kNotFound;
  if (r != kSuccess && r != kInsufficientSize && r != kInvalidArgument) return r;
  // INVALID_ARGUMENT: a driver that refuses the sizing call; try a buffer.
  size_t want = std::min<size_t>(std::max<size_t>(count, 64), kMaxSamples);
  for (int attempt = 0; attempt < 5; ++attempt) {
    out.resize(want);
    count = static_cast<unsigned>(want);
    r = api.getProcessUtilization(dev.handle, out.data(), &count, since);
    if (r == kInsufficientSize) {
      if (want >= kMaxSamples) break;
      want = std::min<size_t>(std::max<size_t>({static_cast<size_t>(count) + 8, want * 2}), kMaxSamples);
      continue;
    }
    if (r != kSuccess) {
      out.clear();
      return r;
    }
    out.resize(std::min<size_t>(count, want));
    unsigned long long newest = since;
    for (const auto& x : out) newest = std::max(newest, x.timeStamp);
    // Concurrent readers of one device: the timestamp only moves forward.
    unsigned long long seen = dev.processUtilSeenUs.load(std::memory_order_relaxed);
    while (newest > seen && !dev.processUtilSeenUs.compare_exchange_weak(seen, newest, std::memory_order_relaxed)) {
    }
    // Newest sample per pid.
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.pid != b.pid ? a.pid < b.pid : a.timeStamp > b.timeStamp;
    });
    out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.pid == b.pid; }),
              out.end());
    return out.empty() ? kNotFound : kSuccess;
  }
  out.clear();
  return kInsufficientSize;
}

// Folds `list` into `table` (both ascending pid): entries of one list with
// the same pid (one per MIG instance) sum; a pid on both lists takes the
// larger figure.
void Merge(std::vector<ProcessDetail>& table, const std::vector<ProcessEntry>& list, uint32_t type) {
  std::vector<ProcessDetail> mine;
  mine.reserve(list.size());
  for (const ProcessEntry& e : list) {
    ProcessDetail d;
    d.pid = e.pid;
    d.usedBytes = e.usedBytes;
    d.types = type;
    d.gpuInstanceId = InstanceId(e.gpuInstanceId);
    d.computeInstanceId = InstanceId(e.computeInstanceId);
    mine.push_back(std::move(d));
  }
  std::stable_sort(mine.begin(), mine.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  std::vector<ProcessDetail> merged;
  merged.reserve(table.size() + mine.size());
  size_t t = 0;
  for (size_t i = 0; i < mine.size();) {
    ProcessDetail d = std::move(mine[i]);
    for (++i; i < mine.size() && mine[i].pid == d.pid; ++i) d.usedBytes = AddKnown(d.usedBytes, mine[i].usedBytes);
    while (t < table.size() && table[t].pid < d.pid) merged.push_back(std::move(table[t++]));
    if (t < table.size() && table[t].pid == d.pid) {
      ProcessDetail& o = table[t++];
      o.types |= type;
      o.usedBytes = MaxKnown(o.usedBytes, d.usedBytes);
      if (std::isnan(o.gpuInstanceId)) o.gpuInstanceId = d.gpuInstanceId;
      if (std::isnan(o.computeInstanceId)) o.computeInstanceId = d.computeInstanceId;
      merged.push_back(std::move(o));
    } else {
      merged.push_back(std::move(d));
    }
  }
  while (t < table.size()) merged.push_back(std::move(table[t++]));
  table.swap(merged);
}

}  // namespace

void ReadDeviceDetails(int index, double* block, Scratch& s, ProcessDetails& out) {
  out.processes.clear();
  ReadDevice(index, block, s, nullptr);
  out.computeStatus = s.processStatus;
  out.graphicsStatus = out.utilStatus = kNotSupported;
  auto& devices = Devices();
  if (index < 0 || index >= static_cast<int>(devices.size())) return;
  DeviceInfo& dev = *devices[index];
  if (block[kGpuStatus] == 1 || !dev.handle) {
    out.computeStatus = out.graphicsStatus = out.utilStatus = block[kGpuStatus] == 1 ? kGpuIsLost : dev.handleError;
    return;
  }
  const uint32_t skip = dev.unsupported.load(std::memory_order_relaxed);
  if (!(skip & kBitGraphicsProcesses)) {
    out.graphicsStatus = ReadProcessList(index, ProcessList::kGraphics, s, s.graphics);
    MarkUnsupported(dev, out.graphicsStatus, kBitGraphicsProcesses);
  }
  if (out.computeStatus == kSuccess) Merge(out.processes, s.processes, kProcessCompute);
  if (out.graphicsStatus == kSuccess) Merge(out.processes, s.graphics, kProcessGraphics);

  std::vector<ProcessUtilizationSample>& samples = ThreadUtil().samples;
  if (!(skip & kBitProcessUtilization) && !dev.lost.load(std::memory_order_relaxed)) {
    out.utilStatus = ReadUtilization(dev, samples);
    MarkUnsupported(dev, out.utilStatus, kBitProcessUtilization);
  } else {
    samples.clear();
  }
  const int32_t me = static_cast<int32_t>(getpid());
  double self = 0;
  for (ProcessDetail& p : out.processes) {
    auto it = std::lower_bound(samples.begin(), samples.end(), p.pid,
                               [](const ProcessUtilizationSample& x, uint32_t pid) { return x.pid < pid; });
    if (it != samples.end() && it->pid == p.pid) {
      p.smUtil = it->smUtil;
      p.memUtil = it->memUtil;
      p.encUtil = it->encUtil;
      p.decUtil = it->decUtil;
      p.utilTimestampUs = static_cast<double>(it->timeStamp);
    } else {
      p.smUtil = p.memUtil = p.encUtil = p.decUtil = p.utilTimestampUs = NAN;
    }
    p.name = ProcessName(p.pid);
    if (static_cast<int32_t>(p.pid) == me) self = AddKnown(self, p.usedBytes);
  }
  if (out.computeStatus == kSuccess || out.graphicsStatus == kSuccess) block[kGpuProcessMemoryBytes] = self;
}

void ReadMig(int index, MigInfo& out) {
  out = MigInfo{};
  auto& devices = Devices();
  if (index < 0 || index >= static_cast<int>(devices.size())) {
    out.status = kInvalidArgument;
    return;
  }
  DeviceInfo& dev = *devices[index];
  if (dev.lost.load(std::memory_order_relaxed)) {
    out.status = kGpuIsLost;
    return;
  }
  if (!dev.handle) {
    out.status = dev.handleError;
    return;
  }
  const Api& api = GetApi();
  const uint32_t skip = dev.unsupported.load(std::memory_order_relaxed);
  if (skip & kBitMig) {
    out.status = kNotSupported;
    return;
  }
  unsigned current = 0, pending = 0;
  out.status = api.getMigMode ? api.getMigMode(dev.handle, &current, &pending) : kFunctionNotFound;
  MarkUnsupported(dev, out.status, kBitMig);
  if (out.status != kSuccess) return;
  out.currentMode = current == 1;  // NVML_DEVICE_MIG_ENABLE
  out.pendingMode = pending == 1;
  if (!out.currentMode || !api.getMaxMigDeviceCount || !api.getMigDeviceHandle) return;
  unsigned max = 0;
  if (api.getMaxMigDeviceCount(dev.handle, &max) != kSuccess) return;
  const bool v1 = (skip & kBitMemoryV2) || !api.getMemoryV2;
  for (unsigned i = 0; i < max && i < 256; ++i) {
    Device mig = nullptr;
    if (api.getMigDeviceHandle(dev.handle, i, &mig) != kSuccess || !mig) continue;  // NOT_FOUND: a gap
    MigDevice m;
    m.index = i;
    char uuid[kUuidBufferSize] = {0};
    if (api.getUuid && api.getUuid(mig, uuid, sizeof uuid) == kSuccess) {
      uuid[sizeof uuid - 1] = 0;
      m.uuid = uuid;
    }
    unsigned id = 0;
    m.gpuInstanceId = api.getGpuInstanceId && api.getGpuInstanceId(mig, &id) == kSuccess ? id : NAN;
    m.computeInstanceId = api.getComputeInstanceId && api.getComputeInstanceId(mig, &id) == kSuccess ? id : NAN;
    m.memoryTotalBytes = m.memoryUsedBytes = NAN;
    MemoryV2 m2{};
    m2.version = kMemoryV2Version;
    MemoryV1 m1{};
    if (!v1 && api.getMemoryV2(mig, &m2) == kSuccess) {
      m.memoryTotalBytes = static_cast<double>(m2.total);
      m.memoryUsedBytes = static_cast<double>(m2.used);
    } else if (api.getMemoryV1 && api.getMemoryV1(mig, &m1) == kSuccess) {
      m.memoryTotalBytes = static_cast<double>(m1.total);
      m.memoryUsedBytes = static_cast<double>(m1.used);
    }
    out.devices.push_back(std::move(m));
  }
}

void ReadPcieThroughput(int index, double* txKBps, double* rxKBps) {
  *txKBps = *rxKBps = NAN;
  auto& devices = Devices();
  if (index < 0 || index >= static_cast<int>(devices.size())) return;
  DeviceInfo& dev = *devices[index];
  if (dev.lost.load(std::memory_order_relaxed) || !dev.handle) return;
  if (dev.unsupported.load(std::memory_order_relaxed) & kBitPcieThroughput) return;
  const Api& api = GetApi();
  unsigned v = 0;
  Return r = api.getPcieThroughput ? api.getPcieThroughput(dev.handle, kPcieUtilTxBytes, &v) : kFunctionNotFound;
  MarkUnsupported(dev, r, kBitPcieThroughput);
  if (r != kSuccess) return;
  *txKBps = v;
  r = api.getPcieThroughput(dev.handle, kPcieUtilRxBytes, &v);
  MarkUnsupported(dev, r, kBitPcieThroughput);
  if (r == kSuccess) *rxKBps = v;
}

#ifdef __linux__
namespace {
// Reads a small /proc file into buf (NUL-terminated); -1 when unreadable.
ssize_t ReadSmall(const char* path, char* buf, size_t size) {
  int fd;
  do {
    fd = ::open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return -1;
  ssize_t n;
  do {
    n = ::read(fd, buf, size - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}
}  // namespace

std::string ProcessName(uint32_t pid) {
  if (pid == 0) return {};
  char path[64], comm[64];
  std::snprintf(path, sizeof path, "/proc/%u/comm", pid);
  ssize_t n = ReadSmall(path, comm, sizeof comm);
  if (n <= 0) return {};
  while (n > 0 && (comm[n - 1] == '\n' || comm[n - 1] == '\0')) comm[--n] = 0;
  std::string name(comm, static_cast<size_t>(n));
  if (n < 15) return name;  // TASK_COMM_LEN - 1: shorter names are whole
  char cmd[4096];
  std::snprintf(path, sizeof path, "/proc/%u/cmdline", pid);
  if (ReadSmall(path, cmd, sizeof cmd) <= 0) return name;
  std::string argv0(cmd);  // up to the first NUL
  size_t slash = argv0.find_last_of('/');
  std::string base = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
  return base.size() > name.size() && base.compare(0, name.size(), name) == 0 ? base : name;
}
#elif defined(_WIN32)
// The executable's base name without ".exe" (python, node), as the Linux
// branch gives comm: QueryFullProcessImageName needs only limited query
// rights, which any process has on the user's own processes; others are null.
std::string ProcessName(uint32_t pid) {
  if (pid == 0) return {};
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid));
  if (!h) return {};
  char path[MAX_PATH * 2];
  DWORD size = sizeof path;
  BOOL ok = QueryFullProcessImageNameA(h, 0, path, &size);
  CloseHandle(h);
  if (!ok || size == 0) return {};
  std::string full(path, size);
  size_t sep = full.find_last_of("\\/");
  std::string base = sep == std::string::npos ? full : full.substr(sep + 1);
  if (base.size() > 4 && _stricmp(base.c_str() + base.size() - 4, ".exe") == 0) base.resize(base.size() - 4);
  return base;
}
#else
std::string ProcessName(uint32_t) { return {}; }  // macOS: no NVML
#endif

}  // namespace perfprobe::gpu
