// Registers the GPU probe's JavaScript functions (NVML open/close, static
// facts, reads, process lists) on the addon's exports. Called once per
// environment (main thread and each worker) from addon.cc's Init.
#pragma once

#include <napi.h>

namespace perfprobe::gpu {
void RegisterExports(Napi::Env env, Napi::Object exports);
// The GPU event watcher (gpu_event_exports.cc); called by RegisterExports.
void RegisterEventExports(Napi::Env env, Napi::Object exports);
}  // namespace perfprobe::gpu
