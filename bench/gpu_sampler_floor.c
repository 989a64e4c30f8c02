/*
 * The floor for perfprobe's 1 kHz GPU sampler (bench/gpu.bench.mjs): a plain
 * C loop that makes the same NVML calls per GPU per sample as the native
 * sampler's block (utilization, memory v2, TemperatureV, power, SM and memory
 * clocks, fan, compute processes, P-state, clocks event reasons, the memory
 * temperature field, encoder, decoder; PCIe link and ECC once a second) on
 * absolute clock_nanosleep deadlines, and reports its own CPU time.
 *
 *   gpu_sampler_floor <libnvidia-ml path> <gpus (0 = sleep only)> <seconds> <interval_us>
 *   -> {"cpuUs":..., "wallUs":..., "samples":...}
 *
 * Built and run by the benchmark with `cc -O2`; declarations are its own
 * (the ABI of NVML's public API reference), no nvml.h needed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef void* dev_t_;
typedef struct { unsigned gpu, memory; } util_t;
typedef struct { unsigned version; unsigned long long total, reserved, free, used; } mem2_t;
typedef struct { unsigned version; int sensor; int temperature; } temp_t;
typedef struct { unsigned id, scope; long long ts, latency; int type; int ret; unsigned long long value; } field_t;
typedef struct { unsigned pid; unsigned long long used; unsigned gi, ci; } proc_t;

#define SYM(name) dlsym(lib, name)

static long long now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 5) return 2;
  const int gpus = atoi(argv[2]);
  const double seconds = atof(argv[3]);
  const long interval = atol(argv[4]) * 1000L;
  void* lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) return 3;
  int (*init)(void) = (int (*)(void))SYM("nvmlInit_v2");
  int (*handle)(unsigned, dev_t_*) = (int (*)(unsigned, dev_t_*))SYM("nvmlDeviceGetHandleByIndex_v2");
  int (*util)(dev_t_, util_t*) = (int (*)(dev_t_, util_t*))SYM("nvmlDeviceGetUtilizationRates");
  int (*mem)(dev_t_, mem2_t*) = (int (*)(dev_t_, mem2_t*))SYM("nvmlDeviceGetMemoryInfo_v2");
  int (*temp)(dev_t_, temp_t*) = (int (*)(dev_t_, temp_t*))SYM("nvmlDeviceGetTemperatureV");
  int (*power)(dev_t_, unsigned*) = (int (*)(dev_t_, unsigned*))SYM("nvmlDeviceGetPowerUsage");
  int (*clock)(dev_t_, int, unsigned*) = (int (*)(dev_t_, int, unsigned*))SYM("nvmlDeviceGetClockInfo");
  int (*fan)(dev_t_, unsigned*) = (int (*)(dev_t_, unsigned*))SYM("nvmlDeviceGetFanSpeed");
  int (*procs)(dev_t_, unsigned*, proc_t*) = (int (*)(dev_t_, unsigned*, proc_t*))SYM("nvmlDeviceGetComputeRunningProcesses_v3");
  int (*pstate)(dev_t_, unsigned*) = (int (*)(dev_t_, unsigned*))SYM("nvmlDeviceGetPerformanceState");
  int (*reasons)(dev_t_, unsigned long long*) = (int (*)(dev_t_, unsigned long long*))SYM("nvmlDeviceGetCurrentClocksEventReasons");
  int (*fields)(dev_t_, int, field_t*) = (int (*)(dev_t_, int, field_t*))SYM("nvmlDeviceGetFieldValues");
  int (*enc)(dev_t_, unsigned*, unsigned*) = (int (*)(dev_t_, unsigned*, unsigned*))SYM("nvmlDeviceGetEncoderUtilization");
  int (*dec)(dev_t_, unsigned*, unsigned*) = (int (*)(dev_t_, unsigned*, unsigned*))SYM("nvmlDeviceGetDecoderUtilization");
  int (*gen)(dev_t_, unsigned*) = (int (*)(dev_t_, unsigned*))SYM("nvmlDeviceGetCurrPcieLinkGeneration");
  int (*width)(dev_t_, unsigned*) = (int (*)(dev_t_, unsigned*))SYM("nvmlDeviceGetCurrPcieLinkWidth");
  int (*eccMode)(dev_t_, int*, int*) = (int (*)(dev_t_, int*, int*))SYM("nvmlDeviceGetEccMode");
  int (*ecc)(dev_t_, int, int, unsigned long long*) = (int (*)(dev_t_, int, int, unsigned long long*))SYM("nvmlDeviceGetTotalEccErrors");
  if (!init || !handle || !util || !mem || !temp || !power || !clock || !fan || !procs || !pstate || !reasons ||
      !fields || !enc || !dec || !gen || !width || !eccMode || !ecc || init() != 0)
    return 4;
  dev_t_ h[16];
  for (int i = 0; i < gpus && i < 16; ++i)
    if (handle((unsigned)i, &h[i]) != 0) return 5;
  static proc_t buf[64];
  long long slowAt[16] = {0};
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  const long long start = now_ns(CLOCK_MONOTONIC), end = start + (long long)(seconds * 1e9);
  long long deadline = start;
  long samples = 0;
  while (now_ns(CLOCK_MONOTONIC) < end) {
    for (int i = 0; i < gpus; ++i) {
      util_t u; mem2_t m = {0}; temp_t t = {0}; unsigned v, p; unsigned long long ull;
      field_t f = {0};
      util(h[i], &u);
      m.version = (unsigned)sizeof m | (2u << 24);
      mem(h[i], &m);
      t.version = (unsigned)sizeof t | (1u << 24);
      temp(h[i], &t);
      power(h[i], &v);
      clock(h[i], 1, &v);
      clock(h[i], 2, &v);
      fan(h[i], &v);
      unsigned count = 64;
      procs(h[i], &count, buf);
      pstate(h[i], &v);
      reasons(h[i], &ull);
      f.id = 82;
      fields(h[i], 1, &f);
      enc(h[i], &v, &p);
      dec(h[i], &v, &p);
      long long now = now_ns(CLOCK_MONOTONIC);
      if (slowAt[i] == 0 || now - slowAt[i] >= 1000000000LL) {
        slowAt[i] = now;
        int cur = 0, pend = 0;
        gen(h[i], &v);
        width(h[i], &v);
        if (eccMode(h[i], &cur, &pend) == 0 && cur == 1)
          for (int e = 0; e < 2; ++e)
            for (int c = 0; c < 2; ++c) ecc(h[i], e, c, &ull);
      }
    }
    ++samples;
    deadline += interval;
    long long now = now_ns(CLOCK_MONOTONIC);
    if (deadline <= now) deadline += ((now - deadline) / interval + 1) * interval;
    struct timespec ts = {(time_t)(deadline / 1000000000LL), (long)(deadline % 1000000000LL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
  }
  getrusage(RUSAGE_SELF, &r1);
  double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1e6 + (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
               (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 + (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
  printf("{\"cpuUs\":%.0f,\"wallUs\":%.0f,\"samples\":%ld}\n", cpu, (double)(now_ns(CLOCK_MONOTONIC) - start) / 1e3, samples);
  return 0;
}
