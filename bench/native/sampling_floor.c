/* The floor under the native sampler (ANCHORS.md "Floors": 3.0 % of a core at
 * 1 kHz): a plain C loop that sleeps to absolute deadlines with
 * clock_nanosleep(TIMER_ABSTIME) and does the /proc reads a sampler tick needs,
 * each one pread(2) of a kept-open file:
 *   - every tick: /proc/self/statm, the two clocks a record carries;
 *   - every 10 ms: /proc/meminfo and getrusage (the sampler's refresh policy);
 *   - with --tree PID: also, every tick, the children file of every thread of
 *     every process in PID's tree and each process's statm, the tree found
 *     once at start (the cheapest possible tree walk: no re-listing at all).
 * Measures its own thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over the loop.
 * Built and run by bench/memory.bench.mjs via bench/floors.mjs.
 *
 *   sampling_floor <seconds> <interval_us> [--tree PID]
 *   prints {"ticks":n,"cpuNs":...,"wallNs":...,"percentOfCore":...,"treeFds":k}
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 4096

static long long ns_of(const struct timespec* ts) { return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec; }

static int tree_fds[MAX_FDS];
static int n_tree_fds = 0;

static void add_fd(const char* path) {
  if (n_tree_fds >= MAX_FDS) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) tree_fds[n_tree_fds++] = fd;
}

/* Opens statm and every thread's children file of pid, then recurses. */
static void open_tree(int pid, int depth) {
  char path[320], buf[65536];
  if (depth > 64) return;
  snprintf(path, sizeof path, "/proc/%d/statm", pid);
  add_fd(path);
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* dir = opendir(path);
  if (!dir) return;
  struct dirent* e;
  while ((e = readdir(dir))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%d/task/%s/children", pid, e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n_tree_fds < MAX_FDS) tree_fds[n_tree_fds++] = fd; else close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    for (char* p = buf; *p;) {
      char* end;
      long child = strtol(p, &end, 10);
      if (end == p) break;
      if (child > 0) open_tree((int)child, depth + 1);
      p = end;
    }
  }
  closedir(dir);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: sampling_floor <seconds> <interval_us> [--tree PID]\n");
    return 2;
  }
  double seconds = atof(argv[1]);
  long intervalNs = atol(argv[2]) * 1000L;
  int treePid = argc > 4 && strcmp(argv[3], "--tree") == 0 ? atoi(argv[4]) : 0;
  if (intervalNs <= 0 || seconds <= 0) return 2;
  int statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  int meminfo = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  if (statm < 0 || meminfo < 0) {
    perror("open");
    return 1;
  }
  if (treePid > 0) open_tree(treePid, 0);

  char buf[8192];
  volatile long sink = 0;
  struct timespec cpu0, cpu1, wall0, wall1, deadline, mono, real;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  clock_gettime(CLOCK_MONOTONIC, &wall0);
  deadline = wall0;
  long long endNs = ns_of(&wall0) + (long long)(seconds * 1e9);
  long long lastSystemNs = -1;
  long ticks = 0;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    long long now = ns_of(&mono);
    if (now >= endNs) break;
    if (lastSystemNs < 0 || now - lastSystemNs >= 10000000LL) {
      sink += pread(meminfo, buf, sizeof buf - 1, 0);
      struct rusage ru;
      getrusage(RUSAGE_SELF, &ru);
      sink += ru.ru_maxrss;
      lastSystemNs = now;
    }
    sink += pread(statm, buf, 255, 0);
    for (int i = 0; i < n_tree_fds; ++i) sink += pread(tree_fds[i], buf, sizeof buf - 1, 0);
    sink += real.tv_nsec & 1;
    ++ticks;
    deadline.tv_nsec += intervalNs;
    while (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_nsec -= 1000000000L;
      deadline.tv_sec += 1;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) != 0) {
    }
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  clock_gettime(CLOCK_MONOTONIC, &wall1);
  double cpuNs = (double)(ns_of(&cpu1) - ns_of(&cpu0));
  double wallNs = (double)(ns_of(&wall1) - ns_of(&wall0));
  printf("{\"ticks\":%ld,\"cpuNs\":%.0f,\"wallNs\":%.0f,\"percentOfCore\":%.3f,\"treeFds\":%d}\n", ticks, cpuNs, wallNs,
         100.0 * cpuNs / wallNs, n_tree_fds);
  return sink == -1;
}
