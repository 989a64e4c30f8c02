/* The floor under readMemory(): one pread(2) of a kept-open /proc/self/statm
 * per call, nothing else (ANCHORS.md "Floors"). Built and run by
 * bench/memory.bench.mjs (bench/floors.mjs compiles it with cc -O2).
 *
 *   pread_floor [calls]   prints {"nsPerCall": median of 7 rounds, "calls": n}
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  long calls = argc > 1 ? atol(argv[1]) : 200000;
  if (calls < 1) calls = 1;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror("open /proc/self/statm");
    return 1;
  }
  char buf[256];
  volatile long sink = 0;
  for (long i = 0; i < 10000; ++i) sink += pread(fd, buf, sizeof buf - 1, 0); /* warm up */
  double rounds[7];
  for (int r = 0; r < 7; ++r) {
    double t0 = now_ns();
    for (long i = 0; i < calls; ++i) {
      ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
      if (n <= 0) {
        perror("pread");
        return 1;
      }
      sink += buf[0]; /* the read is used, as readMemory parses it */
    }
    rounds[r] = (now_ns() - t0) / (double)calls;
  }
  qsort(rounds, 7, sizeof rounds[0], cmp);
  printf("{\"nsPerCall\":%.1f,\"calls\":%ld}\n", rounds[3], calls);
  return sink == -1;
}
