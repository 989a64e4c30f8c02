/*
 * Internal to the stand-in NVML (fake_nvml.c, fake_nvml_depth.c): the
 * scripted state and the helpers both files use. See fake_nvml.c for the
 * script format. Not a public header of anything.
 */
#ifndef PERFPROBE_FAKE_NVML_H
#define PERFPROBE_FAKE_NVML_H

#define EXPORT __attribute__((visibility("default")))
#define MAYBE_UNUSED __attribute__((unused))
/* GCC cannot see that check() only hands out pointers into devs[]. */
#pragma GCC diagnostic ignored "-Wpragmas"
#ifndef __clang__ /* a GCC-only warning group: clang (zig cc) warns about the name */
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#pragma GCC diagnostic ignored "-Warray-bounds"
#define MAX_DEV 16
#define MAX_PROCS 256
#define MAX_MIG 8
#define MAX_EVENTS 64
#define NA_BYTES (~0ULL)
#define NO_ID 0xFFFFFFFFu

enum {
  OK = 0, E_UNINIT = 1, E_INVALID = 2, E_NOT_SUPPORTED = 3, E_NOT_FOUND = 6, E_INSUFFICIENT = 7,
  E_TIMEOUT = 10, E_LOST = 15, E_VERSION = 25
};

typedef struct { unsigned int gpu, memory; } util_t;
typedef struct { unsigned long long total, free, used; } mem1_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } mem2_t;
typedef struct { unsigned int pid; unsigned long long used; } proc1_t;
typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; } proc2_t;
typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; unsigned long long cc; } proc3d_t;
typedef struct { unsigned int version; int sensor; int temperature; } temp_v1_t;
typedef union { double d; int si; unsigned int ui; unsigned long ul; unsigned long long ull; long long sll; unsigned short us; } value_t;
typedef struct {
  unsigned int field_id, scope_id; long long timestamp, latency_us; int value_type; int ret; value_t value;
} field_value_t;
typedef struct { unsigned int pid; unsigned long long ts; unsigned int sm, mem, enc, dec; } putil_t;
typedef struct { void* device; unsigned long long type, data; unsigned int gi, ci; } event_data_t;

typedef struct {
  int n, nstatic;
  unsigned long long children_bytes; /* 0: no "children" entry */
  unsigned pids[MAX_PROCS], gi[MAX_PROCS], ci[MAX_PROCS];
  unsigned long long bytes[MAX_PROCS];
  int insufficient_first, calls;
} plist_t;

typedef struct {
  int parent;
  char uuid[96];
  unsigned gi, ci;
  unsigned long long total, used;
} mig_t;

typedef struct { unsigned long long type, data; unsigned gi, ci; long delay_ms; } event_t;

typedef struct {
  char name[96], uuid[96];
  unsigned util, memutil, temp, power_mw, power_limit_mw, sm_clock, mem_clock, fan;
  unsigned long long mem_total, mem_reserved, mem_used, mem_free, energy_mj;
  plist_t compute, graphics;
  char unsupported[256];
  int lost_after, reads, lost;
  int handle_error;
  unsigned insufficient_always;
  /* GPU depth */
  unsigned pstate, mem_temp, enc_util, dec_util, pcie_gen, pcie_width, pcie_tx, pcie_rx;
  unsigned long long clocks_reasons;
  int tempv_mismatch;
  int ecc, ecc_pending;
  unsigned long long ecc_cv, ecc_uv, ecc_ca, ecc_ua;
  int nputil, putil_insufficient_first, putil_calls;
  putil_t putil[MAX_PROCS];
  int mig, mig_pending, nmig;
  mig_t migs[MAX_MIG];
  unsigned long long supported_events;
  int register_error, nevents;
  event_t events[MAX_EVENTS];
} dev_t_;

extern dev_t_ devs[MAX_DEV];
extern int ndev, initialized, event_set_error, event_wait_error;
extern char driver[80];
extern long spin_simple, spin_memory, spin_procs, spin_pstate, spin_reasons, spin_fields;
extern long calls_processes, calls_pstate, calls_reasons, calls_fields, calls_field_energy, calls_enc, calls_dec,
    calls_ecc_mode, calls_ecc_counts, calls_pcie_link, calls_pcie_tp, calls_graphics, calls_putil, calls_mig_mode,
    calls_set_create, calls_set_free, calls_register, calls_wait, calls_delivered, sets_live;

void fake_spin(long ns);
double fake_now_ms(void);
void fake_log_line(const char* what);
int fake_unsupported(const dev_t_* d, const char* field);
int fake_check(void* handle, dev_t_** out);
mig_t* fake_as_mig(void* handle);
void fake_refresh_children(plist_t* l);
int fake_list_processes(dev_t_* d, plist_t* l, unsigned* count, void* infos, int layout);
int fake_drift_driver(void);
/* Counters are bumped from several threads (sampler, event thread, tests). */
#define COUNT(c) __atomic_add_fetch(&(c), 1, __ATOMIC_RELAXED)

#define DEV_CALL(handle, field)                      \
  dev_t_* d = NULL;                                  \
  int rc_ = fake_check(handle, &d);                  \
  if (rc_) return rc_;                               \
  if (field && fake_unsupported(d, field)) return E_NOT_SUPPORTED;

#endif
