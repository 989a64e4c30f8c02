// macOS memory probe: host_statistics64 for the system, task_info for the
// process. Compiled only on macOS (binding.gyp / CMakeLists.txt conditions).
#include <mach/mach.h>
#include <sys/resource.h>
#include <sys/sysctl.h>
#include <sys/types.h>

#include <cstdint>
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

  uint64_t total = 0;
  size_t len = sizeof total;
  if (::sysctlbyname("hw.memsize", &total, &len, nullptr, 0) == 0) out[kMemTotalBytes] = static_cast<double>(total);

  mach_port_t host = mach_host_self();
  vm_size_t page = 0;
  if (host_page_size(host, &page) != KERN_SUCCESS) page = 4096;
  vm_statistics64_data_t vm;
  mach_msg_type_number_t count = HOST_VM_INFO64_COUNT;
  if (host_statistics64(host, HOST_VM_INFO64, reinterpret_cast<host_info64_t>(&vm), &count) == KERN_SUCCESS) {
    double p = static_cast<double>(page);
    out[kMemFreeBytes] = static_cast<double>(vm.free_count) * p;
    // What Activity Monitor treats as reclaimable: free + inactive + purgeable.
    out[kMemAvailableBytes] =
        static_cast<double>(vm.free_count + vm.inactive_count + vm.purgeable_count) * p;
  }
  mach_port_deallocate(mach_task_self(), host);

  xsw_usage swap;
  len = sizeof swap;
  if (::sysctlbyname("vm.swapusage", &swap, &len, nullptr, 0) == 0) {
    out[kSwapTotalBytes] = static_cast<double>(swap.xsu_total);
    out[kSwapFreeBytes] = static_cast<double>(swap.xsu_avail);
  }

  mach_task_basic_info_data_t info;
  mach_msg_type_number_t infoCount = MACH_TASK_BASIC_INFO_COUNT;
  if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, reinterpret_cast<task_info_t>(&info), &infoCount) ==
      KERN_SUCCESS) {
    out[kProcessRssBytes] = static_cast<double>(info.resident_size);
    out[kProcessPeakRssBytes] = static_cast<double>(info.resident_size_max);
  }
}

double ChildrenPeakRssBytes() {
  struct rusage ru;
  if (::getrusage(RUSAGE_CHILDREN, &ru) != 0) return kNaN;
  return static_cast<double>(ru.ru_maxrss);  // bytes on macOS
}

}  // namespace perfprobe
