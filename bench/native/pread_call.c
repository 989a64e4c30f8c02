/* The floor under any addon-based readMemory(): the C floor's pread of a
 * kept-open /proc/self/statm, made from JavaScript through the thinnest
 * Node-API function there is (no argument read, nothing returned). Built
 * and loaded by bench/memory.bench.mjs (bench/floors.mjs buildFloorAddon
 * compiles it with cc -O2 -shared against node-api-headers).
 *
 *   pread()   one pread per call
 *   loop(n)   n preads in one call: the same system calls without a JS call
 *             between them, inside the same Node process
 *   preadClock(out)
 *             the pread, then the wall clock (CLOCK_REALTIME, ms) into
 *             out[0] and the bytes read into out[1] of a Float64Array: with
 *             the 10-field object the bench builds from out, the floor of
 *             any timestamped reading object an addon can return
 */
#include <fcntl.h>
#include <time.h>
#include <node_api.h>
#include <unistd.h>

static int fd = -1;
static char buf[256];
static volatile long sink;

static napi_value Pread(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  sink += pread(fd, buf, sizeof buf - 1, 0) + buf[0]; /* the read is used, as readMemory parses it */
  return NULL;
}

static napi_value Loop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  int64_t n = 0;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, arg, &n) != napi_ok)
    return NULL;
  for (int64_t i = 0; i < n; ++i) sink += pread(fd, buf, sizeof buf - 1, 0) + buf[0];
  return NULL;
}

static napi_value PreadClock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_typedarray_info(env, arg, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < 2)
    return NULL;
  double *out = data;
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  out[0] = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
  out[1] = (double)n + buf[0];
  return NULL;
}

NAPI_MODULE_INIT() {
  fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    napi_throw_error(env, NULL, "pread_call: cannot open /proc/self/statm");
    return NULL;
  }
  napi_value f;
  if (napi_create_function(env, "pread", NAPI_AUTO_LENGTH, Pread, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "pread", f) != napi_ok ||
      napi_create_function(env, "loop", NAPI_AUTO_LENGTH, Loop, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "loop", f) != napi_ok ||
      napi_create_function(env, "preadClock", NAPI_AUTO_LENGTH, PreadClock, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "preadClock", f) != napi_ok)
    return NULL;
  return exports;
}
