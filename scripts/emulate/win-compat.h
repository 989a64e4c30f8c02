/*
 * Force-included (-include) into the Windows cross build of the stand-in
 * NVML (native/test/fake_nvml/fake_nvml.c) by scripts/emulate.mjs: the one
 * POSIX call it makes that zig's mingw-w64 (no winpthreads) lacks,
 * clock_gettime(CLOCK_MONOTONIC), used for the simulated call latencies;
 * and binary-mode files, so its $PERFPROBE_FAKE_NVML_LOG lines end in "\n"
 * as on Linux (the C runtime's text mode would write "\r\n").
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* fopen in binary mode ("a" -> "ab"): stdio.h is already included, so the
 * macro renames only fake_nvml.c's own calls. */
static FILE* fake_nvml_fopen(const char* path, const char* mode) {
  char m[8];
  size_t n = strlen(mode);
  if (n > 6) n = 6;
  memcpy(m, mode, n);
  m[n] = 'b';
  m[n + 1] = '\0';
  return fopen(path, m);
}
#define fopen fake_nvml_fopen

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
