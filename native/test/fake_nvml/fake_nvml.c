/*
 * A stand-in for libnvidia-ml.so.1, for tests on machines without a GPU.
 * It implements the NVML functions perfprobe calls, with values and faults
 * scripted per test by a key=value file named by $PERFPROBE_FAKE_NVML_SCRIPT,
 * read at each nvmlInit (so one process can re-script between init/shutdown).
 * One library from every .c file here: this one (script, library, the
 * sampled basics, compute lists) and fake_nvml_depth.c (the GPU-depth calls
 * and event sets); fake_nvml.h is their shared state.
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
 *                          temp_v (only nvmlDeviceGetTemperatureV refuses)
 *                          pstate reasons mem_temp (per field, the call itself
 *                          succeeds) enc dec ecc (the mode) ecc_volatile
 *                          ecc_aggregate pcie_gen pcie_width pcie_throughput
 *                          gprocs putil mig
 *     lost_after=<n>       GPU_IS_LOST for every call once n utilization reads
 *                          (one per sample) have succeeded
 *     handle_error=<code>  nvmlDeviceGetHandleByIndex result
 *     insufficient_first=1 first process-list call answers INSUFFICIENT_SIZE
 *     insufficient_always=<n> every process-list call answers INSUFFICIENT_SIZE
 *                          claiming n entries (a misbehaving driver)
 *                          (as if processes started between sizing and reading)
 *     GPU depth (issue 13), per device:
 *     pstate=<n>           nvmlDeviceGetPerformanceState (default 0; 32 = unknown)
 *     clocks_reasons=<mask> current clocks event reasons (default 0)
 *     mem_temp=<c>         NVML_FI_DEV_MEMORY_TEMP field value (default 70 + index)
 *     tempv_mismatch=1     nvmlDeviceGetTemperatureV answers ARGUMENT_VERSION_MISMATCH
 *     enc_util / dec_util  encoder / decoder utilization percent (default 0)
 *     ecc=<0|1> ecc_pending=<0|1>  ECC mode, current and pending (default 1, pending = current)
 *     ecc_cv / ecc_uv / ecc_ca / ecc_ua  ECC counts: corrected/uncorrected x volatile/aggregate
 *     pcie_gen / pcie_width          current PCIe link (default 5 / 16)
 *     pcie_tx_kbps / pcie_rx_kbps    nvmlDeviceGetPcieThroughput (KB/s)
 *     gprocs=<pid>:<bytes>,...       graphics processes, same format as procs
 *     ginsufficient_first=1          first graphics-list call answers INSUFFICIENT_SIZE
 *     procs / gprocs entries may add :<gpuInstanceId>:<computeInstanceId>
 *     putil=<pid>:<sm>:<mem>:<enc>:<dec>@<timestamp_us>,...  process utilization
 *                          samples (pid "self" allowed); a call returns those newer
 *                          than lastSeenTimeStamp, NOT_FOUND when none; a call with
 *                          no buffer answers INSUFFICIENT_SIZE with the sample count
 *     putil_insufficient_first=1  the first call with a buffer answers INSUFFICIENT_SIZE
 *     mig=<0|1> mig_pending=<0|1>    MIG mode (default 0; with mig=1, process and
 *                          encoder/decoder utilization answer NOT_SUPPORTED, as NVML documents)
 *     mig_devices=<gi>:<ci>:<total_bytes>:<used_bytes>[:<uuid>],...  MIG devices
 *     supported_events=<mask>  nvmlDeviceGetSupportedEventTypes (default 0xf:
 *                          single/double-bit ECC, P-state, Xid; no clock events)
 *     register_error=<code>    nvmlDeviceRegisterEvents result
 *     events=<type>[:<data>[:<gi>:<ci>]][@<delay_ms>],...  events queued for every
 *                          event set the device is registered in, type one of xid
 *                          sbe dbe pstate clock; each due delay_ms after the
 *                          previous one (the first: after registration)
 *   event_set_error=<code>   nvmlEventSetCreate result
 *   event_wait_error=<code>  every nvmlEventSetWait(_v2) answers this at once
 *   spin_simple_ns / spin_memory_ns / spin_procs_ns = busy-wait per call, to
 *     mimic a real driver's call latency in benchmarks (default 0);
 *     spin_pstate_ns / spin_reasons_ns / spin_fields_ns for those calls
 *     (default: spin_simple_ns)
 *
 * Build variants (same file, -D flags):
 *   FAKE_NVML_V1_ONLY  only the unversioned symbols (nvmlInit, v1 memory,
 *                      v1 process list, no _v2/_v3)
 *   FAKE_NVML_NO_V3    no nvmlDeviceGetComputeRunningProcesses_v3
 *   FAKE_NVML_MISSING  lacks temperature, fan, power limit, energy, every
 *                      process-list symbol and every GPU-depth symbol (P-state,
 *                      clocks reasons, field values, TemperatureV, codecs, ECC,
 *                      PCIe, process utilization, MIG, events)
 *   FAKE_NVML_NO_INIT  lacks nvmlInit and nvmlInit_v2
 *   FAKE_NVML_OLD_DRIVER  a pre-nvml.h-13 driver: no nvmlDeviceGetTemperatureV,
 *                      no nvmlDeviceGetCurrentClocksEventReasons (only
 *                      ...ThrottleReasons), no nvmlEventSetWait_v2 (only the
 *                      unversioned wait, which writes 3 fields)
 *
 * fake_nvml_calls(name) returns call counters for tests ("init", "shutdown",
 * "processes", "energy", "util", "memory_v2", "memory_v1", "temperature",
 * "temperature_v", "pstate", "reasons", "field_values", "field_energy",
 * "encoder", "decoder", "ecc_mode", "ecc_counts", "pcie_link",
 * "pcie_throughput", "graphics", "process_util", "mig_mode", "event_set_create",
 * "event_set_free", "event_register", "event_wait", "events_delivered",
 * "event_sets_live"). With $PERFPROBE_FAKE_NVML_LOG set, each nvmlInit and
 * nvmlShutdown also appends a line to that file ("init" / "shutdown util=N
 * processes=N energy=N"), and so do nvmlEventSetCreate and
 * nvmlEventSetFree ("event_set_create" / "event_set_free"), so tests in other
 * languages can count them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "fake_nvml.h"

dev_t_ devs[MAX_DEV];
int ndev, initialized, event_set_error, event_wait_error;
static int init_result, count_error;
char driver[80];
/* 535.43-535.86 (the drifted _v3 layout), set by load_script: the process-list calls ask on every call. */
static int driver_drift = 0;
long spin_simple, spin_memory, spin_procs, spin_pstate, spin_reasons, spin_fields;
long calls_processes;
static long calls_init, calls_shutdown, calls_energy, calls_util, calls_mem2, calls_mem1, calls_temp, calls_temp_v;
long calls_pstate, calls_reasons, calls_fields, calls_field_energy, calls_enc, calls_dec, calls_ecc_mode,
    calls_ecc_counts, calls_pcie_link, calls_pcie_tp, calls_graphics, calls_putil, calls_mig_mode, calls_set_create,
    calls_set_free, calls_register, calls_wait, calls_delivered, sets_live;

void fake_spin(long ns) {
  if (ns <= 0) return;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do clock_gettime(CLOCK_MONOTONIC, &b);
  while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

double fake_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void defaults(void) {
  memset(devs, 0, sizeof devs);
  ndev = 1; init_result = 0; count_error = 0; event_set_error = 0; event_wait_error = 0;
  spin_simple = spin_memory = spin_procs = 0;
  spin_pstate = spin_reasons = spin_fields = -1;
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
    d->mem_temp = 70 + i; d->pcie_gen = 5; d->pcie_width = 16;
    d->ecc = 1; d->ecc_pending = -1;
    d->supported_events = 0xf;
  }
}

/* Decimal, or hexadecimal with 0x (event and reason masks). */
static unsigned long long parse_ull(const char* v) {
  return strtoull(v, NULL, (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) ? 16 : 10);
}

static unsigned parse_pid(const char* tok) {
  return strcmp(tok, "self") == 0 ? (unsigned)getpid() : (unsigned)strtoul(tok, NULL, 10);
}

/* pid:bytes[:gi:ci],... ("self", "children", "na" as documented above) */
static void parse_procs(plist_t* l, const char* v) {
  l->n = 0;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", v);
  char* save = NULL;
  for (char* tok = strtok_r(buf, ",", &save); tok && l->n < MAX_PROCS; tok = strtok_r(NULL, ",", &save)) {
    char* f[4] = {tok, NULL, NULL, NULL};
    for (int k = 1; k < 4; ++k) {
      char* c = f[k - 1] ? strchr(f[k - 1], ':') : NULL;
      if (!c) break;
      *c = 0;
      f[k] = c + 1;
    }
    if (!f[1]) continue;
    unsigned long long bytes = strcmp(f[1], "na") == 0 ? NA_BYTES : parse_ull(f[1]);
    if (strcmp(f[0], "children") == 0) {
      l->children_bytes = bytes;
      continue;
    }
    l->pids[l->n] = parse_pid(f[0]);
    l->bytes[l->n] = bytes;
    l->gi[l->n] = f[2] ? (unsigned)parse_ull(f[2]) : NO_ID;
    l->ci[l->n] = f[3] ? (unsigned)parse_ull(f[3]) : NO_ID;
    l->n++;
  }
  l->nstatic = l->n;
}

/* pid:sm:mem:enc:dec@ts,... */
static void parse_putil(dev_t_* d, const char* v) {
  d->nputil = 0;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", v);
  char* save = NULL;
  for (char* tok = strtok_r(buf, ",", &save); tok && d->nputil < MAX_PROCS; tok = strtok_r(NULL, ",", &save)) {
    putil_t* p = &d->putil[d->nputil];
    char pid[32] = {0};
    unsigned long long ts = 0;
    char* at = strchr(tok, '@');
    if (at) { *at = 0; ts = parse_ull(at + 1); }
    if (sscanf(tok, "%31[^:]:%u:%u:%u:%u", pid, &p->sm, &p->mem, &p->enc, &p->dec) != 5) continue;
    p->pid = parse_pid(pid);
    p->ts = ts;
    d->nputil++;
  }
}

static void parse_mig(dev_t_* d, int index, const char* v) {
  d->nmig = 0;
  char buf[2048];
  snprintf(buf, sizeof buf, "%s", v);
  char* save = NULL;
  for (char* tok = strtok_r(buf, ",", &save); tok && d->nmig < MAX_MIG; tok = strtok_r(NULL, ",", &save)) {
    mig_t* m = &d->migs[d->nmig];
    char uuid[96] = {0};
    int got = sscanf(tok, "%u:%u:%llu:%llu:%95s", &m->gi, &m->ci, &m->total, &m->used, uuid);
    if (got < 4) continue;
    m->parent = index;
    if (got == 5) snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    else snprintf(m->uuid, sizeof m->uuid, "MIG-fake-%d-%d", index, d->nmig);
    d->nmig++;
  }
}

static unsigned long long event_bit(const char* t) {
  if (!strcmp(t, "sbe")) return 0x1;
  if (!strcmp(t, "dbe")) return 0x2;
  if (!strcmp(t, "pstate")) return 0x4;
  if (!strcmp(t, "xid")) return 0x8;
  if (!strcmp(t, "clock")) return 0x10;
  return 0;
}

/* type[:data[:gi:ci]][@delay_ms],... */
static void parse_events(dev_t_* d, const char* v) {
  d->nevents = 0;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", v);
  char* save = NULL;
  for (char* tok = strtok_r(buf, ",", &save); tok && d->nevents < MAX_EVENTS; tok = strtok_r(NULL, ",", &save)) {
    event_t* e = &d->events[d->nevents];
    e->delay_ms = 0;
    char* at = strchr(tok, '@');
    if (at) { *at = 0; e->delay_ms = strtol(at + 1, NULL, 10); }
    char type[16] = {0};
    unsigned long long data = 0;
    unsigned gi = NO_ID, ci = NO_ID;
    if (sscanf(tok, "%15[^:]:%llu:%u:%u", type, &data, &gi, &ci) < 1) continue;
    e->type = event_bit(type);
    if (!e->type) continue;
    e->data = data; e->gi = gi; e->ci = ci;
    d->nevents++;
  }
}

/* Appends the loading process's children (from /proc) after the scripted entries. */
void fake_refresh_children(plist_t* l) {
  l->n = l->nstatic;
  if (!l->children_bytes) return;
  DIR* dir = opendir("/proc");
  if (!dir) return;
  const unsigned self = (unsigned)getpid();
  struct dirent* e;
  while ((e = readdir(dir)) != NULL && l->n < MAX_PROCS) {
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
      l->pids[l->n] = (unsigned)pid;
      l->bytes[l->n] = l->children_bytes;
      l->gi[l->n] = l->ci[l->n] = NO_ID;
      l->n++;
    }
  }
  closedir(dir);
}

static void set_field(dev_t_* d, int index, const char* k, const char* v) {
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
  else if (!strcmp(k, "procs")) parse_procs(&d->compute, v);
  else if (!strcmp(k, "gprocs")) parse_procs(&d->graphics, v);
  else if (!strcmp(k, "unsupported")) snprintf(d->unsupported, sizeof d->unsupported, ",%s,", v);
  else if (!strcmp(k, "lost_after")) d->lost_after = (int)parse_ull(v);
  else if (!strcmp(k, "handle_error")) d->handle_error = (int)parse_ull(v);
  else if (!strcmp(k, "insufficient_first")) d->compute.insufficient_first = (int)parse_ull(v);
  else if (!strcmp(k, "ginsufficient_first")) d->graphics.insufficient_first = (int)parse_ull(v);
  else if (!strcmp(k, "insufficient_always")) d->insufficient_always = (unsigned)parse_ull(v);
  else if (!strcmp(k, "pstate")) d->pstate = (unsigned)parse_ull(v);
  else if (!strcmp(k, "clocks_reasons")) d->clocks_reasons = parse_ull(v);
  else if (!strcmp(k, "mem_temp")) d->mem_temp = (unsigned)parse_ull(v);
  else if (!strcmp(k, "tempv_mismatch")) d->tempv_mismatch = (int)parse_ull(v);
  else if (!strcmp(k, "enc_util")) d->enc_util = (unsigned)parse_ull(v);
  else if (!strcmp(k, "dec_util")) d->dec_util = (unsigned)parse_ull(v);
  else if (!strcmp(k, "ecc")) d->ecc = (int)parse_ull(v);
  else if (!strcmp(k, "ecc_pending")) d->ecc_pending = (int)parse_ull(v);
  else if (!strcmp(k, "ecc_cv")) d->ecc_cv = parse_ull(v);
  else if (!strcmp(k, "ecc_uv")) d->ecc_uv = parse_ull(v);
  else if (!strcmp(k, "ecc_ca")) d->ecc_ca = parse_ull(v);
  else if (!strcmp(k, "ecc_ua")) d->ecc_ua = parse_ull(v);
  else if (!strcmp(k, "pcie_gen")) d->pcie_gen = (unsigned)parse_ull(v);
  else if (!strcmp(k, "pcie_width")) d->pcie_width = (unsigned)parse_ull(v);
  else if (!strcmp(k, "pcie_tx_kbps")) d->pcie_tx = (unsigned)parse_ull(v);
  else if (!strcmp(k, "pcie_rx_kbps")) d->pcie_rx = (unsigned)parse_ull(v);
  else if (!strcmp(k, "putil")) parse_putil(d, v);
  else if (!strcmp(k, "putil_insufficient_first")) d->putil_insufficient_first = (int)parse_ull(v);
  else if (!strcmp(k, "mig")) d->mig = (int)parse_ull(v);
  else if (!strcmp(k, "mig_pending")) d->mig_pending = (int)parse_ull(v);
  else if (!strcmp(k, "mig_devices")) parse_mig(d, index, v);
  else if (!strcmp(k, "supported_events")) d->supported_events = parse_ull(v);
  else if (!strcmp(k, "register_error")) d->register_error = (int)parse_ull(v);
  else if (!strcmp(k, "events")) parse_events(d, v);
}

static void load_script(void) {
  defaults();
  const char* path = getenv("PERFPROBE_FAKE_NVML_SCRIPT");
  if (path && *path) {
    FILE* f = fopen(path, "r");
    if (f) {
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
        else if (!strcmp(k, "spin_pstate_ns")) spin_pstate = strtol(v, NULL, 10);
        else if (!strcmp(k, "spin_reasons_ns")) spin_reasons = strtol(v, NULL, 10);
        else if (!strcmp(k, "spin_fields_ns")) spin_fields = strtol(v, NULL, 10);
        else if (!strcmp(k, "event_set_error")) event_set_error = (int)strtol(v, NULL, 10);
        else if (!strcmp(k, "event_wait_error")) event_wait_error = (int)strtol(v, NULL, 10);
        else if (!strncmp(k, "gpu", 3)) {
          char* dot = strchr(k, '.');
          if (!dot) continue;
          int i = atoi(k + 3);
          if (i >= 0 && i < MAX_DEV) set_field(&devs[i], i, dot + 1, v);
        }
      }
      fclose(f);
    }
  }
  for (int i = 0; i < MAX_DEV; ++i)
    if (devs[i].ecc_pending < 0) devs[i].ecc_pending = devs[i].ecc;
  if (spin_pstate < 0) spin_pstate = spin_simple;
  if (spin_reasons < 0) spin_reasons = spin_simple;
  if (spin_fields < 0) spin_fields = spin_simple;
  int major = 0, minor = 0;
  driver_drift = sscanf(driver, "%d.%d", &major, &minor) == 2 && major == 535 && minor >= 43 && minor <= 86;
}

/* Called on every API call: no formatting (snprintf and sscanf cost more than a
 * real driver's call under Node's UTF-8 locale, and would be measured as NVML). */
int fake_unsupported(const dev_t_* d, const char* field) {
  if (d->unsupported[0] == 0) return 0;
  size_t n = strlen(field);
  for (const char* p = strstr(d->unsupported, field); p; p = strstr(p + 1, field))
    if (p > d->unsupported && p[-1] == ',' && p[n] == ',') return 1;
  return 0;
}

mig_t* fake_as_mig(void* handle) {
  for (int i = 0; i < ndev; ++i) {
    mig_t* m = (mig_t*)handle;
    if (m >= devs[i].migs && m < devs[i].migs + devs[i].nmig) return m;
  }
  return NULL;
}

/* Common checks for a device call: initialised, valid handle, lost. */
int fake_check(void* handle, dev_t_** out) {
  if (!initialized) return E_UNINIT;
  dev_t_* d = (dev_t_*)handle;
  if (d < devs || d >= devs + ndev) return E_INVALID;
  if (d->lost) return E_LOST;
  *out = d;
  return OK;
}

/* ---- library ---- */

void fake_log_line(const char* what) {
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
  fake_log_line("init");
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
  fake_log_line("shutdown");
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
  mig_t* m = initialized ? fake_as_mig(h) : NULL;
  if (m) return copy_string(m->uuid, buf, len);
  DEV_CALL(h, "uuid");
  return copy_string(d->uuid, buf, len);
}
#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetEnforcedPowerLimit(void* h, unsigned* mw) {
  DEV_CALL(h, "power_limit");
  fake_spin(spin_simple);
  *mw = d->power_limit_mw;
  return OK;
}
#endif

/* ---- live readings ---- */

EXPORT int nvmlDeviceGetUtilizationRates(void* h, util_t* u) {
  DEV_CALL(h, NULL);
  COUNT(calls_util);
  if (d->lost_after > 0 && d->reads >= d->lost_after) {
    d->lost = 1;
    return E_LOST;
  }
  if (fake_unsupported(d, "util")) return E_NOT_SUPPORTED;
  fake_spin(spin_simple);
  d->reads++;
  u->gpu = d->util;
  u->memory = d->memutil;
  return OK;
}

EXPORT int nvmlDeviceGetMemoryInfo(void* h, mem1_t* m) {
  mig_t* mg = initialized ? fake_as_mig(h) : NULL;
  if (mg) {
    m->total = mg->total; m->used = mg->used; m->free = mg->total - mg->used;
    return OK;
  }
  DEV_CALL(h, "memory");
  COUNT(calls_mem1);
  fake_spin(spin_memory);
  m->total = d->mem_total;
  m->free = d->mem_free;
  m->used = d->mem_used + d->mem_reserved; /* v1 counts driver-reserved memory as used */
  return OK;
}

#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlDeviceGetMemoryInfo_v2(void* h, mem2_t* m) {
  mig_t* mg = initialized ? fake_as_mig(h) : NULL;
  if (mg) {
    if (m->version != ((unsigned)sizeof(mem2_t) | (2u << 24))) return E_VERSION;
    m->total = mg->total; m->reserved = 0; m->used = mg->used; m->free = mg->total - mg->used;
    return OK;
  }
  DEV_CALL(h, "memory");
  COUNT(calls_mem2);
  if (fake_unsupported(d, "memory_v2")) return E_NOT_SUPPORTED;
  if (m->version != ((unsigned)sizeof(mem2_t) | (2u << 24))) return E_VERSION;
  fake_spin(spin_memory);
  m->total = d->mem_total;
  m->reserved = d->mem_reserved;
  m->free = d->mem_free;
  m->used = d->mem_used;
  return OK;
}
#endif

#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetTemperature(void* h, int sensor, unsigned* t) {
  DEV_CALL(h, NULL);
  COUNT(calls_temp);
  if (fake_unsupported(d, "temp")) return E_NOT_SUPPORTED;
  if (sensor != 0) return E_INVALID;
  fake_spin(spin_simple);
  *t = d->temp;
  return OK;
}
#ifndef FAKE_NVML_OLD_DRIVER
EXPORT int nvmlDeviceGetTemperatureV(void* h, temp_v1_t* t) {
  DEV_CALL(h, NULL);
  COUNT(calls_temp_v);
  if (d->tempv_mismatch || t->version != ((unsigned)sizeof(temp_v1_t) | (1u << 24))) return E_VERSION;
  if (fake_unsupported(d, "temp") || fake_unsupported(d, "temp_v")) return E_NOT_SUPPORTED;
  if (t->sensor != 0) return E_INVALID;
  fake_spin(spin_simple);
  t->temperature = (int)d->temp;
  return OK;
}
#endif
#endif

EXPORT int nvmlDeviceGetPowerUsage(void* h, unsigned* mw) {
  DEV_CALL(h, "power");
  fake_spin(spin_simple);
  *mw = d->power_mw;
  return OK;
}

EXPORT int nvmlDeviceGetClockInfo(void* h, int type, unsigned* mhz) {
  DEV_CALL(h, "clocks");
  fake_spin(spin_simple);
  if (type == 1) *mhz = d->sm_clock;
  else if (type == 2) *mhz = d->mem_clock;
  else return E_INVALID;
  return OK;
}

#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetFanSpeed(void* h, unsigned* pct) {
  DEV_CALL(h, "fan");
  fake_spin(spin_simple);
  *pct = d->fan;
  return OK;
}

EXPORT int nvmlDeviceGetTotalEnergyConsumption(void* h, unsigned long long* mj) {
  DEV_CALL(h, "energy");
  COUNT(calls_energy);
  *mj = d->energy_mj;
  return OK;
}
#endif

/* ---- compute process lists (graphics lists and the GPU-depth calls: fake_nvml_depth.c) ---- */

MAYBE_UNUSED static int drift_driver(void) { return driver_drift; }

/* layout: 1 = v1 (16 bytes), 2 = v2/v3 (24), 3 = drifted v3 (32) */
int fake_list_processes(dev_t_* d, plist_t* l, unsigned* count, void* infos, int layout) {
  if (!count) return E_INVALID;
  fake_spin(spin_procs);
  l->calls++;
  fake_refresh_children(l);
  unsigned n = (unsigned)l->n;
  if (l == &d->compute && d->insufficient_always) {
    *count = d->insufficient_always;
    return E_INSUFFICIENT;
  }
  if (l->insufficient_first && l->calls == 1 && *count > 0) {
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
      p->pid = l->pids[i]; p->used = l->bytes[i];
    } else if (layout == 2) {
      proc2_t* p = (proc2_t*)infos + i;
      p->pid = l->pids[i]; p->used = l->bytes[i]; p->gi = l->gi[i]; p->ci = l->ci[i];
    } else {
      proc3d_t* p = (proc3d_t*)infos + i;
      p->pid = l->pids[i]; p->used = l->bytes[i]; p->gi = l->gi[i]; p->ci = l->ci[i]; p->cc = 0;
    }
  }
  *count = n;
  return OK;
}

int fake_drift_driver(void) { return drift_driver(); }

MAYBE_UNUSED static int compute_processes(void* h, unsigned* count, void* infos, int layout) {
  DEV_CALL(h, "procs");
  COUNT(calls_processes);
  return fake_list_processes(d, &d->compute, count, infos, layout);
}

#ifndef FAKE_NVML_MISSING
EXPORT int nvmlDeviceGetComputeRunningProcesses(void* h, unsigned* count, void* infos) {
  return compute_processes(h, count, infos, 1);
}
#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlDeviceGetComputeRunningProcesses_v2(void* h, unsigned* count, void* infos) {
  return compute_processes(h, count, infos, 2);
}
#ifndef FAKE_NVML_NO_V3
EXPORT int nvmlDeviceGetComputeRunningProcesses_v3(void* h, unsigned* count, void* infos) {
  return compute_processes(h, count, infos, drift_driver() ? 3 : 2);
}
#endif
#endif
#endif

/* ---- test hook ---- */

EXPORT long fake_nvml_calls(const char* name) {
  static const struct { const char* name; long* value; } table[] = {
    {"init", &calls_init}, {"shutdown", &calls_shutdown}, {"processes", &calls_processes},
    {"energy", &calls_energy}, {"util", &calls_util}, {"memory_v2", &calls_mem2}, {"memory_v1", &calls_mem1},
    {"temperature", &calls_temp}, {"temperature_v", &calls_temp_v}, {"pstate", &calls_pstate},
    {"reasons", &calls_reasons}, {"field_values", &calls_fields}, {"field_energy", &calls_field_energy},
    {"encoder", &calls_enc}, {"decoder", &calls_dec}, {"ecc_mode", &calls_ecc_mode},
    {"ecc_counts", &calls_ecc_counts}, {"pcie_link", &calls_pcie_link}, {"pcie_throughput", &calls_pcie_tp},
    {"graphics", &calls_graphics}, {"process_util", &calls_putil}, {"mig_mode", &calls_mig_mode},
    {"event_set_create", &calls_set_create}, {"event_set_free", &calls_set_free},
    {"event_register", &calls_register}, {"event_wait", &calls_wait}, {"events_delivered", &calls_delivered},
    {"event_sets_live", &sets_live},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (!strcmp(name, table[i].name)) return __atomic_load_n(table[i].value, __ATOMIC_RELAXED);
  return -1;
}
