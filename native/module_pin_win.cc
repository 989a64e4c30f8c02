// Windows only (binding.gyp): keeps this DLL loaded for the life of the
// process, the PE counterpart of the `-z nodelete` the Linux prebuilds are
// linked with (scripts/prebuild-all.mjs).
//
// Node unloads (FreeLibrary) an addon when the last environment that loaded
// it goes away, e.g. when every worker_thread that required perfprobe has
// exited and the main thread never did. The prebuild links libc++ and its
// unwinder statically, and their per-thread state is torn down through
// thread-exit callbacks in this DLL: with the DLL gone, the next thread to
// exit hung (under Wine, test/sampler.test.ts "workers terminated in the
// middle of sampler calls"). Pinning costs nothing an addon loaded by the
// main thread does not already cost: it stays mapped.
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

namespace perfprobe {
namespace {
const char kAnchor = 0;

struct PinModule {
  PinModule() {
    HMODULE self = nullptr;
    // Only looks up the module this address belongs to: safe while the loader
    // runs our static initializers.
    GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                       reinterpret_cast<LPCWSTR>(&kAnchor), &self);
  }
};
const PinModule pinModule;
}  // namespace
}  // namespace perfprobe
