/* The floor under any addon-based readMemory(): the C floor's pread of a
 * kept-open /proc/self/statm, made from JavaScript through the thinnest
 * Node-API function there is (no argument read, nothing returned). Built
 * and loaded by bench/memory.bench.mjs (bench/floors.mjs buildFloorAddon
 * compiles it with cc -O2 -shared against node-api-headers).
 *
 *   pread()   one pread per call
 *   loop(n)   n preads in one call: the same system calls without a JS call
 *             between them, inside the same Node process
 */
#include <fcntl.h>
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
      napi_set_named_property(env, exports, "loop", f) != napi_ok)
    return NULL;
  return exports;
}
