// Layout of the fixed-size records the native sampler writes and of the
// buffers readMemory() and the GPU probe fill. Every slot is a double; NaN
// means "unknown or unsupported" (TypeScript turns it into null).
//
// src/probes/layout.ts mirrors these numbers; a test checks they agree
// (the addon exports them as `layout`).
#pragma once

namespace perfprobe {

// Memory slots: readMemory() fills kMemorySlots doubles, all in bytes.
enum MemorySlot : int {
  kMemTotalBytes = 0,       // MemTotal
  kMemAvailableBytes = 1,   // MemAvailable (what nvidia-smi/free call available)
  kMemFreeBytes = 2,        // MemFree
  kProcessRssBytes = 3,     // this process's resident set size now
  kProcessPeakRssBytes = 4, // this process's peak RSS (getrusage ru_maxrss)
  kSwapTotalBytes = 5,
  kSwapFreeBytes = 6,
  kMemorySlots = 7,
};

// Sampler record = header, then memory slots, then kGpuSlots per GPU.
enum HeaderSlot : int {
  kMonotonicNs = 0,   // CLOCK_MONOTONIC in ns (same clock as process.hrtime)
  kWallClockMs = 1,   // ms since the Unix epoch, fractional
  kTreeRssBytes = 2,  // RSS summed over the watched pid's process tree; NaN if none watched
  kGpuCountSlot = 3,  // how many GPU blocks follow in this record
  kHeaderSlots = 4,
};
constexpr int kRecordMemoryOffset = kHeaderSlots;
constexpr int kRecordGpuOffset = kHeaderSlots + kMemorySlots;

}  // namespace perfprobe
