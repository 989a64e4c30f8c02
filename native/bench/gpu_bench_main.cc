// perfprobe_gpu_bench LIBRARY [ITERATIONS]: opens LIBRARY (an NVML, or the
// stand-in with $PERFPROBE_FAKE_NVML_SCRIPT), runs gpu::Bench and prints one
// JSON line { devices, rawNsPerSample, fullNsPerSample, callsPerSample },
// or { error } and exit 1. Built by scripts/build-gpu-bench.mjs for
// bench/gpu.bench.mjs and scripts/test-gpu.mjs; never shipped.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/nvml_bench.h"
#include "gpu/nvml_loader.h"

int main(int argc, char** argv) {
  using namespace perfprobe;
  const char* library = argc > 1 ? argv[1] : "";
  int iterations = argc > 2 ? std::atoi(argv[2]) : 20000;
  nvml::OpenInfo info = nvml::Acquire(library);
  if (!info.ok) {
    std::string e = info.error;
    for (char& c : e) if (c == '"' || c == '\\') c = '\'';
    std::printf("{\"error\":\"%s\"}\n", e.c_str());
    return 1;
  }
  gpu::BenchResult r = gpu::Bench(iterations < 1 ? 1 : iterations);
  std::printf("{\"devices\":%d,\"rawNsPerSample\":%.3f,\"fullNsPerSample\":%.3f,\"callsPerSample\":%d}\n", info.deviceCount,
              r.rawNsPerSample, r.fullNsPerSample, r.callsPerSample);
  nvml::Release();
  return 0;
}
