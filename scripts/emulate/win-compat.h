/*
 * Force-included (-include) into the Windows cross build of the stand-in
 * NVML (both .c files in native/test/fake_nvml/) by scripts/emulate.mjs: the POSIX
 * calls it makes that zig's mingw-w64 (no winpthreads) lacks:
 * clock_gettime (monotonic for the simulated call latencies, realtime for
 * field-value timestamps) and nanosleep (the scripted event waits);
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
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
static int clock_gettime(int clock, struct timespec* ts) {
  if (clock == CLOCK_REALTIME) { /* field-value timestamps: microseconds since 1970 */
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    unsigned long long t100ns = (((unsigned long long)ft.dwHighDateTime << 32) | ft.dwLowDateTime) - 116444736000000000ULL;
    ts->tv_sec = (time_t)(t100ns / 10000000ULL);
    ts->tv_nsec = (long)(t100ns % 10000000ULL) * 100;
    return 0;
  }
  LARGE_INTEGER frequency, counter;
  QueryPerformanceFrequency(&frequency);
  QueryPerformanceCounter(&counter);
  ts->tv_sec = (time_t)(counter.QuadPart / frequency.QuadPart);
  ts->tv_nsec = (long)((counter.QuadPart % frequency.QuadPart) * 1000000000LL / frequency.QuadPart);
  return 0;
}
/* the scripted event waits (fake_nvml_depth.c) sleep until the next event is due */
static int nanosleep(const struct timespec* ts, struct timespec* rem) {
  (void)rem;
  DWORD ms = (DWORD)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000);
  Sleep(ms);
  return 0;
}
#endif
