// Readings of one device and the sampler seam (gpu_api.h).
#include "gpu_reader.h"

#ifdef _WIN32
#include <process.h>
#define getpid _getpid
#else
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "nvml_loader.h"

namespace perfprobe::gpu {

using namespace perfprobe::nvml;

namespace {

constexpr int kMaxTracked = 64;
std::atomic<int> g_lastError[kMaxTracked];

int32_t SelfPid() {
  static const int32_t pid = static_cast<int32_t>(getpid());
  return pid;
}

// What a non-success code means for a field: unsupported for good, the GPU
// is lost, or an error this time.
enum class Outcome { kOk, kUnsupported, kLost, kError };

Outcome Classify(Return r) {
  switch (r) {
    case kSuccess: return Outcome::kOk;
    case kNotSupported:
    case kNoPermission:
    case kFunctionNotFound: return Outcome::kUnsupported;
    case kGpuIsLost: return Outcome::kLost;
    default: return Outcome::kError;
  }
}

struct ReadState {
  DeviceInfo& dev;
  int index;
  bool lost = false;
  bool error = false;
  uint32_t newlyUnsupported = 0;

  // Returns true when the value is good.
  bool Check(Return r, uint32_t bit) {
    switch (Classify(r)) {
      case Outcome::kOk: return true;
      case Outcome::kUnsupported: newlyUnsupported |= bit; break;
      case Outcome::kLost: lost = true; break;
      case Outcome::kError: error = true; break;
    }
    if (index < kMaxTracked) g_lastError[index].store(r, std::memory_order_relaxed);
    return false;
  }
};

void FillNaN(double* block) {
  for (int i = 0; i < kGpuSlots; ++i) block[i] = NAN;
}

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A field value as a double, whatever nvmlValueType_t it came as.
double FieldNumber(const FieldValue& f) {
  switch (f.valueType) {
    case kValueDouble: return f.value.dVal;
    case kValueUnsignedInt: return f.value.uiVal;
    case kValueUnsignedLong: return static_cast<double>(f.value.ulVal);
    case kValueUnsignedLongLong: return static_cast<double>(f.value.ullVal);
    case kValueSignedLongLong: return static_cast<double>(f.value.sllVal);
    case kValueSignedInt: return f.value.siVal;
    case kValueUnsignedShort: return f.value.usVal;
    default: return NAN;
  }
}

// Slots kGpuPcieLinkGeneration..kGpuEccUncorrectedAggregate, in that order,
// are the device's SlowFields values.
constexpr int kSlowFirst = kGpuPcieLinkGeneration;
static_assert(kGpuEccUncorrectedAggregate - kSlowFirst + 1 == SlowFields::kCount, "slow slots are contiguous");

// Refreshes the slow fields when kGpuSlowRefreshNs has passed since the last
// refresh (any thread), then copies them into the block.
void ReadSlow(const Api& api, DeviceInfo& dev, ReadState& st, uint32_t skip, double* block) {
  SlowFields& sf = dev.slow;
  std::lock_guard<std::mutex> lock(sf.mutex);
  const int64_t now = SteadyNs();
  if (sf.readAtNs == 0 || now - sf.readAtNs >= kGpuSlowRefreshNs) {
    double v[SlowFields::kCount];
    for (double& x : v) x = NAN;
    Device h = dev.handle;
    unsigned u = 0;
    if (!(skip & kBitPcieGeneration) &&
        st.Check(api.getPcieLinkGeneration ? api.getPcieLinkGeneration(h, &u) : kFunctionNotFound, kBitPcieGeneration))
      v[kGpuPcieLinkGeneration - kSlowFirst] = u;
    if (!st.lost && !(skip & kBitPcieWidth) &&
        st.Check(api.getPcieLinkWidth ? api.getPcieLinkWidth(h, &u) : kFunctionNotFound, kBitPcieWidth))
      v[kGpuPcieLinkWidth - kSlowFirst] = u;
    int current = 0, pending = 0;
    if (!st.lost && !(skip & kBitEccMode) &&
        st.Check(api.getEccMode ? api.getEccMode(h, &current, &pending) : kFunctionNotFound, kBitEccMode)) {
      v[kGpuEccModeCurrent - kSlowFirst] = current == kFeatureEnabled ? 1 : 0;
      v[kGpuEccModePending - kSlowFirst] = pending == kFeatureEnabled ? 1 : 0;
      // With ECC off the counters mean nothing: they stay NaN (null as a whole).
      struct Counter { int error, counter, slot; uint32_t bit; };
      static constexpr Counter kCounters[] = {
          {kMemoryErrorCorrected, kEccCounterVolatile, kGpuEccCorrectedVolatile, kBitEccCorrectedVolatile},
          {kMemoryErrorUncorrected, kEccCounterVolatile, kGpuEccUncorrectedVolatile, kBitEccUncorrectedVolatile},
          {kMemoryErrorCorrected, kEccCounterAggregate, kGpuEccCorrectedAggregate, kBitEccCorrectedAggregate},
          {kMemoryErrorUncorrected, kEccCounterAggregate, kGpuEccUncorrectedAggregate, kBitEccUncorrectedAggregate},
      };
      for (const Counter& c : kCounters) {
        if (current != kFeatureEnabled || st.lost || (skip & c.bit)) continue;
        unsigned long long n = 0;
        if (st.Check(api.getTotalEccErrors ? api.getTotalEccErrors(h, c.error, c.counter, &n) : kFunctionNotFound,
                     c.bit))
          v[c.slot - kSlowFirst] = static_cast<double>(n);
      }
    }
    if (st.lost) return;  // the caller blanks the block
    std::memcpy(sf.values, v, sizeof v);
    sf.readAtNs = now;
  }
  std::memcpy(block + kSlowFirst, sf.values, sizeof sf.values);
}

}  // namespace

Scratch::Scratch() : raw(32 * sizeof(ProcessInfoV3Drift)) { processes.reserve(32); }

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

int DeviceCount() { return static_cast<int>(Devices().size()); }

int LastError(int index) {
  return index >= 0 && index < kMaxTracked ? g_lastError[index].load(std::memory_order_relaxed) : 0;
}

int ReadProcesses(int index, Scratch& s) { return ReadProcessList(index, ProcessList::kCompute, s, s.processes); }

int ReadProcessList(int index, ProcessList list, Scratch& s, std::vector<ProcessEntry>& out) {
  out.clear();
  const Api& api = GetApi();
  auto& devices = Devices();
  if (index < 0 || index >= static_cast<int>(devices.size())) return kInvalidArgument;
  DeviceInfo& dev = *devices[index];
  if (dev.lost.load(std::memory_order_relaxed)) return kGpuIsLost;
  if (!dev.handle) return dev.handleError;
  const bool graphics = list == ProcessList::kGraphics;
  GetProcessesFn fn = graphics ? api.getGraphicsProcesses : api.getProcesses;
  if (!fn) return kFunctionNotFound;
  const size_t stride = graphics ? api.graphicsProcessStride : api.processStride;
  // Retry while the list outgrows the buffer (processes start between calls),
  // up to kMaxProcesses entries: a driver that claims more (a bug, or a
  // corrupt count) makes the list unsupported for this sample instead of an
  // allocation failure on the sampler thread.
  constexpr size_t kMaxProcesses = 65536;
  for (int attempt = 0; attempt < 5; ++attempt) {
    unsigned capacity = static_cast<unsigned>(s.raw.size() / stride);
    unsigned count = capacity;
    Return r = fn(dev.handle, &count, capacity ? s.raw.data() : nullptr);
    if (r == kInsufficientSize) {
      if (capacity >= kMaxProcesses) return kInsufficientSize;
      size_t want = std::max<size_t>({static_cast<size_t>(count) + 8, static_cast<size_t>(capacity) * 2, 16});
      s.raw.resize(std::min(want, kMaxProcesses) * stride);
      continue;
    }
    if (r != kSuccess) return r;
    if (count > capacity) count = capacity;
    for (unsigned i = 0; i < count; ++i) {
      // pid at offset 0 and usedGpuMemory at offset 8 in every layout; the
      // v2/v3 layouts add gpuInstanceId and computeInstanceId at 16 and 20.
      const unsigned char* e = s.raw.data() + i * stride;
      unsigned int pid;
      unsigned long long used;
      std::memcpy(&pid, e, sizeof(pid));
      std::memcpy(&used, e + 8, sizeof(used));
      ProcessEntry p{pid, used == kValueNotAvailable ? NAN : static_cast<double>(used)};
      if (stride >= sizeof(ProcessInfoV2)) {
        std::memcpy(&p.gpuInstanceId, e + 16, sizeof(p.gpuInstanceId));
        std::memcpy(&p.computeInstanceId, e + 20, sizeof(p.computeInstanceId));
      }
      out.push_back(p);
    }
    return kSuccess;
  }
  return kInsufficientSize;
}

void ReadDevice(int index, double* block, Scratch& s, const std::vector<int32_t>* watched) {
  FillNaN(block);
  s.processes.clear();
  s.processStatus = kInvalidArgument;
  auto& devices = Devices();
  if (index < 0 || index >= static_cast<int>(devices.size())) {
    block[kGpuStatus] = kGpuError;
    return;
  }
  DeviceInfo& dev = *devices[index];
  if (dev.lost.load(std::memory_order_relaxed)) {
    block[kGpuStatus] = kGpuLost;
    s.processStatus = kGpuIsLost;
    return;
  }
  if (!dev.handle) {
    block[kGpuStatus] = kGpuError;
    s.processStatus = dev.handleError;
    return;
  }
  const Api& api = GetApi();
  const uint32_t skip = dev.unsupported.load(std::memory_order_relaxed);
  ReadState st{dev, index};
  Device h = dev.handle;

  if (!(skip & kBitUtilization)) {
    Utilization u{};
    if (st.Check(api.getUtilization ? api.getUtilization(h, &u) : kFunctionNotFound, kBitUtilization)) {
      block[kGpuLoadPercent] = u.gpu;
      block[kGpuMemoryUtilPercent] = u.memory;
    }
  }
  if (!st.lost && !(skip & kBitMemory)) {
    bool done = false;
    if (!(skip & kBitMemoryV2) && api.getMemoryV2) {
      MemoryV2 m{};
      m.version = kMemoryV2Version;
      Return r = api.getMemoryV2(h, &m);
      if (r == kSuccess) {
        block[kGpuMemoryTotalBytes] = static_cast<double>(m.total);
        block[kGpuMemoryUsedBytes] = static_cast<double>(m.used);
        block[kGpuMemoryReservedBytes] = static_cast<double>(m.reserved);
        block[kGpuMemoryFreeBytes] = static_cast<double>(m.free);
        done = true;
      } else if (r == kGpuIsLost) {
        st.lost = true;
        done = true;
      } else if (r == kNotSupported || r == kArgumentVersionMismatch || r == kFunctionNotFound) {
        st.newlyUnsupported |= kBitMemoryV2;  // this driver wants v1
      }
    }
    if (!done) {
      MemoryV1 m{};
      if (st.Check(api.getMemoryV1 ? api.getMemoryV1(h, &m) : kFunctionNotFound, kBitMemory)) {
        block[kGpuMemoryTotalBytes] = static_cast<double>(m.total);
        block[kGpuMemoryUsedBytes] = static_cast<double>(m.used);  // v1: includes reserved
        block[kGpuMemoryFreeBytes] = static_cast<double>(m.free);
      }
    }
  }
  unsigned v = 0;
  if (!st.lost && !(skip & kBitTemperature)) {
    // nvmlDeviceGetTemperatureV (nvml.h 13) where the driver has it. A
    // driver that refuses it (another struct version, NOT_SUPPORTED, a stub)
    // gets the old call from then on; only when that one refuses too is the
    // temperature unsupported.
    bool done = false;
    if (!(skip & kBitTemperatureV) && api.getTemperatureV) {
      TemperatureV1 t{};
      t.version = kTemperatureV1Version;
      t.sensorType = kTemperatureGpu;
      Return r = api.getTemperatureV(h, &t);
      if (r == kArgumentVersionMismatch || Classify(r) == Outcome::kUnsupported) {
        st.newlyUnsupported |= kBitTemperatureV;
      } else {
        done = true;
        if (st.Check(r, kBitTemperature)) block[kGpuTemperatureC] = t.temperature;
      }
    }
    if (!done && st.Check(api.getTemperature ? api.getTemperature(h, kTemperatureGpu, &v) : kFunctionNotFound,
                          kBitTemperature))
      block[kGpuTemperatureC] = v;
  }
  if (!st.lost && !(skip & kBitPower) &&
      st.Check(api.getPowerUsage ? api.getPowerUsage(h, &v) : kFunctionNotFound, kBitPower))
    block[kGpuPowerMilliwatts] = v;
  block[kGpuPowerLimitMilliwatts] = dev.powerLimitMw;
  if (!st.lost && !(skip & kBitSmClock) &&
      st.Check(api.getClockInfo ? api.getClockInfo(h, kClockSm, &v) : kFunctionNotFound, kBitSmClock))
    block[kGpuSmClockMhz] = v;
  if (!st.lost && !(skip & kBitMemClock) &&
      st.Check(api.getClockInfo ? api.getClockInfo(h, kClockMem, &v) : kFunctionNotFound, kBitMemClock))
    block[kGpuMemoryClockMhz] = v;
  if (!st.lost && !(skip & kBitFan) &&
      st.Check(api.getFanSpeed ? api.getFanSpeed(h, &v) : kFunctionNotFound, kBitFan))
    block[kGpuFanPercent] = v;
  if (!st.lost && !(skip & kBitPstate) &&
      st.Check(api.getPerformanceState ? api.getPerformanceState(h, &v) : kFunctionNotFound, kBitPstate))
    block[kGpuPerformanceState] = v <= 15 ? v : NAN;  // NVML_PSTATE_UNKNOWN (32): unknown
  unsigned long long reasons = 0;
  if (!st.lost && !(skip & kBitClocksReasons) &&
      st.Check(api.getClocksEventReasons ? api.getClocksEventReasons(h, &reasons) : kFunctionNotFound,
               kBitClocksReasons))
    block[kGpuClocksEventReasons] = static_cast<double>(reasons);
  if (!st.lost && !(skip & kBitMemoryTemperature)) {
    FieldValue f{};
    f.fieldId = kFieldMemoryTemperature;
    if (st.Check(api.getFieldValues ? api.getFieldValues(h, 1, &f) : kFunctionNotFound, kBitMemoryTemperature) &&
        st.Check(f.nvmlReturn, kBitMemoryTemperature))
      block[kGpuMemoryTemperatureC] = FieldNumber(f);
  }
  unsigned periodUs = 0;
  if (!st.lost && !(skip & kBitEncoder) &&
      st.Check(api.getEncoderUtilization ? api.getEncoderUtilization(h, &v, &periodUs) : kFunctionNotFound,
               kBitEncoder))
    block[kGpuEncoderUtilPercent] = v;
  if (!st.lost && !(skip & kBitDecoder) &&
      st.Check(api.getDecoderUtilization ? api.getDecoderUtilization(h, &v, &periodUs) : kFunctionNotFound,
               kBitDecoder))
    block[kGpuDecoderUtilPercent] = v;
  if (!st.lost) ReadSlow(api, dev, st, skip, block);
  s.processStatus = kNotSupported;
  if (!st.lost && !(skip & kBitProcesses)) {
    Return r = ReadProcesses(index, s);
    s.processStatus = r;
    if (st.Check(r, kBitProcesses)) {
      double self = 0, sum = 0;
      const int32_t me = SelfPid();
      for (const ProcessEntry& p : s.processes) {
        if (static_cast<int32_t>(p.pid) == me) self += p.usedBytes;  // NaN when the driver does not say
        if (watched && std::binary_search(watched->begin(), watched->end(), static_cast<int32_t>(p.pid)))
          sum += p.usedBytes;
      }
      block[kGpuProcessMemoryBytes] = self;
      block[kGpuWatchedMemoryBytes] = (watched && !watched->empty()) ? sum : NAN;
    }
  }
  if (st.newlyUnsupported) dev.unsupported.fetch_or(st.newlyUnsupported, std::memory_order_relaxed);
  if (st.lost) {
    dev.lost.store(true, std::memory_order_relaxed);
    s.processes.clear();
    s.processStatus = kGpuIsLost;
    FillNaN(block);
    block[kGpuStatus] = kGpuLost;
    return;
  }
  block[kGpuStatus] = st.error ? kGpuError : kGpuOk;
}

double ReadEnergyMillijoules(int index) {
  auto& devices = Devices();
  if (index < 0 || index >= static_cast<int>(devices.size())) return NAN;
  DeviceInfo& dev = *devices[index];
  if (dev.lost.load() || !dev.handle) return NAN;
  const Api& api = GetApi();
  if (!api.getTotalEnergy) return NAN;
  unsigned long long mj = 0;
  Return r = api.getTotalEnergy(dev.handle, &mj);
  if (r == kGpuIsLost) dev.lost.store(true);
  return r == kSuccess ? static_cast<double>(mj) : NAN;
}

// ---- gpu_api.h: the sampler seam ----

int AcquireForSampler(const char* library) {
  OpenInfo info = Acquire(library);
  return info.ok ? info.deviceCount : -1;
}

void ReleaseForSampler() { Release(); }

int SampleAll(double* out, int maxDevices, const std::vector<int32_t>& watchedPids) {
  int n = std::min(DeviceCount(), maxDevices);
  Scratch& s = ThreadScratch();
  for (int i = 0; i < n; ++i) ReadDevice(i, out + static_cast<size_t>(i) * kGpuSlots, s, &watchedPids);
  return n < 0 ? 0 : n;
}

}  // namespace perfprobe::gpu
