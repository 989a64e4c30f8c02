// Where the native tests find the stand-in NVML (native/test/fake_nvml/) and
// how they script it. The CMake build passes the stand-in's path as the
// PERFPROBE_FAKE_NVML_PATH definition (or the environment variable of that
// name overrides it); its variants come from
// $PERFPROBE_FAKE_NVML_{V1,NOV3,MISSING,NOINIT,OLD}_PATH, or are compiled here
// with `cc` from the sources next to this file when those are not set.
#pragma once

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace perfprobe::test {

inline constexpr double kMiB = 1048576.0;

inline std::string TempDir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/perfprobe-nvml-test-XXXXXX";
    const char* d = mkdtemp(tmpl);
    return std::string(d ? d : "/tmp");
  }();
  return dir;
}

inline std::string SourceDir() {
  std::string f = __FILE__;
  size_t slash = f.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : f.substr(0, slash);
}

// Path of a stand-in variant: "" (full), "V1", "NOV3", "MISSING", "NOINIT", "OLD".
inline std::string FakePath(const std::string& variant) {
  std::string env = variant.empty() ? "PERFPROBE_FAKE_NVML_PATH" : "PERFPROBE_FAKE_NVML_" + variant + "_PATH";
  if (const char* p = std::getenv(env.c_str()); p && *p) return p;
  // Built by CMake (targets fake_nvml and fake_nvml_<variant>) when it defines these.
#ifdef PERFPROBE_FAKE_NVML_PATH
  if (variant.empty()) return PERFPROBE_FAKE_NVML_PATH;
#endif
#ifdef PERFPROBE_FAKE_NVML_V1_PATH
  if (variant == "V1") return PERFPROBE_FAKE_NVML_V1_PATH;
#endif
#ifdef PERFPROBE_FAKE_NVML_NOV3_PATH
  if (variant == "NOV3") return PERFPROBE_FAKE_NVML_NOV3_PATH;
#endif
#ifdef PERFPROBE_FAKE_NVML_MISSING_PATH
  if (variant == "MISSING") return PERFPROBE_FAKE_NVML_MISSING_PATH;
#endif
#ifdef PERFPROBE_FAKE_NVML_NOINIT_PATH
  if (variant == "NOINIT") return PERFPROBE_FAKE_NVML_NOINIT_PATH;
#endif
#ifdef PERFPROBE_FAKE_NVML_OLD_PATH
  if (variant == "OLD") return PERFPROBE_FAKE_NVML_OLD_PATH;
#endif
  static const char* defines[][2] = {{"", ""},
                                     {"V1", "-DFAKE_NVML_V1_ONLY"},
                                     {"NOV3", "-DFAKE_NVML_NO_V3"},
                                     {"MISSING", "-DFAKE_NVML_MISSING"},
                                     {"NOINIT", "-DFAKE_NVML_NO_INIT"},
                                     {"OLD", "-DFAKE_NVML_OLD_DRIVER"}};
  std::string flag;
  for (auto& d : defines)
    if (variant == d[0]) flag = d[1];
  std::string out = TempDir() + "/libfake-nvml" + (variant.empty() ? "" : "-" + variant) + ".so";
  if (access(out.c_str(), R_OK) != 0) {
    std::string dir = SourceDir() + "/fake_nvml/";
    std::string cmd = "cc -shared -fPIC -O1 " + flag + " '" + dir + "fake_nvml.c' '" + dir + "fake_nvml_depth.c' -o '" + out + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "  could not build %s\n", out.c_str());
  }
  return out;
}

inline void Script(const std::string& text) {
  static int n = 0;
  std::string path = TempDir() + "/script-" + std::to_string(++n) + ".txt";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  setenv("PERFPROBE_FAKE_NVML_SCRIPT", path.c_str(), 1);
}

inline long FakeCalls(const std::string& lib, const char* name) {
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!h) return -2;
  auto fn = reinterpret_cast<long (*)(const char*)>(dlsym(h, "fake_nvml_calls"));
  long v = fn ? fn(name) : -3;
  dlclose(h);
  return v;
}

// Keeps the stand-in loaded (so its counters stay readable) after the last
// NVML reference is given back and the loader has closed it.
struct KeepLoaded {
  void* handle;
  explicit KeepLoaded(const std::string& lib) : handle(dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL)) {}
  ~KeepLoaded() {
    if (handle) dlclose(handle);
  }
  KeepLoaded(const KeepLoaded&) = delete;
  KeepLoaded& operator=(const KeepLoaded&) = delete;
};

}  // namespace perfprobe::test
