/*
 * A stand-in for libnvidia-ml.so.1, for tests on machines without a GPU.
 * It implements the NVML functions perfprobe calls, with values and faults
 * scripted per test by a key=value file named by $PERFPROBE_FAKE_NVML_SCRIPT,
 * read at each nvmlInit (so one process can re-script between init/shutdown).
 *
 * Script keys (one per line, '#' starts a comment):
 *   init=<code>            nvmlInit result (default 0 = success)
 *   count_error=<code>     nvmlDeviceGetCount result
 *   devices=<n>            device count (default 1, at most 16)
 *   driver=<version>       nvmlSystemGetDriverVersion (default 580.65.06); a
 *                          535.43-535.86 version makes _v3 write the drifted
 *                          32-byte process struct, as those drivers did
 *   gpu<i>.<field>=<value> per device, fields:
 *     name uuid util memutil mem_total mem_reserved mem_used mem_free
 *     (bytes; v1 memory reports used + reserved as used) temp power_mw
 *     power_limit_mw sm_clock mem_clock fan energy_mj
 *     procs=<pid>:<bytes>,...   pid "self" = the loading process, pid
 *                               "children" = each process whose parent is the
 *                               loading process, found at every list call (so a
 *                               command started by `perfprobe run` shows up),
 *                               bytes "na" = NVML_VALUE_NOT_AVAILABLE
 *     unsupported=<f>,...  NOT_SUPPORTED for: util memory memory_v2 temp power
 *                          power_limit clocks fan procs energy name uuid
 *     lost_after=<n>       GPU_IS_LOST for every call once n utilization reads
 *                          (one per sample) have succeeded
 *     handle_error=<code>  nvmlDeviceGetHandleByIndex result
 *     insufficient_first=1 first process-list call answers INSUFFICIENT_SIZE
 *     insufficient_always=<n> every process-list call answers INSUFFICIENT_SIZE
 *                          claiming n entries (a misbehaving driver)
 *                          (as if processes started between sizing and reading)
 *   spin_simple_ns / spin_memory_ns / spin_procs_ns = busy-wait per call, to
 *     mimic a real driver's call latency in benchmarks (default 0)
 *
 * Build variants (same file, -D flags):
 *   FAKE_NVML_V1_ONLY  only the unversioned symbols (nvmlInit, v1 memory,
 *                      v1 process list, no _v2/_v3)
 *   FAKE_NVML_NO_V3    no nvmlDeviceGetComputeRunningProcesses_v3
 *   FAKE_NVML_MISSING  lacks temperature, fan, power limit, energy and every
 *                      process-list symbol
 *   FAKE_NVML_NO_INIT  lacks nvmlInit and nvmlInit_v2
 *
 * fake_nvml_calls(name) returns call counters for tests ("init", "shutdown",
 * "processes", "energy", "util", "memory_v2", "memory_v1"). With
 * $PERFPROBE_FAKE_NVML_LOG set, each nvmlInit and nvmlShutdown also appends a
 * line to that file ("init" / "shutdown util=N processes=N energy=N"), so
 * tests in other languages can count them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#define EXPORT __attribute__((visibility("default")))
#define MAYBE_UNUSED __attribute__((unused))
/* GCC cannot see that check() only hands out pointers into devs[]. */
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#pragma GCC diagnostic ignored "-Warray-bounds"
#define MAX_DEV 16
#define MAX_PROCS 256
#define NA_BYTES (~0ULL)

enum {
  OK = 0, E_UNINIT = 1, E_INVALID = 2, E_NOT_SUPPORTED = 3, E_INSUFFICIENT = 7,
  E_LOST = 15, E_VERSION = 25
};

typedef struct { unsigned int gpu, memory; } util_t;
typedef struct { unsigned long long total, free, used; } mem1_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } mem2_t;
typedef struct { unsigned int pid; unsigned long long used; } proc1_t;
typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; } proc2_t;
typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; unsigned long long cc; } proc3d_t;

typedef struct {
  char name[96], uuid[96];
  unsigned util, memutil, temp, power_mw, power_limit_mw, sm_clock, mem_clock, fan;
  unsigned long long mem_total, mem_reserved, mem_used, mem_free, energy_mj;
  int nprocs, nstatic;
  unsigned long long children_bytes; /* 0: no "children" entry */
  unsigned pids[MAX_PROCS];
  unsigned long long proc_bytes[MAX_PROCS];
  char unsupported[256];
  int lost_after, reads, lost;
  int handle_error;
  int insufficient_first, proc_calls;
  unsigned insufficient_always;
} dev_t_;

static dev_t_ devs[MAX_DEV];
static int ndev, initialized, init_result, count_error;
static char driver[80];
static long spin_simple, spin_memory, spin_procs;
static long calls_init, calls_shutdown, calls_processes, calls_energy, calls_util, calls_mem2, calls_mem1;

static void spin(long ns) {
  if (ns <= 0) return;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do clock_gettime(CLOCK_MONOTONIC, &b);
  while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

static void defaults(void) {
  memset(devs, 0, sizeof devs);
  ndev = 1; init_result = 0; count_error = 0;
  spin_simple = spin_memory = spin_procs = 0;
  strcpy(driver, "580.65.06");
  for (int i = 0; i < MAX_DEV; ++i) {
    dev_t_* d = &devs[i];
    snprintf(d->name, sizeof d->name, "Fake GPU %d", i);
    snprintf(d->uuid, sizeof d->uuid, "GPU-fake-0000-0000-0000-%012d", i);
    d->util = 10 + i; d->memutil = 5 + i; d->temp = 40 + i;
    d->power_mw = 100000 + 1000 * i; d->power_limit_mw = 700000;
    d->sm_clock = 1980; d->mem_clock = 2619; d->fan = 30 + i;
    d->mem_total = 85899345920ULL; d->mem_reserved = 644874240ULL;
    d->mem_used = 1073741824ULL * (i + 1);
    d->mem_free = d->mem_total - d->mem_reserved - d->mem_used;
    d->energy_mj = 123456789ULL + i;
  }
}

static unsigned long long parse_ull(const char* v) { return strtoull(v, NULL, 10); }

static void parse_procs(dev_t_* d, const char* v) {
  d->nprocs = 0;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", v);
  for (char* tok = strtok(buf, ","); tok && d->nprocs < MAX_PROCS; tok = strtok(NULL, ",")) {
    char* colon = strchr(tok, ':');
    if (!colon) continue;
    *colon = 0;
    unsigned long long bytes = strcmp(colon + 1, "na") == 0 ? NA_BYTES : parse_ull(colon + 1);
    if (strcmp(tok, "children") == 0) {
      d->children_bytes = bytes;
      continue;
    }
    d->pids[d->nprocs] = strcmp(tok, "self") == 0 ? (unsigned)getpid() : (unsigned)strtoul(tok, NULL, 10);
    d->proc_bytes[d->nprocs] = bytes;
    d->nprocs++;
  }
  d->nstatic = d->nprocs;
}

/* Appends the loading process's children (from /proc) after the scripted entries. */
static void refresh_children(dev_t_* d) {
  d->nprocs = d->nstatic;
  if (!d->children_bytes) return;
  DIR* dir = opendir("/proc");
  if (!dir) return;
  const unsigned self = (unsigned)getpid();
  struct dirent* e;
  while ((e = readdir(dir)) != NULL && d->nprocs < MAX_PROCS) {
    char* end;
    unsigned long pid = strtoul(e->d_name, &end, 10);
    if (*end || pid == 0) continue;
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%lu/stat", pid);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[len] = 0;
    /* Fields after the parenthesised command name: state ppid ... */
    const char* close = strrchr(stat, ')');
    unsigned ppid = 0;
    if (close && sscanf(close + 1, " %*c %u", &ppid) == 1 && ppid == self) {
      d->pids[d->nprocs] = (unsigned)pid;
      d->proc_bytes[d->nprocs] = d->children_bytes;
      d->nprocs++;
    }
  }
  closedir(dir);
}

static void set_field(dev_t_* d, const char* k, const char* v) {
  if (!strcmp(k, "name")) snprintf(d->name, sizeof d->name, "%s", v);
  else if (!strcmp(k, "uuid")) snprintf(d->uuid, sizeof d->uuid, "%s", v);
  else if (!strcmp(k, "util")) d->util = (unsigned)parse_ull(v);
  else if (!strcmp(k, "memutil")) d->memutil = (unsigned)parse_ull(v);
  else if (!strcmp(k, "mem_total")) d->mem_total = parse_ull(v);
  else if (!strcmp(k, "mem_reserved")) d->mem_reserved = parse_ull(v);
  else if (!strcmp(k, "mem_used")) d->mem_used = parse_ull(v);
  else if (!strcmp(k, "mem_free")) d->mem_free = parse_ull(v);
  else if (!strcmp(k, "temp")) d->temp = (unsigned)parse_ull(v);
  else if (!strcmp(k, "power_mw")) d->power_mw = (unsigned)parse_ull(v);
  else if (!strcmp(k, "power_limit_mw")) d->power_limit_mw = (unsigned)parse_ull(v);
  else if (!strcmp(k, "sm_clock")) d->sm_clock = (unsigned)parse_ull(v);
  else if (!strcmp(k, "mem_clock")) d->mem_clock = (unsigned)parse_ull(v);
  else if (!strcmp(k, "fan")) d->fan = (unsigned)parse_ull(v);
  else if (!strcmp(k, "energy_mj")) d->energy_mj = parse_ull(v);
  else if (!strcmp(k, "procs")) parse_procs(d, v);
  else if (!strcmp(k, "unsupported")) snprintf(d->unsupported, sizeof d->unsupported, ",%s,", v);
  else if (!strcmp(k, "lost_after")) d->lost_after = (int)parse_ull(v);
  else if (!strcmp(k, "handle_error")) d->handle_error = (int)parse_ull(v);
  else if (!strcmp(k, "insufficient_first")) d->insufficient_first = (int)parse_ull(v);
  else if (!strcmp(k, "insufficient_always")) d->insufficient_always = (unsigned)parse_ull(v);
}

static void load_script(void) {
  defaults();
  const char* path = getenv("PERFPROBE_FAKE_NVML_SCRIPT");
  if (!path || !*path) return;
  FILE* f = fopen(path, "r");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    char* hash = strchr(line, '#');
    if (hash) *hash = 0;
    line[strcspn(line, "\r\n")] = 0;
    char* eq = strchr(line, '=');
    if (!eq) continue;
    *eq = 0;
    const char* k = line;
    const char* v = eq + 1;
    while (*k == ' ') ++k;
    if (!strcmp(k, "init")) init_result = (int)strtol(v, NULL, 10);
    else if (!strcmp(k, "count_error")) count_error = (int)strtol(v, NULL, 10);
    else if (!strcmp(k, "devices")) { ndev = (int)strtol(v, NULL, 10); if (ndev > MAX_DEV) ndev = MAX_DEV; }
    else if (!strcmp(k, "driver")) snprintf(driver, sizeof driver, "%s", v);
    else if (!strcmp(k, "spin_simple_ns")) spin_simple = strtol(v, NULL, 10);
    else if (!strcmp(k, "spin_memory_ns")) spin_memory = strtol(v, NULL, 10);
    else if (!strcmp(k, "spin_procs_ns")) spin_procs = strtol(v, NULL, 10);
    else if (!strncmp(k, "gpu", 3)) {
      char* dot = strchr(k, '.');
      if (!dot) continue;
      int i = atoi(k + 3);
      if (i >= 0 && i < MAX_DEV) set_field(&devs[i], dot + 1, v);
    }
  }
  fclose(f);
}

static int unsupported(const dev_t_* d, const char* field) {
  char key[64];
  snprintf(key, sizeof key, ",%s,", field);
  return strstr(d->unsupported, key) != NULL;
}

/* Common checks for a device call: initialised, valid handle, lost. */
static int check(void* handle, dev_t_** out) {
  if (!initialized) return E_UNINIT;
  dev_t_* d = (dev_t_*)handle;
  if (d < devs || d >= devs + ndev) return E_INVALID;
  if (d->lost) return E_LOST;
  *out = d;
  return OK;
}

#define DEV_CALL(handle, field)                      \
  dev_t_* d = NULL;                                  \
  int rc_ = check(handle, &d);                       \
  if (rc_) return rc_;                               \
  if (field && unsupported(d, field)) return E_NOT_SUPPORTED;

/* ---- library ---- */

static void log_line(const char* what) {
  const char* path = getenv("PERFPROBE_FAKE_NVML_LOG");
  if (!path || !*path) return;
  FILE* f = fopen(path, "a");
  if (!f) return;
  if (strcmp(what, "shutdown") == 0)
    fprintf(f, "shutdown util=%ld processes=%ld energy=%ld\n", calls_util, calls_processes, calls_energy);
  else
    fprintf(f, "%s\n", what);
  fclose(f);
}

MAYBE_UNUSED static int do_init(void) {
  load_script();
  calls_init++;
  log_line("init");
  if (init_result) return init_result;
  initialized++;
  return OK;
}

#ifndef FAKE_NVML_NO_INIT
EXPORT int nvmlInit(void) { return do_init(); }
#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlInit_v2(void) { return do_init(); }
#endif
#endif

EXPORT int nvmlShutdown(void) {
  calls_shutdown++;
  if (!initialized) return E_UNINIT;
  initialized--;
  log_line("shutdown");
  return OK;
}

EXPORT int nvmlSystemGetDriverVersion(char* buf, unsigned len) {
  if (!initialized) return E_UNINIT;
  if (len < strlen(driver) + 1) return E_INSUFFICIENT;
  strcpy(buf, driver);
  return OK;
}

EXPORT int nvmlSystemGetNVMLVersion(char* buf, unsigned len) {
  if (!initialized) return E_UNINIT;
  char v[96];
  snprintf(v, sizeof v, "12.%s", driver);
  if (len < strlen(v) + 1) return E_INSUFFICIENT;
  strcpy(buf, v);
  return OK;
}

static int get_count(unsigned* n) {
  if (!initialized) return E_UNINIT;
  if (count_error) return count_error;
  *n = (unsigned)ndev;
  return OK;
}
EXPORT int nvmlDeviceGetCount(unsigned* n) { return get_count(n); }
#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlDeviceGetCount_v2(unsigned* n) { return get_count(n); }
#endif

static int get_handle(unsigned i, void** h) {
  if (!initialized) return E_UNINIT;
  if (i >= (unsigned)ndev) return E_INVALID;
  if (devs[i].handle_error) return devs[i].handle_error;
  *h = &devs[i];
  return OK;
}
EXPORT int nvmlDeviceGetHandleByIndex(unsigned i, void** h) { return get_handle(i, h); }
#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** h) { return get_handle(i, h); }
#endif

/* ---- static facts ---- */

static int copy_string(const char* s, char* buf, unsigned len) {
  size_t n = strnlen(s, 95) + 1;
  if (len < n) return E_INSUFFICIENT;
  memcpy(buf, s, n - 1);
  buf[n - 1] = 0;
  return OK;
}
EXPORT int nvmlDeviceGetName(void* h, char* buf, unsigned len) {
  DEV_CALL(h, "name");
  return copy_string(d->name, buf, len);
}
EXPORT int nvmlDeviceGetUUID(void* h, char* buf, unsigned len) {
  DEV_CALL(h, "uuid");
  return copy_string(d->uuid, buf, len);
}
#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetEnforcedPowerLimit(void* h, unsigned* mw) {
  DEV_CALL(h, "power_limit");
  spin(spin_simple);
  *mw = d->power_limit_mw;
  return OK;
}
#endif

/* ---- live readings ---- */

EXPORT int nvmlDeviceGetUtilizationRates(void* h, util_t* u) {
  DEV_CALL(h, NULL);
  calls_util++;
  if (d->lost_after > 0 && d->reads >= d->lost_after) {
    d->lost = 1;
    return E_LOST;
  }
  if (unsupported(d, "util")) return E_NOT_SUPPORTED;
  spin(spin_simple);
  d->reads++;
  u->gpu = d->util;
  u->memory = d->memutil;
  return OK;
}

EXPORT int nvmlDeviceGetMemoryInfo(void* h, mem1_t* m) {
  DEV_CALL(h, "memory");
  calls_mem1++;
  spin(spin_memory);
  m->total = d->mem_total;
  m->free = d->mem_free;
  m->used = d->mem_used + d->mem_reserved; /* v1 counts driver-reserved memory as used */
  return OK;
}

#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlDeviceGetMemoryInfo_v2(void* h, mem2_t* m) {
  DEV_CALL(h, "memory");
  calls_mem2++;
  if (unsupported(d, "memory_v2")) return E_NOT_SUPPORTED;
  if (m->version != ((unsigned)sizeof(mem2_t) | (2u << 24))) return E_VERSION;
  spin(spin_memory);
  m->total = d->mem_total;
  m->reserved = d->mem_reserved;
  m->free = d->mem_free;
  m->used = d->mem_used;
  return OK;
}
#endif

#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetTemperature(void* h, int sensor, unsigned* t) {
  DEV_CALL(h, "temp");
  if (sensor != 0) return E_INVALID;
  spin(spin_simple);
  *t = d->temp;
  return OK;
}
#endif

EXPORT int nvmlDeviceGetPowerUsage(void* h, unsigned* mw) {
  DEV_CALL(h, "power");
  spin(spin_simple);
  *mw = d->power_mw;
  return OK;
}

EXPORT int nvmlDeviceGetClockInfo(void* h, int type, unsigned* mhz) {
  DEV_CALL(h, "clocks");
  spin(spin_simple);
  if (type == 1) *mhz = d->sm_clock;
  else if (type == 2) *mhz = d->mem_clock;
  else return E_INVALID;
  return OK;
}

#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetFanSpeed(void* h, unsigned* pct) {
  DEV_CALL(h, "fan");
  spin(spin_simple);
  *pct = d->fan;
  return OK;
}

EXPORT int nvmlDeviceGetTotalEnergyConsumption(void* h, unsigned long long* mj) {
  DEV_CALL(h, "energy");
  calls_energy++;
  *mj = d->energy_mj;
  return OK;
}
#endif

/* ---- process lists ---- */

MAYBE_UNUSED static int drift_driver(void) {
  int major = 0, minor = 0;
  return sscanf(driver, "%d.%d", &major, &minor) == 2 && major == 535 && minor >= 43 && minor <= 86;
}

/* layout: 1 = v1 (16 bytes), 2 = v2/v3 (24), 3 = drifted v3 (32) */
MAYBE_UNUSED static int list_processes(void* h, unsigned* count, void* infos, int layout) {
  DEV_CALL(h, "procs");
  calls_processes++;
  if (!count) return E_INVALID;
  spin(spin_procs);
  d->proc_calls++;
  refresh_children(d);
  unsigned n = (unsigned)d->nprocs;
  if (d->insufficient_always) {
    *count = d->insufficient_always;
    return E_INSUFFICIENT;
  }
  if (d->insufficient_first && d->proc_calls == 1 && *count > 0) {
    *count = n + 2;
    return E_INSUFFICIENT;
  }
  if (*count < n || (n > 0 && !infos)) {
    *count = n;
    return E_INSUFFICIENT;
  }
  for (unsigned i = 0; i < n; ++i) {
    if (layout == 1) {
      proc1_t* p = (proc1_t*)infos + i;
      p->pid = d->pids[i]; p->used = d->proc_bytes[i];
    } else if (layout == 2) {
      proc2_t* p = (proc2_t*)infos + i;
      p->pid = d->pids[i]; p->used = d->proc_bytes[i]; p->gi = 0xFFFFFFFFu; p->ci = 0xFFFFFFFFu;
    } else {
      proc3d_t* p = (proc3d_t*)infos + i;
      p->pid = d->pids[i]; p->used = d->proc_bytes[i]; p->gi = 0xFFFFFFFFu; p->ci = 0xFFFFFFFFu; p->cc = 0;
    }
  }
  *count = n;
  return OK;
}

#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetComputeRunningProcesses(void* h, unsigned* count, void* infos) {
  return list_processes(h, count, infos, 1);
}
#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlDeviceGetComputeRunningProcesses_v2(void* h, unsigned* count, void* infos) {
  return list_processes(h, count, infos, 2);
}
#ifndef FAKE_NVML_NO_V3
EXPORT int nvmlDeviceGetComputeRunningProcesses_v3(void* h, unsigned* count, void* infos) {
  return list_processes(h, count, infos, drift_driver() ? 3 : 2);
}
#endif
#endif
#endif

/* ---- test hook ---- */

EXPORT long fake_nvml_calls(const char* name) {
  if (!strcmp(name, "init")) return calls_init;
  if (!strcmp(name, "shutdown")) return calls_shutdown;
  if (!strcmp(name, "processes")) return calls_processes;
  if (!strcmp(name, "energy")) return calls_energy;
  if (!strcmp(name, "util")) return calls_util;
  if (!strcmp(name, "memory_v2")) return calls_mem2;
  if (!strcmp(name, "memory_v1")) return calls_mem1;
  return -1;
}
