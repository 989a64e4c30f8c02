// Windows memory probe: GlobalMemoryStatusEx for the system,
// GetProcessMemoryInfo for the process. Compiled only on Windows.
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#include <psapi.h>

#include <limits>

#include "memory.h"
#include "record.h"

namespace perfprobe {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

MemoryReader::MemoryReader() = default;
MemoryReader::~MemoryReader() = default;

void MemoryReader::Read(double* out) {
  for (int i = 0; i < kMemorySlots; ++i) out[i] = kNaN;

  MEMORYSTATUSEX status;
  status.dwLength = sizeof status;
  if (GlobalMemoryStatusEx(&status)) {
    out[kMemTotalBytes] = static_cast<double>(status.ullTotalPhys);
    out[kMemAvailableBytes] = static_cast<double>(status.ullAvailPhys);
    out[kMemFreeBytes] = static_cast<double>(status.ullAvailPhys);
    // The page file includes physical memory; report only the part beyond it.
    double pageTotal = static_cast<double>(status.ullTotalPageFile) - static_cast<double>(status.ullTotalPhys);
    double pageFree = static_cast<double>(status.ullAvailPageFile) - static_cast<double>(status.ullAvailPhys);
    out[kSwapTotalBytes] = pageTotal > 0 ? pageTotal : 0;
    out[kSwapFreeBytes] = pageFree > 0 ? pageFree : 0;
  }

  PROCESS_MEMORY_COUNTERS pmc;
  if (GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc)) {
    out[kProcessRssBytes] = static_cast<double>(pmc.WorkingSetSize);
    out[kProcessPeakRssBytes] = static_cast<double>(pmc.PeakWorkingSetSize);
  }
}

double ChildrenPeakRssBytes() { return kNaN; }  // no such figure for child processes

}  // namespace perfprobe
