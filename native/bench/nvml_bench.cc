// See nvml_bench.h.
#include "nvml_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "gpu/gpu_reader.h"
#include "gpu/nvml_loader.h"

namespace perfprobe::gpu {

using namespace perfprobe::nvml;

namespace {
int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

BenchResult Bench(int iterations) {
  BenchResult out{NAN, NAN, 0};
  if (iterations < 1) iterations = 1;
  const Api& api = GetApi();
  auto& devices = Devices();
  Scratch& s = ThreadScratch();
  // The raw calls a full sample makes, skipping what the read would skip;
  // the slow fields' calls once per kGpuSlowRefreshNs per device, as the read
  // makes them (not counted in callsPerSample).
  int calls = 0;
  std::vector<int64_t> rawSlowAt(devices.size(), 0);
  auto raw = [&]() {
    calls = 0;
    for (size_t i = 0; i < devices.size(); ++i) {
      DeviceInfo& dev = *devices[i];
      if (!dev.handle || dev.lost.load(std::memory_order_relaxed)) continue;
      const uint32_t skip = dev.unsupported.load(std::memory_order_relaxed);
      Device h = dev.handle;
      unsigned v;
      if (!(skip & kBitUtilization) && api.getUtilization) { Utilization u; api.getUtilization(h, &u); ++calls; }
      if (!(skip & kBitMemory)) {
        if (!(skip & kBitMemoryV2) && api.getMemoryV2) {
          MemoryV2 m{}; m.version = kMemoryV2Version; api.getMemoryV2(h, &m); ++calls;
        } else if (api.getMemoryV1) { MemoryV1 m; api.getMemoryV1(h, &m); ++calls; }
      }
      if (!(skip & kBitTemperature)) {
        if (!(skip & kBitTemperatureV) && api.getTemperatureV) {
          TemperatureV1 t{}; t.version = kTemperatureV1Version; api.getTemperatureV(h, &t); ++calls;
        } else if (api.getTemperature) { api.getTemperature(h, kTemperatureGpu, &v); ++calls; }
      }
      if (!(skip & kBitPower) && api.getPowerUsage) { api.getPowerUsage(h, &v); ++calls; }
      if (!(skip & kBitSmClock) && api.getClockInfo) { api.getClockInfo(h, kClockSm, &v); ++calls; }
      if (!(skip & kBitMemClock) && api.getClockInfo) { api.getClockInfo(h, kClockMem, &v); ++calls; }
      if (!(skip & kBitFan) && api.getFanSpeed) { api.getFanSpeed(h, &v); ++calls; }
      if (!(skip & kBitPstate) && api.getPerformanceState) { api.getPerformanceState(h, &v); ++calls; }
      unsigned long long ull;
      if (!(skip & kBitClocksReasons) && api.getClocksEventReasons) { api.getClocksEventReasons(h, &ull); ++calls; }
      if (!(skip & kBitMemoryTemperature) && api.getFieldValues) {
        FieldValue f{}; f.fieldId = kFieldMemoryTemperature; api.getFieldValues(h, 1, &f); ++calls;
      }
      unsigned period;
      if (!(skip & kBitEncoder) && api.getEncoderUtilization) { api.getEncoderUtilization(h, &v, &period); ++calls; }
      if (!(skip & kBitDecoder) && api.getDecoderUtilization) { api.getDecoderUtilization(h, &v, &period); ++calls; }
      const int64_t now = SteadyNs();
      if (rawSlowAt[i] == 0 || now - rawSlowAt[i] >= kGpuSlowRefreshNs) {
        rawSlowAt[i] = now;
        if (!(skip & kBitPcieGeneration) && api.getPcieLinkGeneration) api.getPcieLinkGeneration(h, &v);
        if (!(skip & kBitPcieWidth) && api.getPcieLinkWidth) api.getPcieLinkWidth(h, &v);
        int cur = 0, pend = 0;
        if (!(skip & kBitEccMode) && api.getEccMode && api.getEccMode(h, &cur, &pend) == kSuccess &&
            cur == kFeatureEnabled && api.getTotalEccErrors) {
          for (int e = 0; e < 2; ++e)
            for (int c = 0; c < 2; ++c) api.getTotalEccErrors(h, e, c, &ull);
        }
      }
      if (!(skip & kBitProcesses) && api.getProcesses) {
        unsigned count = static_cast<unsigned>(s.raw.size() / api.processStride);
        api.getProcesses(h, &count, s.raw.data());
        ++calls;
      }
    }
  };
  double block[kGpuSlots];
  auto full = [&]() {
    for (size_t i = 0; i < devices.size(); ++i) ReadDevice(static_cast<int>(i), block, s, nullptr);
  };
  using Clock = std::chrono::steady_clock;
  // Warm up both, then alternate rounds so drift hits both alike; keep the best round.
  raw();
  full();
  double bestRaw = INFINITY, bestFull = INFINITY;
  const int rounds = 15;
  const int per = std::max(1, iterations / rounds);
  for (int round = 0; round < rounds; ++round) {
    auto t0 = Clock::now();
    for (int i = 0; i < per; ++i) raw();
    auto t1 = Clock::now();
    for (int i = 0; i < per; ++i) full();
    auto t2 = Clock::now();
    bestRaw = std::min(bestRaw, std::chrono::duration<double, std::nano>(t1 - t0).count() / per);
    bestFull = std::min(bestFull, std::chrono::duration<double, std::nano>(t2 - t1).count() / per);
  }
  out.rawNsPerSample = bestRaw;
  out.fullNsPerSample = bestFull;
  out.callsPerSample = calls;
  return out;
}

}  // namespace perfprobe::gpu
