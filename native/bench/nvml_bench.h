// The NVML micro-benchmark behind bench/gpu.bench.mjs: the raw NVML calls
// one full sample makes (the floor) against gpu::ReadDevice for every
// device (what the sampler and nvmlRead do). Not part of the shipped addon:
// it is built into the perfprobe_gpu_bench program and the native tests
// only (CMakeLists.txt). Requires the caller to hold an nvml reference.
#pragma once

namespace perfprobe::gpu {

struct BenchResult {
  double rawNsPerSample;   // the raw NVML calls one full sample makes, all devices
  double fullNsPerSample;  // ReadDevice for all devices
  int callsPerSample;
};

// Alternates rounds of both so drift hits both alike; keeps the best round.
// The raw loop repeats ReadDevice's calls, skipping what it would skip: keep
// the two in step when a reading gains an NVML call (the native test checks
// the count on the stand-in library).
BenchResult Bench(int iterations);

}  // namespace perfprobe::gpu
