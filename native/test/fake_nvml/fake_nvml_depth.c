/*
 * The stand-in NVML's GPU-depth calls (issue 13): P-state, clocks event
 * reasons, field values (memory temperature), encoder/decoder, ECC, PCIe,
 * graphics process lists, process utilization, MIG, and event sets with
 * scripted events. Script keys and build variants: fake_nvml.c.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_nvml.h"

#ifndef FAKE_NVML_MISSING

/* ---- cheap scalars ---- */

EXPORT int nvmlDeviceGetPerformanceState(void* h, unsigned* p) {
  DEV_CALL(h, "pstate");
  COUNT(calls_pstate);
  fake_spin(spin_pstate);
  *p = d->pstate;
  return OK;
}

static int clocks_reasons(void* h, unsigned long long* r) {
  DEV_CALL(h, "reasons");
  COUNT(calls_reasons);
  if (!r) return E_INVALID;
  fake_spin(spin_reasons);
  *r = d->clocks_reasons;
  return OK;
}
/* nvml.h 13 still exports the deprecated name; the loader prefers the new one. */
EXPORT int nvmlDeviceGetCurrentClocksThrottleReasons(void* h, unsigned long long* r) { return clocks_reasons(h, r); }
#ifndef FAKE_NVML_OLD_DRIVER
EXPORT int nvmlDeviceGetCurrentClocksEventReasons(void* h, unsigned long long* r) { return clocks_reasons(h, r); }
#endif

EXPORT int nvmlDeviceGetFieldValues(void* h, int n, field_value_t* values) {
  DEV_CALL(h, NULL);
  COUNT(calls_fields);
  if (n < 0 || !values) return E_INVALID;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  for (int i = 0; i < n; ++i) {
    field_value_t* v = &values[i];
    v->timestamp = (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000;
    v->latency_us = 0;
    if (v->field_id == 83) { /* NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION: costs ~4 ms on a real driver */
      COUNT(calls_field_energy);
      v->ret = OK;
      v->value_type = 3;
      v->value.ull = d->energy_mj;
    } else if (v->field_id == 82) { /* NVML_FI_DEV_MEMORY_TEMP */
      v->ret = fake_unsupported(d, "mem_temp") ? E_NOT_SUPPORTED : OK;
      v->value_type = 1;
      v->value.ui = d->mem_temp;
    } else {
      v->ret = E_NOT_SUPPORTED;
    }
  }
  fake_spin(spin_fields);
  return OK;
}

static int codec(void* h, const char* field, unsigned value, long* counter, unsigned* util, unsigned* period) {
  DEV_CALL(h, field);
  COUNT(*counter);
  if (!util || !period) return E_INVALID;
  if (d->mig) return E_NOT_SUPPORTED; /* "On MIG-enabled GPUs ... not currently supported" */
  fake_spin(spin_simple);
  *util = value;
  *period = 167000;
  return OK;
}
EXPORT int nvmlDeviceGetEncoderUtilization(void* h, unsigned* util, unsigned* period) {
  dev_t_* d = (dev_t_*)h;
  return codec(h, "enc", (d >= devs && d < devs + ndev) ? d->enc_util : 0, &calls_enc, util, period);
}
EXPORT int nvmlDeviceGetDecoderUtilization(void* h, unsigned* util, unsigned* period) {
  dev_t_* d = (dev_t_*)h;
  return codec(h, "dec", (d >= devs && d < devs + ndev) ? d->dec_util : 0, &calls_dec, util, period);
}

/* ---- ECC and PCIe link ---- */

EXPORT int nvmlDeviceGetEccMode(void* h, int* current, int* pending) {
  DEV_CALL(h, "ecc");
  COUNT(calls_ecc_mode);
  if (!current || !pending) return E_INVALID;
  *current = d->ecc;
  *pending = d->ecc_pending;
  return OK;
}

EXPORT int nvmlDeviceGetTotalEccErrors(void* h, int type, int counter, unsigned long long* n) {
  DEV_CALL(h, "ecc");
  COUNT(calls_ecc_counts);
  if (!n || type < 0 || type > 1 || counter < 0 || counter > 1) return E_INVALID;
  if (!d->ecc) return E_NOT_SUPPORTED;
  if (counter == 0 && fake_unsupported(d, "ecc_volatile")) return E_NOT_SUPPORTED;
  if (counter == 1 && fake_unsupported(d, "ecc_aggregate")) return E_NOT_SUPPORTED;
  *n = counter == 0 ? (type == 0 ? d->ecc_cv : d->ecc_uv) : (type == 0 ? d->ecc_ca : d->ecc_ua);
  return OK;
}

EXPORT int nvmlDeviceGetCurrPcieLinkGeneration(void* h, unsigned* gen) {
  DEV_CALL(h, "pcie_gen");
  COUNT(calls_pcie_link);
  *gen = d->pcie_gen;
  return OK;
}

EXPORT int nvmlDeviceGetCurrPcieLinkWidth(void* h, unsigned* width) {
  DEV_CALL(h, "pcie_width");
  COUNT(calls_pcie_link);
  *width = d->pcie_width;
  return OK;
}

EXPORT int nvmlDeviceGetPcieThroughput(void* h, int counter, unsigned* kbps) {
  DEV_CALL(h, "pcie_throughput");
  COUNT(calls_pcie_tp);
  if (!kbps || counter < 0 || counter > 1) return E_INVALID;
  *kbps = counter == 0 ? d->pcie_tx : d->pcie_rx;
  return OK;
}

/* ---- graphics processes ---- */

static int graphics_processes(void* h, unsigned* count, void* infos, int layout) {
  DEV_CALL(h, "gprocs");
  COUNT(calls_graphics);
  return fake_list_processes(d, &d->graphics, count, infos, layout);
}
EXPORT int nvmlDeviceGetGraphicsRunningProcesses(void* h, unsigned* count, void* infos) {
  return graphics_processes(h, count, infos, 1);
}
#ifndef FAKE_NVML_V1_ONLY
EXPORT int nvmlDeviceGetGraphicsRunningProcesses_v2(void* h, unsigned* count, void* infos) {
  return graphics_processes(h, count, infos, 2);
}
#ifndef FAKE_NVML_NO_V3
EXPORT int nvmlDeviceGetGraphicsRunningProcesses_v3(void* h, unsigned* count, void* infos) {
  return graphics_processes(h, count, infos, fake_drift_driver() ? 3 : 2);
}
#endif
#endif

/* ---- process utilization ---- */

EXPORT int nvmlDeviceGetProcessUtilization(void* h, putil_t* buf, unsigned* count, unsigned long long since) {
  DEV_CALL(h, "putil");
  COUNT(calls_putil);
  if (!count) return E_INVALID;
  if (d->mig) return E_NOT_SUPPORTED;
  unsigned n = 0;
  for (int i = 0; i < d->nputil; ++i)
    if (d->putil[i].ts > since) n++;
  if (!buf) { /* the sizing call: like a real driver, it asks for room even with nothing to report */
    *count = n > 8 ? n : 8;
    return E_INSUFFICIENT;
  }
  fake_spin(spin_procs);
  d->putil_calls++;
  if (d->putil_insufficient_first && d->putil_calls == 1) {
    *count = n + 2;
    return E_INSUFFICIENT;
  }
  if (*count < n) {
    *count = n;
    return E_INSUFFICIENT;
  }
  if (n == 0) return E_NOT_FOUND;
  unsigned k = 0;
  for (int i = 0; i < d->nputil; ++i)
    if (d->putil[i].ts > since) buf[k++] = d->putil[i];
  *count = k;
  return OK;
}

/* ---- MIG ---- */

EXPORT int nvmlDeviceGetMigMode(void* h, unsigned* current, unsigned* pending) {
  DEV_CALL(h, "mig");
  COUNT(calls_mig_mode);
  if (!current || !pending) return E_INVALID;
  *current = (unsigned)d->mig;
  *pending = (unsigned)d->mig_pending;
  return OK;
}

EXPORT int nvmlDeviceGetMaxMigDeviceCount(void* h, unsigned* count) {
  DEV_CALL(h, NULL);
  /* One more than scripted: the last index answers NOT_FOUND (a gap, as after a destroyed instance). */
  *count = d->mig && !fake_unsupported(d, "mig") ? (unsigned)d->nmig + 1 : 0;
  return OK;
}

EXPORT int nvmlDeviceGetMigDeviceHandleByIndex(void* h, unsigned index, void** mig) {
  DEV_CALL(h, "mig");
  if (!mig) return E_INVALID;
  if (!d->mig || index >= (unsigned)d->nmig) return E_NOT_FOUND;
  *mig = &d->migs[index];
  return OK;
}

EXPORT int nvmlDeviceGetGpuInstanceId(void* h, unsigned* id) {
  if (!initialized) return E_UNINIT;
  mig_t* m = fake_as_mig(h);
  if (!m) return E_NOT_SUPPORTED; /* not a MIG device handle */
  *id = m->gi;
  return OK;
}

EXPORT int nvmlDeviceGetComputeInstanceId(void* h, unsigned* id) {
  if (!initialized) return E_UNINIT;
  mig_t* m = fake_as_mig(h);
  if (!m) return E_NOT_SUPPORTED;
  *id = m->ci;
  return OK;
}

/* ---- events ---- */

#define SET_MAGIC 0x5e75e7
typedef struct {
  int magic;
  struct { int registered, cursor; unsigned long long mask; double due_ms; } dev[MAX_DEV];
} set_t;

EXPORT int nvmlEventSetCreate(void** set) {
  if (!initialized) return E_UNINIT;
  if (!set) return E_INVALID;
  COUNT(calls_set_create);
  if (event_set_error) return event_set_error;
  set_t* s = (set_t*)calloc(1, sizeof *s);
  if (!s) return 20; /* NVML_ERROR_MEMORY */
  s->magic = SET_MAGIC;
  COUNT(sets_live);
  fake_log_line("event_set_create");
  *set = s;
  return OK;
}

EXPORT int nvmlEventSetFree(void* set) {
  set_t* s = (set_t*)set;
  if (!s || s->magic != SET_MAGIC) return E_INVALID;
  COUNT(calls_set_free);
  __atomic_sub_fetch(&sets_live, 1, __ATOMIC_RELAXED);
  s->magic = 0;
  free(s);
  fake_log_line("event_set_free");
  return OK;
}

EXPORT int nvmlDeviceGetSupportedEventTypes(void* h, unsigned long long* types) {
  DEV_CALL(h, NULL);
  if (!types) return E_INVALID;
  *types = d->supported_events;
  return OK;
}

EXPORT int nvmlDeviceRegisterEvents(void* h, unsigned long long types, void* set) {
  DEV_CALL(h, NULL);
  COUNT(calls_register);
  set_t* s = (set_t*)set;
  if (!s || s->magic != SET_MAGIC || !types) return E_INVALID;
  if (d->register_error) return d->register_error;
  if (types & ~d->supported_events) return E_NOT_SUPPORTED; /* none of them registered */
  int i = (int)(d - devs);
  if (!s->dev[i].registered) {
    s->dev[i].registered = 1;
    s->dev[i].cursor = 0;
    s->dev[i].due_ms = fake_now_ms() + (d->nevents ? (double)d->events[0].delay_ms : 0);
  }
  s->dev[i].mask |= types;
  return OK;
}

/* The next scripted event of a registered type, as each set sees it; sleeps until it is due or the timeout. */
static int wait_events(void* set, event_data_t* data, unsigned timeout_ms, int v2) {
  COUNT(calls_wait);
  if (!initialized) return E_UNINIT;
  set_t* s = (set_t*)set;
  if (!s || s->magic != SET_MAGIC || !data) return E_INVALID;
  if (event_wait_error) return event_wait_error;
  const double deadline = fake_now_ms() + timeout_ms;
  for (;;) {
    const double now = fake_now_ms();
    int best = -1;
    for (int i = 0; i < ndev; ++i) {
      if (!s->dev[i].registered) continue;
      const dev_t_* d = &devs[i];
      while (s->dev[i].cursor < d->nevents && !(d->events[s->dev[i].cursor].type & s->dev[i].mask)) {
        if (++s->dev[i].cursor < d->nevents) s->dev[i].due_ms += (double)d->events[s->dev[i].cursor].delay_ms;
      }
      if (s->dev[i].cursor >= d->nevents) continue;
      if (best < 0 || s->dev[i].due_ms < s->dev[best].due_ms) best = i;
    }
    if (best >= 0 && s->dev[best].due_ms <= now) {
      const dev_t_* d = &devs[best];
      const event_t* e = &d->events[s->dev[best].cursor];
      data->device = (void*)d;
      data->type = e->type;
      data->data = e->type == 0x8 ? e->data : 0;
      if (v2) { /* the unversioned wait of older drivers writes only the first three fields */
        data->gi = e->gi;
        data->ci = e->ci;
      }
      if (++s->dev[best].cursor < d->nevents) s->dev[best].due_ms += (double)d->events[s->dev[best].cursor].delay_ms;
      COUNT(calls_delivered);
      return OK;
    }
    if (now >= deadline) return E_TIMEOUT;
    double until = deadline;
    if (best >= 0 && s->dev[best].due_ms < until) until = s->dev[best].due_ms;
    double ms = until - now;
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    nanosleep(&ts, NULL);
  }
}

EXPORT int nvmlEventSetWait(void* set, event_data_t* data, unsigned timeout_ms) {
  return wait_events(set, data, timeout_ms, 0);
}
#if !defined(FAKE_NVML_V1_ONLY) && !defined(FAKE_NVML_OLD_DRIVER)
EXPORT int nvmlEventSetWait_v2(void* set, event_data_t* data, unsigned timeout_ms) {
  return wait_events(set, data, timeout_ms, 1);
}
#endif

#endif /* FAKE_NVML_MISSING */
