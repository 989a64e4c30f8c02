/*
 * Force-included (-include) into the Windows cross build of the stand-in
 * NVML (native/test/fake_nvml/fake_nvml.c) by scripts/emulate.mjs: the one
 * POSIX call it makes that zig's mingw-w64 (no winpthreads) lacks,
 * clock_gettime(CLOCK_MONOTONIC), used for the simulated call latencies.
 */
#include <windows.h>
#include <time.h>

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1
static int clock_gettime(int clock, struct timespec* ts) {
  (void)clock;
  LARGE_INTEGER frequency, counter;
  QueryPerformanceFrequency(&frequency);
  QueryPerformanceCounter(&counter);
  ts->tv_sec = (time_t)(counter.QuadPart / frequency.QuadPart);
  ts->tv_nsec = (long)((counter.QuadPart % frequency.QuadPart) * 1000000000LL / frequency.QuadPart);
  return 0;
}
#endif
