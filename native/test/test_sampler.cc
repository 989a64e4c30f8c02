// Native tests of the sampler thread and its ring (sampler.cc). Timing
// checks are lower bounds only (a record k is never taken before start +
// k x interval), and a test that needs n records waits until the sampler
// has written them (WaitForWritten: bounded in polls, not a fixed sleep), so
// a slow, loaded or sanitized run cannot make them flaky.
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include "check.h"
#include "record.h"
#include "sampler.h"

#if defined(__linux__)
#include <dirent.h>
#include <unistd.h>
#endif

using namespace perfprobe;

namespace {
double NowNs() {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

SamplerOptions Options(double intervalMs, uint32_t capacity) {
  SamplerOptions o;
  o.intervalMs = intervalMs;
  o.capacityRecords = capacity;
  return o;
}

// Waits until the sampler has written `n` records: up to 100,000 polls 1 ms
// apart (a bound on the work, far beyond what any machine needs).
void WaitForWritten(const Sampler& s, double n) {
  for (int i = 0; i < 100000 && s.Stats().written < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
}  // namespace

TEST(SamplerTicksAndWritesRecords) {
  Sampler s;
  double t0 = NowNs();
  CHECK(s.Start(Options(5, 1000)));
  WaitForWritten(s, 10);
  s.Stop();
  double elapsedMs = (NowNs() - t0) / 1e6;
  SamplerStats st = s.Stats();
  CHECK(!st.running);
  CHECK_EQ(st.recordSlots, kRecordGpuOffset);
  CHECK_EQ(st.gpuCount, 0);
  CHECK(st.written >= 10);
  CHECK(st.written <= elapsedMs / 5 + 1);  // never faster than one per 5 ms (+ the first at once)
  CHECK_EQ(st.dropped, 0.0);

  std::vector<double> out(1000 * st.recordSlots);
  uint32_t n = s.Drain(out.data(), 1000);
  CHECK_EQ(static_cast<double>(n), st.written);
  for (uint32_t i = 0; i < n; ++i) {
    const double* r = &out[i * st.recordSlots];
    CHECK(r[kMonotonicNs] >= t0 + i * 5e6 - 1e5);  // absolute deadlines: record i not before start + i x interval
    CHECK(r[kWallClockMs] > 1.5e12);
    CHECK(std::isnan(r[kTreeRssBytes]));
    CHECK_EQ(r[kGpuCountSlot], 0.0);
    CHECK(r[kRecordMemoryOffset + kMemTotalBytes] > 0);
    CHECK(r[kRecordMemoryOffset + kProcessRssBytes] > 0);
    if (i > 0) CHECK(r[kMonotonicNs] > out[(i - 1) * st.recordSlots + kMonotonicNs]);
  }
  CHECK_EQ(s.Drain(out.data(), 1000), 0u);  // drained records are gone
}

TEST(SamplerOverflowDropsOldestAndCountsDrops) {
  Sampler s;
  double t0 = NowNs();
  CHECK(s.Start(Options(1, 4)));
  WaitForWritten(s, 10);
  s.Stop();
  SamplerStats st = s.Stats();
  CHECK(st.written >= 10);
  CHECK_EQ(st.dropped, st.written - 4);
  std::vector<double> out(10 * st.recordSlots);
  uint32_t n = s.Drain(out.data(), 10);
  CHECK_EQ(n, 4u);
  // The survivors are the newest: record k is taken no earlier than t0 + k ms,
  // and the oldest kept is record written - 4.
  CHECK(out[kMonotonicNs] >= t0 + (st.written - 4) * 1e6 - 1e5);
  for (uint32_t i = 1; i < n; ++i) CHECK(out[i * st.recordSlots] > out[(i - 1) * st.recordSlots]);
}

TEST(SamplerStartAndStopTwiceAreHarmless) {
  Sampler s;
  s.Stop();  // stopped: no-op
  CHECK(s.Start(Options(2, 64)));
  CHECK(!s.Start(Options(50, 2)));  // running: no-op, options unchanged
  CHECK_EQ(s.RecordSlots(), kRecordGpuOffset);
  WaitForWritten(s, 2);
  s.Stop();
  s.Stop();
  double firstRun = s.Stats().written;
  CHECK(firstRun >= 2);
  // Restart clears ring and counters (a 24 h interval: the first record only).
  CHECK(s.Start(Options(86400000, 8)));
  WaitForWritten(s, 1);
  SamplerStats st = s.Stats();
  CHECK(st.running);
  CHECK_EQ(st.written, 1.0);  // the immediate first record only
  std::vector<double> out(8 * st.recordSlots);
  CHECK_EQ(s.Drain(out.data(), 8), 1u);
  // Destructor of a running sampler stops and joins (checked by the sanitizer run).
}

TEST(SamplerDrainIsOldestFirstAcrossTheRingEnd) {
  Sampler s;
  CHECK(s.Start(Options(1, 8)));
  WaitForWritten(s, 30);  // wraps the ring several times
  s.Stop();
  int slots = s.RecordSlots();
  std::vector<double> a(3 * slots), b(8 * slots);
  uint32_t na = s.Drain(a.data(), 3);  // partial drain
  uint32_t nb = s.Drain(b.data(), 8);
  CHECK_EQ(na, 3u);
  CHECK_EQ(nb, 5u);
  for (uint32_t i = 1; i < na; ++i) CHECK(a[i * slots] > a[(i - 1) * slots]);
  CHECK(b[0] > a[(na - 1) * slots]);
  for (uint32_t i = 1; i < nb; ++i) CHECK(b[i * slots] > b[(i - 1) * slots]);
}

TEST(SamplerDrainWhileRunning) {
  Sampler s;
  CHECK(s.Start(Options(1, 100000)));
  std::vector<double> out(100000 * static_cast<size_t>(kRecordGpuOffset));
  double last = 0;
  uint32_t total = 0;
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    uint32_t n = s.Drain(out.data(), 100000);
    for (uint32_t k = 0; k < n; ++k) {
      CHECK(out[k * kRecordGpuOffset] > last);
      last = out[k * kRecordGpuOffset];
    }
    total += n;
  }
  s.Stop();
  total += s.Drain(out.data(), 100000);
  SamplerStats st = s.Stats();
  CHECK_EQ(static_cast<double>(total), st.written);
  CHECK_EQ(st.dropped, 0.0);
}

#if defined(__linux__)
TEST(SamplerWatchesProcessTree) {
  Sampler s;
  SamplerOptions o = Options(5, 16);
  o.watchPid = static_cast<int32_t>(getpid());
  CHECK(s.Start(o));
  WaitForWritten(s, 1);
  s.Stop();
  std::vector<double> out(16 * kRecordGpuOffset);
  uint32_t n = s.Drain(out.data(), 16);
  CHECK(n >= 1);
  CHECK(out[kTreeRssBytes] > 1048576.0);

  o.watchPid = 2147483646;  // no such process
  CHECK(s.Start(o));
  WaitForWritten(s, 1);
  s.Stop();
  CHECK(s.Drain(out.data(), 16) >= 1);
  CHECK(std::isnan(out[kTreeRssBytes]));
}
#endif

#if defined(__linux__)
// The watched tree's files are kept open only while the thread runs.
TEST(SamplerWatchingATreeHoldsNoDescriptorsOnceStopped) {
  auto fds = [] {
    size_t n = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d)) ++n;
      closedir(d);
    }
    return n;
  };
  size_t before = fds();
  Sampler s;
  SamplerOptions o = Options(1, 64);
  o.watchPid = static_cast<int32_t>(getpid());
  CHECK(s.Start(o));
  WaitForWritten(s, 3);
  s.Stop();
  CHECK(s.Stats().written >= 3);
  CHECK_EQ(fds(), before);
}
#endif

TEST(SamplerRejectsARingOverTheLimit) {
  Sampler s;
  SamplerOptions o = Options(10, 1u << 24);
  o.maxRingBytes = 1024.0 * 1024;
  bool threw = false;
  try {
    s.Start(o);
  } catch (const std::length_error&) {
    threw = true;
  }
  CHECK(threw);
  CHECK(!s.Stats().running);
  CHECK(s.Start(Options(10, 4)));  // still usable afterwards
  s.Stop();
}

// start() faults in no ring: a sampler at the default 65,536 records holds
// one 64 KiB chunk after its first record, and its bound is reported.
TEST(SamplerRingGrowsWithRecordsNotWithCapacity) {
  Sampler s;
  CHECK(s.Start(Options(86400000, 65536)));  // 24 h: the first record only
  std::vector<double> out(4 * kRecordGpuOffset);
  WaitForWritten(s, 1);  // the first record comes at once
  SamplerStats st = s.Stats();
  CHECK(st.written >= 1);
  CHECK(st.ringBytes > 0);
  CHECK(st.ringBytes <= static_cast<double>(RecordRing::kChunkBytes));
  CHECK(st.ringMaxBytes >= 65536.0 * kRecordGpuOffset * 8);
  s.Stop();
  CHECK_EQ(s.Drain(out.data(), 4), 1u);
}

TEST(SamplerManyStartStopCycles) {
  Sampler s;
  for (int i = 0; i < 50; ++i) {
    CHECK(s.Start(Options(1, 16)));
    s.Stop();
  }
  CHECK(!s.Stats().running);
}
