// Native tests of the GPU-depth fields (issue 13) against the stand-in NVML:
// the new slots of the sampler block (values exactly as scripted, NVML's own
// units), the slow fields' refresh bound, the versioned fallbacks, and the
// on-demand reads (process table, process utilization, MIG, PCIe throughput).
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "../gpu/gpu_api.h"
#include "../gpu/gpu_details.h"
#include "../gpu/gpu_reader.h"
#include "../gpu/nvml_loader.h"
#include "check.h"
#include "fake_nvml_paths.h"

using namespace perfprobe;
using namespace perfprobe::gpu;
using namespace perfprobe::test;

namespace {

std::vector<double> Block(int index) {
  std::vector<double> block(kGpuSlots);
  ReadDevice(index, block.data(), ThreadScratch(), nullptr);
  return block;
}

const ProcessDetail* Find(const ProcessDetails& d, uint32_t pid) {
  for (const ProcessDetail& p : d.processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

const uint32_t kSelf = static_cast<uint32_t>(getpid());

const char* kDepth =
    "devices=2\n"
    "gpu0.temp=56\n gpu0.pstate=2\n gpu0.clocks_reasons=0x44\n gpu0.mem_temp=81\n"
    "gpu0.enc_util=12\n gpu0.dec_util=34\n gpu0.pcie_gen=4\n gpu0.pcie_width=8\n"
    "gpu0.ecc=1\n gpu0.ecc_pending=0\n gpu0.ecc_cv=5\n gpu0.ecc_uv=1\n gpu0.ecc_ca=123\n gpu0.ecc_ua=7\n"
    "gpu1.pstate=32\n gpu1.ecc=0\n gpu1.ecc_pending=1\n gpu1.ecc_cv=9\n gpu1.clocks_reasons=0\n";

}  // namespace

TEST(depth_block_has_every_scripted_field) {
  std::string lib = FakePath("");
  Script(kDepth);
  CHECK(nvml::Acquire(lib.c_str()).ok);
  CHECK(std::string(nvml::GetApi().clocksReasonsName) == "nvmlDeviceGetCurrentClocksEventReasons");
  CHECK(nvml::GetApi().getTemperatureV != nullptr);
  auto b = Block(0);
  CHECK_EQ(b[kGpuStatus], 0.0);
  CHECK_EQ(b[kGpuTemperatureC], 56.0);
  CHECK_EQ(FakeCalls(lib, "temperature"), 0L);  // nvmlDeviceGetTemperatureV, not the deprecated call
  CHECK_EQ(FakeCalls(lib, "temperature_v"), 1L);
  CHECK_EQ(b[kGpuPerformanceState], 2.0);
  CHECK_EQ(b[kGpuClocksEventReasons], 68.0);  // 0x44: sw power cap | hw thermal slowdown
  CHECK_EQ(b[kGpuMemoryTemperatureC], 81.0);
  CHECK_EQ(b[kGpuEncoderUtilPercent], 12.0);
  CHECK_EQ(b[kGpuDecoderUtilPercent], 34.0);
  CHECK_EQ(b[kGpuPcieLinkGeneration], 4.0);
  CHECK_EQ(b[kGpuPcieLinkWidth], 8.0);
  CHECK_EQ(b[kGpuEccModeCurrent], 1.0);
  CHECK_EQ(b[kGpuEccModePending], 0.0);
  CHECK_EQ(b[kGpuEccCorrectedVolatile], 5.0);
  CHECK_EQ(b[kGpuEccUncorrectedVolatile], 1.0);
  CHECK_EQ(b[kGpuEccCorrectedAggregate], 123.0);
  CHECK_EQ(b[kGpuEccUncorrectedAggregate], 7.0);
  auto b1 = Block(1);
  CHECK_EQ(b1[kGpuStatus], 0.0);
  CHECK(std::isnan(b1[kGpuPerformanceState]));  // NVML_PSTATE_UNKNOWN
  CHECK_EQ(b1[kGpuClocksEventReasons], 0.0);     // a real "no reason", not unknown
  CHECK_EQ(b1[kGpuMemoryTemperatureC], 71.0);    // stand-in default 70 + index
  CHECK_EQ(b1[kGpuEncoderUtilPercent], 0.0);
  CHECK_EQ(b1[kGpuEccModeCurrent], 0.0);  // ECC off: mode known, counters unknown as a whole
  CHECK_EQ(b1[kGpuEccModePending], 1.0);
  CHECK(std::isnan(b1[kGpuEccCorrectedVolatile]));
  CHECK(std::isnan(b1[kGpuEccUncorrectedVolatile]));
  CHECK(std::isnan(b1[kGpuEccCorrectedAggregate]));
  CHECK(std::isnan(b1[kGpuEccUncorrectedAggregate]));
  CHECK_EQ(FakeCalls(lib, "ecc_counts"), 4L);  // gpu0's four; none for gpu1 (ECC off)
  CHECK_EQ(FakeCalls(lib, "field_energy"), 0L);  // the slow energy field is never in the batch
  nvml::Release();
}

TEST(depth_unsupported_fields_are_nan_and_not_asked_again) {
  std::string lib = FakePath("");
  Script("gpu0.unsupported=pstate,reasons,mem_temp,enc,dec,ecc,pcie_gen,pcie_width\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  auto b = Block(0);
  CHECK_EQ(b[kGpuStatus], 0.0);
  for (int slot = kGpuPerformanceState; slot <= kGpuEccUncorrectedAggregate; ++slot) CHECK(std::isnan(b[slot]));
  CHECK(!std::isnan(b[kGpuLoadPercent]));
  const char* counters[] = {"pstate", "reasons", "field_values", "encoder", "decoder", "ecc_mode", "pcie_link"};
  std::vector<long> before;
  for (const char* c : counters) before.push_back(FakeCalls(lib, c));
  // Past the slow refresh too: the unsupported slow fields are not asked again either.
  nvml::Devices()[0]->slow.readAtNs = 1;
  auto b2 = Block(0);
  for (int slot = kGpuPerformanceState; slot <= kGpuEccUncorrectedAggregate; ++slot) CHECK(std::isnan(b2[slot]));
  for (size_t i = 0; i < before.size(); ++i) CHECK_EQ(FakeCalls(lib, counters[i]), before[i]);
  nvml::Release();
}

TEST(depth_ecc_aggregate_unsupported_keeps_volatile) {
  std::string lib = FakePath("");
  Script("gpu0.ecc_cv=3\ngpu0.ecc_uv=2\ngpu0.unsupported=ecc_aggregate\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  auto b = Block(0);
  CHECK_EQ(b[kGpuEccModeCurrent], 1.0);
  CHECK_EQ(b[kGpuEccCorrectedVolatile], 3.0);
  CHECK_EQ(b[kGpuEccUncorrectedVolatile], 2.0);
  CHECK(std::isnan(b[kGpuEccCorrectedAggregate]));
  CHECK(std::isnan(b[kGpuEccUncorrectedAggregate]));
  nvml::Release();
}

TEST(depth_slow_fields_are_read_at_most_once_a_second) {
  std::string lib = FakePath("");
  Script("devices=2\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<double> out(2 * kGpuSlots);
  for (int i = 0; i < 200; ++i) CHECK_EQ(SampleAll(out.data(), 2, {}), 2);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long modeCalls = FakeCalls(lib, "ecc_mode");
  // One refresh per device at the start, then at most one per device per second elapsed.
  CHECK(modeCalls >= 2);
  CHECK(modeCalls <= 2 * (1 + static_cast<long>(seconds)));
  CHECK(FakeCalls(lib, "pcie_link") <= 2 * 2 * (1 + static_cast<long>(seconds)));
  CHECK_EQ(FakeCalls(lib, "pstate"), 400L);  // the cheap fields: every sample
  CHECK_EQ(out[kGpuSlots + kGpuPcieLinkWidth], 16.0);  // carried between refreshes
  CHECK_EQ(out[kGpuSlots + kGpuEccModeCurrent], 1.0);
  nvml::Release();
}

TEST(depth_sampling_path_never_makes_the_costly_calls) {
  std::string lib = FakePath("");
  Script("devices=2\ngpu0.gprocs=self:1048576\ngpu0.putil=self:1:1:1:1@5\ngpu0.mig=1\n");
  CHECK_EQ(AcquireForSampler(lib.c_str()), 2);
  std::vector<double> out(2 * kGpuSlots);
  for (int i = 0; i < 100; ++i) SampleAll(out.data(), 2, {});
  for (const char* c : {"pcie_throughput", "graphics", "process_util", "mig_mode", "field_energy", "energy"})
    CHECK_EQ(FakeCalls(lib, c), 0L);
  ReleaseForSampler();
}

TEST(depth_temperature_v_version_mismatch_falls_back_and_is_remembered) {
  std::string lib = FakePath("");
  Script("gpu0.temp=61\ngpu0.tempv_mismatch=1\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  for (int i = 0; i < 5; ++i) CHECK_EQ(Block(0)[kGpuTemperatureC], 61.0);
  CHECK_EQ(FakeCalls(lib, "temperature_v"), 1L);
  CHECK_EQ(FakeCalls(lib, "temperature"), 5L);
  nvml::Release();
}

TEST(depth_temperature_v_not_supported_tries_the_old_call_before_giving_up) {
  std::string lib = FakePath("");
  Script("gpu0.unsupported=temp\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  for (int i = 0; i < 3; ++i) CHECK(std::isnan(Block(0)[kGpuTemperatureC]));
  CHECK_EQ(FakeCalls(lib, "temperature_v"), 1L);  // each asked once, then neither again
  CHECK_EQ(FakeCalls(lib, "temperature"), 1L);
  nvml::Release();
  Script("gpu0.temp=52\ngpu0.unsupported=temp_v\n");  // a driver whose TemperatureV is a stub
  KeepLoaded keep(lib);
  CHECK(nvml::Acquire(lib.c_str()).ok);
  for (int i = 0; i < 3; ++i) CHECK_EQ(Block(0)[kGpuTemperatureC], 52.0);
  CHECK_EQ(FakeCalls(lib, "temperature_v"), 1L);
  CHECK_EQ(FakeCalls(lib, "temperature"), 3L);
  nvml::Release();
}

TEST(depth_old_driver_uses_the_older_symbols) {
  std::string lib = FakePath("OLD");
  Script("gpu0.temp=47\ngpu0.clocks_reasons=0x1\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  CHECK(nvml::GetApi().getTemperatureV == nullptr);
  CHECK(std::string(nvml::GetApi().clocksReasonsName) == "nvmlDeviceGetCurrentClocksThrottleReasons");
  CHECK_EQ(nvml::GetApi().eventWaitApi, 1);
  auto b = Block(0);
  CHECK_EQ(b[kGpuTemperatureC], 47.0);
  CHECK_EQ(b[kGpuClocksEventReasons], 1.0);  // gpu_idle, through the deprecated symbol
  nvml::Release();
}

TEST(depth_missing_symbols_leave_every_new_field_unknown) {
  std::string lib = FakePath("MISSING");
  Script("gpu0.procs=self:1048576\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  auto b = Block(0);
  CHECK_EQ(b[kGpuStatus], 0.0);
  for (int slot = kGpuPerformanceState; slot <= kGpuEccUncorrectedAggregate; ++slot) CHECK(std::isnan(b[slot]));
  ProcessDetails d;
  ReadDeviceDetails(0, b.data(), ThreadScratch(), d);
  CHECK_EQ(d.computeStatus, nvml::kNotSupported);  // found missing by the block read above, not asked again
  CHECK_EQ(d.graphicsStatus, nvml::kFunctionNotFound);
  CHECK_EQ(d.utilStatus, nvml::kFunctionNotFound);
  CHECK(d.processes.empty());
  MigInfo mig;
  ReadMig(0, mig);
  CHECK_EQ(mig.status, nvml::kFunctionNotFound);
  double tx, rx;
  ReadPcieThroughput(0, &tx, &rx);
  CHECK(std::isnan(tx) && std::isnan(rx));
  nvml::Release();
}

TEST(details_merge_compute_and_graphics_by_pid) {
  std::string lib = FakePath("");
  Script("gpu0.procs=self:1048576,2147480001:2097152:1:0,2147480002:na\n"
         "gpu0.gprocs=self:4194304,2147480003:3145728\n"
         "gpu0.ginsufficient_first=1\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  std::vector<double> block(kGpuSlots);
  ProcessDetails d;
  ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
  CHECK_EQ(d.computeStatus, nvml::kSuccess);
  CHECK_EQ(d.graphicsStatus, nvml::kSuccess);  // after the INSUFFICIENT_SIZE retry
  CHECK_EQ(d.processes.size(), size_t{4});
  for (size_t i = 1; i < d.processes.size(); ++i) CHECK(d.processes[i - 1].pid < d.processes[i].pid);
  const ProcessDetail* self = Find(d, kSelf);
  CHECK(self && self->types == (kProcessCompute | kProcessGraphics));
  if (self) {
    CHECK_EQ(self->usedBytes, 4 * kMiB);  // on both lists: the larger figure
    CHECK(self->name == "perfprobe_native_tests");  // comm is 15 bytes: widened from argv[0]
  }
  const ProcessDetail* mig = Find(d, 2147480001u);
  CHECK(mig && mig->types == kProcessCompute);
  if (mig) {
    CHECK_EQ(mig->usedBytes, 2 * kMiB);
    CHECK_EQ(mig->gpuInstanceId, 1.0);
    CHECK_EQ(mig->computeInstanceId, 0.0);
    CHECK(mig->name.empty());  // no such process here
  }
  const ProcessDetail* na = Find(d, 2147480002u);
  CHECK(na && std::isnan(na->usedBytes) && std::isnan(na->gpuInstanceId));
  const ProcessDetail* g = Find(d, 2147480003u);
  CHECK(g && g->types == kProcessGraphics && g->usedBytes == 3 * kMiB);
  CHECK_EQ(block[kGpuProcessMemoryBytes], 4 * kMiB);  // this process over both lists
  nvml::Release();
}

TEST(details_graphics_list_unsupported_keeps_compute) {
  std::string lib = FakePath("");
  Script("gpu0.procs=77:1048576\ngpu0.unsupported=gprocs\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  std::vector<double> block(kGpuSlots);
  ProcessDetails d;
  ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
  CHECK_EQ(d.graphicsStatus, nvml::kNotSupported);
  CHECK_EQ(d.processes.size(), size_t{1});
  long calls = FakeCalls(lib, "graphics");
  ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
  CHECK_EQ(FakeCalls(lib, "graphics"), calls);  // not asked again
  CHECK_EQ(d.processes.size(), size_t{1});
  nvml::Release();
}

TEST(details_process_utilization_newest_sample_since_last_read) {
  std::string lib = FakePath("");
  Script("gpu0.procs=self:1048576,4242:2097152,4343:1048576\n"
         "gpu0.putil=self:50:20:3:4@1000,4242:10:1:0:0@2000,self:70:25:6:8@3000\n"
         "gpu0.putil_insufficient_first=1\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  std::vector<double> block(kGpuSlots);
  ProcessDetails d;
  ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
  CHECK_EQ(d.utilStatus, nvml::kSuccess);
  const ProcessDetail* self = Find(d, kSelf);
  CHECK(self != nullptr);
  if (self) {
    CHECK_EQ(self->smUtil, 70.0);  // the newest of its two samples
    CHECK_EQ(self->memUtil, 25.0);
    CHECK_EQ(self->encUtil, 6.0);
    CHECK_EQ(self->decUtil, 8.0);
    CHECK_EQ(self->utilTimestampUs, 3000.0);
  }
  const ProcessDetail* p = Find(d, 4242);
  CHECK(p && p->smUtil == 10.0 && p->memUtil == 1.0);
  const ProcessDetail* none = Find(d, 4343);
  CHECK(none && std::isnan(none->smUtil) && std::isnan(none->decUtil));  // not sampled: unknown, not 0
  CHECK_EQ(static_cast<double>(nvml::Devices()[0]->processUtilSeenUs.load()), 3000.0);
  // No sample after 3000 us: this read has none (NOT_FOUND), every pid unknown.
  ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
  CHECK_EQ(d.utilStatus, nvml::kNotFound);
  self = Find(d, kSelf);
  CHECK(self && std::isnan(self->smUtil));
  nvml::Release();
}

TEST(details_process_utilization_unsupported_under_mig_is_asked_once) {
  std::string lib = FakePath("");
  Script("gpu0.mig=1\ngpu0.procs=self:1048576\ngpu0.putil=self:1:1:1:1@5\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  std::vector<double> block(kGpuSlots);
  ProcessDetails d;
  ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
  CHECK_EQ(d.utilStatus, nvml::kNotSupported);
  CHECK(std::isnan(block[kGpuEncoderUtilPercent]));  // codecs too, as NVML documents for MIG
  long calls = FakeCalls(lib, "process_util");
  ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
  CHECK_EQ(FakeCalls(lib, "process_util"), calls);
  nvml::Release();
}

TEST(details_mig_mode_and_devices) {
  std::string lib = FakePath("");
  Script("devices=3\n"
         "gpu0.mig=1\ngpu0.mig_pending=1\n"
         "gpu0.mig_devices=1:0:10737418240:1073741824,2:0:21474836480:0:MIG-abcd-ef\n"
         "gpu1.mig=0\ngpu1.mig_pending=1\n"
         "gpu2.unsupported=mig\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  MigInfo m;
  ReadMig(0, m);
  CHECK_EQ(m.status, nvml::kSuccess);
  CHECK(m.currentMode && m.pendingMode);
  CHECK_EQ(m.devices.size(), size_t{2});  // the third index answers NOT_FOUND: a gap, skipped
  if (m.devices.size() == 2) {
    CHECK_EQ(m.devices[0].index, 0u);
    CHECK(m.devices[0].uuid == "MIG-fake-0-0");
    CHECK_EQ(m.devices[0].gpuInstanceId, 1.0);
    CHECK_EQ(m.devices[0].computeInstanceId, 0.0);
    CHECK_EQ(m.devices[0].memoryTotalBytes, 10737418240.0);
    CHECK_EQ(m.devices[0].memoryUsedBytes, 1073741824.0);
    CHECK(m.devices[1].uuid == "MIG-abcd-ef");
    CHECK_EQ(m.devices[1].gpuInstanceId, 2.0);
    CHECK_EQ(m.devices[1].memoryUsedBytes, 0.0);
  }
  ReadMig(1, m);
  CHECK_EQ(m.status, nvml::kSuccess);
  CHECK(!m.currentMode && m.pendingMode);
  CHECK(m.devices.empty());
  ReadMig(2, m);
  CHECK_EQ(m.status, nvml::kNotSupported);
  long calls = FakeCalls(lib, "mig_mode");
  ReadMig(2, m);
  CHECK_EQ(FakeCalls(lib, "mig_mode"), calls);
  nvml::Release();
}

TEST(details_pcie_throughput_on_request) {
  std::string lib = FakePath("");
  Script("devices=2\ngpu0.pcie_tx_kbps=1234\ngpu0.pcie_rx_kbps=5678\ngpu1.unsupported=pcie_throughput\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  double tx, rx;
  ReadPcieThroughput(0, &tx, &rx);
  CHECK_EQ(tx, 1234.0);
  CHECK_EQ(rx, 5678.0);
  ReadPcieThroughput(1, &tx, &rx);
  CHECK(std::isnan(tx) && std::isnan(rx));
  long calls = FakeCalls(lib, "pcie_throughput");
  ReadPcieThroughput(1, &tx, &rx);
  CHECK_EQ(FakeCalls(lib, "pcie_throughput"), calls);
  nvml::Release();
}

TEST(details_v1_and_drift_graphics_lists) {
  {
    std::string lib = FakePath("V1");
    Script("gpu0.gprocs=303:1048576\n");
    CHECK(nvml::Acquire(lib.c_str()).ok);
    CHECK_EQ(nvml::GetApi().graphicsProcessApi, 1);
    std::vector<double> block(kGpuSlots);
    ProcessDetails d;
    ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
    CHECK_EQ(d.processes.size(), size_t{1});
    if (!d.processes.empty()) CHECK(std::isnan(d.processes[0].gpuInstanceId));  // v1 has no instance ids
    nvml::Release();
  }
  {
    std::string lib = FakePath("");
    Script("driver=535.54.03\ngpu0.gprocs=101:1048576,202:2097152:3:4\n");
    CHECK(nvml::Acquire(lib.c_str()).ok);
    CHECK_EQ(nvml::GetApi().graphicsProcessStride, size_t{32});
    std::vector<double> block(kGpuSlots);
    ProcessDetails d;
    ReadDeviceDetails(0, block.data(), ThreadScratch(), d);
    CHECK_EQ(d.processes.size(), size_t{2});
    const ProcessDetail* p = Find(d, 202);
    CHECK(p && p->usedBytes == 2 * kMiB && p->gpuInstanceId == 3.0 && p->computeInstanceId == 4.0);
    nvml::Release();
  }
}

TEST(depth_error_names_cover_nvml_h_13) {
  for (int code = 0; code <= 30; ++code)
    CHECK(std::string(nvml::ErrorName(code)) != "NVML_ERROR_UNRECOGNIZED");
  CHECK(std::string(nvml::ErrorName(30)) == "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED");
  CHECK(std::string(nvml::ErrorName(31)) == "NVML_ERROR_UNRECOGNIZED");
}
