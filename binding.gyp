# The perfprobe addon, built by node-gyp (npm ci -> node-gyp-build -> node-gyp
# rebuild when no prebuild matches) and by prebuildify. CMakeLists.txt builds
# the same sources for the sanitizer test run.
#
# Exception mode: C++ exceptions ON (NAPI_CPP_EXCEPTIONS), chosen on purpose.
# - The core reports the failures it cannot prevent only by exceptions: the
#   ring allocation (std::bad_alloc, sized by the caller), std::thread
#   creation (std::system_error). With -fno-exceptions both would abort the
#   whole process; with exceptions on, addon.cc turns them into JavaScript
#   RangeError / Error.
# - node-addon-api then throws Napi::Error as C++ exceptions and converts
#   them back at the Node-API boundary, so argument validation is one
#   `throw` instead of an error check after every call.
# - Zero-cost on the hot paths (readMemory, drain): nothing is thrown there.
# - NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when worker.terminate() stops a
#   worker in the middle of an addon call, every Node-API call fails and the
#   JavaScript error cannot be thrown either; without this node-addon-api
#   throws a C++ exception from its own catch handler and the whole process
#   aborts. With it, that unthrowable error is dropped (the worker is going).
{
  "targets": [
    {
      "target_name": "perfprobe",
      "sources": [
        "native/addon.cc",
        "native/sampler.cc",
        "native/gpu/nvml_loader.cc",
        "native/gpu/gpu_reader.cc",
        "native/gpu/gpu_details.cc",
        "native/gpu/gpu_events.cc",
        "native/gpu/gpu_exports.cc",
        "native/gpu/gpu_event_exports.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/memory_linux.cc", "native/proc_tree.cc"],
          # NVML is dlopened at run time: link libdl, never libnvidia-ml.
          "libraries": ["-ldl", "-lpthread"]
        }],
        ["OS=='mac'", {
          "sources": ["native/memory_darwin.cc", "native/proc_tree_darwin.cc"],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "CLANG_CXX_LIBRARY": "libc++",
            "MACOSX_DEPLOYMENT_TARGET": "10.15"
          }
        }],
        ["OS=='win'", {
          "sources": ["native/memory_win.cc", "native/proc_tree_win.cc", "native/module_pin_win.cc"],
          "defines": ["_HAS_EXCEPTIONS=1", "NOMINMAX"],
          "libraries": ["psapi.lib"],
          "msvs_settings": {
            "VCCLCompilerTool": {
              "ExceptionHandling": 1,
              "AdditionalOptions": ["/std:c++17"]
            }
          }
        }]
      ]
    }
  ]
}
