/*
 * Force-included (-include) into the Windows cross build of the stand-in
 * NVML (native/test/fake_nvml/fake_nvml.c) by scripts/emulate.mjs: the one
 * POSIX call it makes that zig's mingw-w64 (no winpthreads) lacks,
 * clock_gettime(CLOCK_MONOTONIC), used for the simulated call latencies;
 * and binary-mode files, so its $PERFPROBE_FAKE_NVML_LOG lines end in "\n"
 * as on Linux (the C runtime's text mode would write "\r\n").
 */
#include <windows.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>

__attribute__((constructor)) static void fake_nvml_binary_mode(void) { _set_fmode(_O_BINARY); }

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
