// Native tests of the NVML loader and the GPU reader against the stand-in
// library (native/test/fake_nvml/); fake_nvml_paths.h finds or builds it.
#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../bench/nvml_bench.h"
#include "../gpu/gpu_api.h"
#include "../gpu/gpu_reader.h"
#include "../gpu/nvml_loader.h"
#include "check.h"
#include "fake_nvml_paths.h"

using namespace perfprobe;
using namespace perfprobe::gpu;
using namespace perfprobe::test;

namespace {

std::vector<double> Read(int index, const std::vector<int32_t>* watched = nullptr) {
  std::vector<double> block(kGpuSlots);
  ReadDevice(index, block.data(), ThreadScratch(), watched);
  return block;
}

const char* kTwoGpus =
    "devices=2\n"
    "driver=580.65.06\n"
    "gpu0.name=NVIDIA H200\n"
    "gpu0.uuid=GPU-11111111-2222-3333-4444-555555555555\n"
    "gpu0.util=97\n gpu0.memutil=41\n"
    "gpu0.mem_total=150754820096\n gpu0.mem_reserved=644874240\n"
    "gpu0.mem_used=21474836480\n gpu0.mem_free=128635109376\n"
    "gpu0.temp=56\n gpu0.power_mw=690123\n gpu0.power_limit_mw=700000\n"
    "gpu0.sm_clock=1425\n gpu0.mem_clock=2619\n gpu0.fan=33\n gpu0.energy_mj=987654321\n"
    "gpu0.procs=self:1073741824,4242:2147483648\n"
    "gpu1.name=NVIDIA H100 80GB HBM3\n gpu1.util=0\n gpu1.memutil=0\n gpu1.mem_used=0\n gpu1.temp=31\n";

}  // namespace

TEST(nvml_reads_every_scripted_field) {
  std::string lib = FakePath("");
  Script(kTwoGpus);
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(info.ok);
  CHECK_EQ(info.deviceCount, 2);
  CHECK(info.driverVersion == "580.65.06");
  CHECK(info.path == lib);
  CHECK(std::string(nvml::GetApi().initName) == "nvmlInit_v2");
  CHECK_EQ(nvml::GetApi().processApi, 3);
  CHECK(!nvml::GetApi().processDrift);
  auto& devs = nvml::Devices();
  CHECK(devs[0]->name == "NVIDIA H200");
  CHECK(devs[0]->uuid == "GPU-11111111-2222-3333-4444-555555555555");
  CHECK_EQ(devs[0]->powerLimitMw, 700000.0);
  CHECK_EQ(devs[0]->memoryTotalBytes, 150754820096.0);
  auto b = Read(0);
  CHECK_EQ(b[kGpuStatus], 0.0);
  CHECK_EQ(b[kGpuLoadPercent], 97.0);
  CHECK_EQ(b[kGpuMemoryUtilPercent], 41.0);
  CHECK_EQ(b[kGpuMemoryTotalBytes], 150754820096.0);
  CHECK_EQ(b[kGpuMemoryUsedBytes], 21474836480.0);  // the v2 figure, reserved excluded
  CHECK_EQ(b[kGpuMemoryReservedBytes], 644874240.0);
  CHECK_EQ(b[kGpuMemoryFreeBytes], 128635109376.0);
  CHECK_EQ(b[kGpuTemperatureC], 56.0);
  CHECK_EQ(b[kGpuPowerMilliwatts], 690123.0);
  CHECK_EQ(b[kGpuPowerLimitMilliwatts], 700000.0);
  CHECK_EQ(b[kGpuSmClockMhz], 1425.0);
  CHECK_EQ(b[kGpuMemoryClockMhz], 2619.0);
  CHECK_EQ(b[kGpuFanPercent], 33.0);
  CHECK_EQ(b[kGpuProcessMemoryBytes], 1024 * kMiB);
  CHECK(std::isnan(b[kGpuWatchedMemoryBytes]));
  CHECK_EQ(ThreadScratch().processes.size(), size_t{2});
  auto b1 = Read(1);
  CHECK_EQ(b1[kGpuStatus], 0.0);
  CHECK_EQ(b1[kGpuLoadPercent], 0.0);  // a real 0, not "missing"
  CHECK_EQ(b1[kGpuMemoryUsedBytes], 0.0);
  CHECK_EQ(b1[kGpuTemperatureC], 31.0);
  CHECK_EQ(b1[kGpuProcessMemoryBytes], 0.0);  // listed, this process absent
  CHECK_EQ(ReadEnergyMillijoules(0), 987654321.0);
  CHECK_EQ(FakeCalls(lib, "energy"), 1L);  // energy only on request
  nvml::Release();
  CHECK_EQ(nvml::References(), 0);
}

TEST(nvml_init_once_and_counted_across_users) {
  std::string lib = FakePath("");
  Script(kTwoGpus);
  CHECK(nvml::Acquire(lib.c_str()).ok);
  CHECK(nvml::Acquire(lib.c_str()).ok);
  CHECK_EQ(AcquireForSampler(lib.c_str()), 2);  // shares the library already open
  CHECK_EQ(nvml::References(), 3);
  std::vector<double> out(4 * kGpuSlots);
  std::vector<int32_t> none;
  for (int i = 0; i < 100; ++i) CHECK_EQ(SampleAll(out.data(), 4, none), 2);
  CHECK_EQ(SampleAll(out.data(), 1, none), 1);  // maxDevices respected
  CHECK_EQ(FakeCalls(lib, "init"), 1L);
  CHECK_EQ(FakeCalls(lib, "shutdown"), 0L);
  CHECK_EQ(FakeCalls(lib, "energy"), 0L);  // never on the sampling path
  nvml::Release();
  ReleaseForSampler();
  CHECK_EQ(FakeCalls(lib, "shutdown"), 0L);
  void* keep = dlopen(lib.c_str(), RTLD_NOW | RTLD_NOLOAD);  // keep counters readable
  nvml::Release();
  CHECK_EQ(nvml::References(), 0);
  CHECK_EQ(FakeCalls(lib, "shutdown"), 1L);
  if (keep) dlclose(keep);
}

TEST(nvml_missing_library_names_path_and_error) {
  nvml::OpenInfo info = nvml::Acquire("/nonexistent/libnvidia-ml.so.1");
  CHECK(!info.ok);
  CHECK_EQ(info.code, nvml::kLibraryNotFound);
  CHECK(std::string(nvml::ErrorName(info.code)) == "NVML_ERROR_LIBRARY_NOT_FOUND");
  CHECK(info.error.find("/nonexistent/libnvidia-ml.so.1") != std::string::npos);
  CHECK_EQ(nvml::References(), 0);
  CHECK_EQ(AcquireForSampler("/nonexistent/libnvidia-ml.so.1"), -1);
  CHECK_EQ(nvml::References(), 0);
}

TEST(nvml_each_open_uses_the_library_it_is_given) {
  // No path carries over from one open to the next: after a failed open of
  // a missing file, the sampler's open of the stand-in succeeds, and an open
  // without a path means the platform's default name, never the last path.
  std::string lib = FakePath("");
  Script(kTwoGpus);
  CHECK(!nvml::Acquire("/nonexistent/libnvidia-ml.so.1").ok);
  CHECK_EQ(AcquireForSampler(lib.c_str()), 2);
  CHECK(nvml::Current().path == lib);
  ReleaseForSampler();
  CHECK_EQ(nvml::References(), 0);
  nvml::OpenInfo info = nvml::Acquire("");
  CHECK(info.path == nvml::DefaultLibrary());
  if (info.ok) nvml::Release();  // a machine with a real driver
  CHECK_EQ(nvml::References(), 0);
}

TEST(nvml_init_failure_reports_the_nvml_error) {
  std::string lib = FakePath("");
  Script("init=9\n");
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(!info.ok);
  CHECK_EQ(info.code, nvml::kDriverNotLoaded);
  CHECK(info.error.find("NVML_ERROR_DRIVER_NOT_LOADED") != std::string::npos);
  CHECK(info.error.find(lib) != std::string::npos);
  CHECK_EQ(nvml::References(), 0);
}

TEST(nvml_loader_never_reads_the_environment) {
  // PERFPROBE_NVML and PERFPROBE_NVML_LIBRARY are read by TypeScript only
  // (src/probes/gpu.ts, which then passes the path or does not open at all).
  std::string lib = FakePath("");
  Script(kTwoGpus);
  setenv("PERFPROBE_NVML", "0", 1);
  setenv("PERFPROBE_NVML_LIBRARY", "/nonexistent/from-env.so", 1);
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(info.ok);
  CHECK(info.path == lib);
  nvml::Release();
  nvml::OpenInfo byDefault = nvml::Acquire(nullptr);
  CHECK(byDefault.path == nvml::DefaultLibrary());
  if (byDefault.ok) nvml::Release();
  unsetenv("PERFPROBE_NVML");
  unsetenv("PERFPROBE_NVML_LIBRARY");
  CHECK_EQ(nvml::References(), 0);
}

TEST(nvml_no_devices_is_ok_and_empty) {
  std::string lib = FakePath("");
  Script("devices=0\n");
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(info.ok);
  CHECK_EQ(info.deviceCount, 0);
  std::vector<double> out(kGpuSlots);
  CHECK_EQ(SampleAll(out.data(), 4, {}), 0);
  nvml::Release();
}

TEST(nvml_not_supported_fields_are_nan_and_not_asked_again) {
  std::string lib = FakePath("");
  Script("devices=1\ngpu0.unsupported=fan,temp,procs,util\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  auto b = Read(0);
  CHECK_EQ(b[kGpuStatus], 0.0);
  CHECK(std::isnan(b[kGpuFanPercent]));
  CHECK(std::isnan(b[kGpuTemperatureC]));
  CHECK(std::isnan(b[kGpuLoadPercent]));
  CHECK(std::isnan(b[kGpuMemoryUtilPercent]));
  CHECK(std::isnan(b[kGpuProcessMemoryBytes]));  // list unsupported: unknown, not 0
  CHECK(!std::isnan(b[kGpuPowerMilliwatts]));
  long procCalls = FakeCalls(lib, "processes");
  long utilCalls = FakeCalls(lib, "util");
  auto b2 = Read(0);
  CHECK(std::isnan(b2[kGpuFanPercent]));
  CHECK_EQ(FakeCalls(lib, "processes"), procCalls);
  CHECK_EQ(FakeCalls(lib, "util"), utilCalls);
  nvml::Release();
}

TEST(nvml_gpu_lost_mid_run_marks_only_that_device) {
  std::string lib = FakePath("");
  Script("devices=3\ngpu1.lost_after=2\n");
  CHECK_EQ((nvml::Acquire(lib.c_str()).deviceCount), 3);
  std::vector<double> out(3 * kGpuSlots);
  std::vector<int32_t> none;
  for (int tick = 0; tick < 2; ++tick) {
    CHECK_EQ(SampleAll(out.data(), 3, none), 3);
    CHECK_EQ(out[kGpuSlots + kGpuStatus], 0.0);
  }
  for (int tick = 0; tick < 3; ++tick) {
    CHECK_EQ(SampleAll(out.data(), 3, none), 3);
    CHECK_EQ(out[kGpuStatus], 0.0);
    CHECK_EQ(out[kGpuSlots + kGpuStatus], 1.0);
    CHECK(std::isnan(out[kGpuSlots + kGpuLoadPercent]));
    CHECK(std::isnan(out[kGpuSlots + kGpuMemoryUsedBytes]));
    CHECK_EQ(out[2 * kGpuSlots + kGpuStatus], 0.0);
    CHECK_EQ(out[2 * kGpuSlots + kGpuLoadPercent], 12.0);  // fake default 10 + index
  }
  CHECK(std::isnan(ReadEnergyMillijoules(1)));
  nvml::Release();
}

TEST(nvml_handle_error_at_open_keeps_other_devices) {
  std::string lib = FakePath("");
  Script("devices=2\ngpu0.handle_error=15\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  CHECK_EQ(Read(0)[kGpuStatus], 1.0);
  CHECK_EQ(Read(1)[kGpuStatus], 0.0);
  nvml::Release();
}

TEST(nvml_process_list_retries_insufficient_size) {
  std::string lib = FakePath("");
  std::string procs;
  for (int i = 0; i < 40; ++i) procs += (i ? "," : "") + std::to_string(1000 + i) + ":" + std::to_string((i + 1) * 1048576);
  Script("devices=2\ngpu0.insufficient_first=1\ngpu0.procs=self:5242880,77:na\ngpu1.procs=" + procs + "\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  auto b = Read(0);
  CHECK_EQ(b[kGpuProcessMemoryBytes], 5 * kMiB);
  CHECK_EQ(ThreadScratch().processes.size(), size_t{2});
  CHECK(std::isnan(ThreadScratch().processes[1].usedBytes));  // NVML_VALUE_NOT_AVAILABLE
  Scratch fresh;  // 32 entries: the 40-process list must grow it
  CHECK_EQ(ReadProcesses(1, fresh), nvml::kSuccess);
  CHECK_EQ(fresh.processes.size(), size_t{40});
  CHECK_EQ(fresh.processes[39].pid, 1039u);
  CHECK_EQ(fresh.processes[39].usedBytes, 40 * kMiB);
  std::vector<int32_t> watched = {1000, 1005, 1039, 99999};
  double block[kGpuSlots];
  ReadDevice(1, block, fresh, &watched);
  CHECK_EQ(block[kGpuWatchedMemoryBytes], (1 + 6 + 40) * kMiB);
  CHECK_EQ(block[kGpuProcessMemoryBytes], 0.0);
  nvml::Release();
}

TEST(nvml_535_struct_drift_is_read_with_the_right_stride) {
  std::string lib = FakePath("");
  Script("driver=535.54.03\ngpu0.procs=101:1048576,202:2097152,self:3145728\n");
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(info.ok);
  CHECK(nvml::GetApi().processDrift);
  CHECK_EQ(nvml::GetApi().processStride, size_t{32});
  auto b = Read(0);
  auto& p = ThreadScratch().processes;
  CHECK_EQ(p.size(), size_t{3});
  CHECK_EQ(p[1].pid, 202u);
  CHECK_EQ(p[1].usedBytes, 2 * kMiB);
  CHECK_EQ(b[kGpuProcessMemoryBytes], 3 * kMiB);
  nvml::Release();
  CHECK(nvml::IsDriftDriver("535.43.02"));
  CHECK(nvml::IsDriftDriver("535.86.10"));
  CHECK(!nvml::IsDriftDriver("535.104.05"));
  CHECK(!nvml::IsDriftDriver("535.98"));
  CHECK(!nvml::IsDriftDriver("550.54.15"));
}

TEST(nvml_v1_only_library_falls_back) {
  std::string lib = FakePath("V1");
  Script("gpu0.mem_used=1048576000\ngpu0.mem_reserved=524288000\ngpu0.procs=self:7340032\n");
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(info.ok);
  CHECK(std::string(nvml::GetApi().initName) == "nvmlInit");
  CHECK_EQ(nvml::GetApi().processApi, 1);
  CHECK(nvml::GetApi().getMemoryV2 == nullptr);
  auto b = Read(0);
  CHECK_EQ(b[kGpuStatus], 0.0);
  CHECK_EQ(b[kGpuMemoryUsedBytes], 1048576000.0 + 524288000.0);  // v1 counts reserved as used
  CHECK(std::isnan(b[kGpuMemoryReservedBytes]));
  CHECK_EQ(b[kGpuProcessMemoryBytes], 7 * kMiB);
  nvml::Release();
}

TEST(nvml_v2_process_list_when_v3_missing) {
  std::string lib = FakePath("NOV3");
  Script("gpu0.procs=self:3145728\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  CHECK_EQ(nvml::GetApi().processApi, 2);
  CHECK_EQ(Read(0)[kGpuProcessMemoryBytes], 3 * kMiB);
  nvml::Release();
}

TEST(nvml_memory_v2_refused_falls_back_to_v1) {
  std::string lib = FakePath("");
  Script("gpu0.unsupported=memory_v2\ngpu0.mem_used=1048576\ngpu0.mem_reserved=2097152\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  auto b = Read(0);
  CHECK_EQ(b[kGpuMemoryUsedBytes], 3 * kMiB);
  CHECK(std::isnan(b[kGpuMemoryReservedBytes]));
  long v2 = FakeCalls(lib, "memory_v2");
  Read(0);
  CHECK_EQ(FakeCalls(lib, "memory_v2"), v2);  // remembered: v1 from now on
  nvml::Release();
}

TEST(nvml_missing_symbols_make_fields_unsupported) {
  std::string lib = FakePath("MISSING");
  Script("gpu0.procs=self:1048576\n");
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(info.ok);
  CHECK_EQ(nvml::GetApi().processApi, 0);
  auto b = Read(0);
  CHECK_EQ(b[kGpuStatus], 0.0);
  CHECK(std::isnan(b[kGpuTemperatureC]));
  CHECK(std::isnan(b[kGpuFanPercent]));
  CHECK(std::isnan(b[kGpuPowerLimitMilliwatts]));
  CHECK(std::isnan(b[kGpuProcessMemoryBytes]));
  CHECK(!std::isnan(b[kGpuPowerMilliwatts]));
  CHECK(!std::isnan(b[kGpuMemoryUsedBytes]));
  CHECK(std::isnan(ReadEnergyMillijoules(0)));
  Scratch s;
  CHECK_EQ(ReadProcesses(0, s), nvml::kFunctionNotFound);
  nvml::Release();
}

TEST(nvml_library_without_init_symbol_fails_cleanly) {
  std::string lib = FakePath("NOINIT");
  nvml::OpenInfo info = nvml::Acquire(lib.c_str());
  CHECK(!info.ok);
  CHECK_EQ(info.code, nvml::kFunctionNotFound);
  CHECK(info.error.find("nvmlInit") != std::string::npos);
  CHECK_EQ(nvml::References(), 0);
}

TEST(nvml_error_names_from_own_table) {
  CHECK(std::string(nvml::ErrorName(15)) == "NVML_ERROR_GPU_IS_LOST");
  CHECK(std::string(nvml::ErrorName(3)) == "NVML_ERROR_NOT_SUPPORTED");
  CHECK(std::string(nvml::ErrorName(7)) == "NVML_ERROR_INSUFFICIENT_SIZE");
  CHECK(std::string(nvml::ErrorName(999)) == "NVML_ERROR_UNKNOWN");
  CHECK(std::string(nvml::ErrorName(12345)) == "NVML_ERROR_UNRECOGNIZED");
}

TEST(nvml_threads_sample_and_acquire_concurrently) {
  std::string lib = FakePath("");
  Script(kTwoGpus);
  CHECK(nvml::Acquire(lib.c_str()).ok);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &bad, &lib] {
      std::vector<double> out(2 * kGpuSlots);
      std::vector<int32_t> watched = {4242};
      for (int i = 0; i < 2000; ++i) {
        if (AcquireForSampler(lib.c_str()) != 2) ++bad[t];
        if (SampleAll(out.data(), 2, watched) != 2 || out[kGpuWatchedMemoryBytes] != 2048 * kMiB) ++bad[t];
        ReleaseForSampler();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK_EQ(bad[t], 0);
  CHECK_EQ(nvml::References(), 1);
  nvml::Release();
}

TEST(nvml_bench_counts_the_calls_of_a_sample) {
  std::string lib = FakePath("");
  Script(kTwoGpus);
  CHECK(nvml::Acquire(lib.c_str()).ok);
  BenchResult r = Bench(1000);
  CHECK_EQ(r.callsPerSample, 26);  // 13 per-sample calls x 2 devices (the slow fields once a second, not counted)
  CHECK(r.rawNsPerSample > 0);
  CHECK(r.fullNsPerSample > 0);
  nvml::Release();
}
