// Native tests of the GPU event thread (gpu_events.cc) against the stand-in
// NVML's scripted events: start, deliver, close while blocked, registration
// failures reported (not thrown), several watchers at once, and a process
// that exits while its watcher is blocked in the wait. Waits for events are
// bounded by a count and a generous deadline, never asserted on time.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../gpu/gpu_events.h"
#include "../gpu/nvml_loader.h"
#include "check.h"
#include "fake_nvml_paths.h"

using namespace perfprobe;
using namespace perfprobe::gpu;
using namespace perfprobe::test;

namespace {

// Collects events from the watcher thread.
struct Collector {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<GpuEvent> events;

  EventWatcher::Sink Sink() {
    return [this](GpuEvent&& e) {
      std::lock_guard<std::mutex> lock(mutex);
      events.push_back(std::move(e));
      cv.notify_all();
      return true;
    };
  }
  // Waits until `n` events arrived (or 20 s passed: then the checks fail).
  std::vector<GpuEvent> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return events.size() >= n; });
    return events;
  }
};

const char* kEvents =
    "devices=2\n"
    "gpu0.uuid=GPU-aaaa\n"
    "gpu0.events=xid:79@30,sbe@5,dbe@5\n"
    "gpu1.uuid=GPU-bbbb\n"
    "gpu1.supported_events=0x1f\n"
    "gpu1.clocks_reasons=0x4\n"
    "gpu1.events=clock@20,pstate@0,xid:13:1:2@5\n";

}  // namespace

TEST(events_start_deliver_close) {
  std::string lib = FakePath("");
  Script(kEvents);
  KeepLoaded keep(lib);
  Collector c;
  {
    EventWatcher w;
    CHECK(w.Start(c.Sink(), lib.c_str()));
    CHECK(w.Running());
    CHECK_EQ(w.WaitApi(), 2);
    CHECK_EQ(w.Registered().size(), size_t{2});
    CHECK(w.Unregistered().empty());
    if (w.Registered().size() == 2) {
      CHECK_EQ(w.Registered()[0].eventTypes, 0xBull);   // xid | sbe | dbe: no clock events on gpu0
      CHECK_EQ(w.Registered()[1].eventTypes, 0x1Bull);  // and clock changes where supported
    }
    auto ev = c.WaitFor(5);
    w.Stop();
    CHECK(!w.Running());
    CHECK_EQ(w.Delivered(), 5.0);
    CHECK_EQ(w.Dropped(), 0.0);
    CHECK_EQ(ev.size(), size_t{5});  // the P-state event was not registered: never delivered
    int xid79 = 0, xid13 = 0, sbe = 0, dbe = 0, clock = 0;
    for (const GpuEvent& e : ev) {
      CHECK(e.timestampMs > 1.5e12);
      if (e.type == GpuEventType::kXid && e.eventData == 79) {
        ++xid79;
        CHECK_EQ(e.gpuId, 0);
        CHECK(e.uuid == "GPU-aaaa");
        CHECK(std::isnan(e.gpuInstanceId));
        CHECK(std::isnan(e.reasons));
      } else if (e.type == GpuEventType::kXid && e.eventData == 13) {
        ++xid13;
        CHECK_EQ(e.gpuId, 1);
        CHECK_EQ(e.gpuInstanceId, 1.0);  // MIG attribution through the _v2 struct
        CHECK_EQ(e.computeInstanceId, 2.0);
      } else if (e.type == GpuEventType::kEccSingleBit) {
        ++sbe;
        CHECK_EQ(e.gpuId, 0);
        CHECK_EQ(e.eventType, 0x1ull);
      } else if (e.type == GpuEventType::kEccDoubleBit) {
        ++dbe;
        CHECK_EQ(e.eventData, 0ull);
      } else if (e.type == GpuEventType::kClocks) {
        ++clock;
        CHECK_EQ(e.gpuId, 1);
        CHECK(e.uuid == "GPU-bbbb");
        CHECK_EQ(e.reasons, 4.0);  // read at delivery: sw power cap
      }
    }
    CHECK_EQ(xid79 + xid13 + sbe + dbe + clock, 5);
    CHECK(xid79 == 1 && xid13 == 1 && sbe == 1 && dbe == 1 && clock == 1);
    CHECK(std::string(GpuEventTypeName(GpuEventType::kClocks)) == "clocks_event");
  }
  CHECK_EQ(FakeCalls(lib, "event_sets_live"), 0L);  // freed by Stop
  CHECK_EQ(nvml::References(), 0);                  // its NVML reference given back
}

TEST(events_close_while_blocked_returns_and_frees) {
  std::string lib = FakePath("");
  Script("devices=1\n");  // no events: the thread stays in the wait
  CHECK(nvml::Acquire(lib.c_str()).ok);
  EventWatcher w;
  Collector c;
  CHECK(w.Start(c.Sink(), lib.c_str()));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  CHECK(FakeCalls(lib, "event_wait") >= 1);
  w.Stop();
  CHECK(!w.Running());
  CHECK_EQ(FakeCalls(lib, "event_sets_live"), 0L);
  CHECK_EQ(FakeCalls(lib, "event_set_free"), FakeCalls(lib, "event_set_create"));
  w.Stop();  // idempotent
  CHECK_EQ(nvml::References(), 1);  // only the test's own
  CHECK(w.Start(c.Sink(), lib.c_str()));  // restartable
  w.Stop();
  nvml::Release();
}

TEST(events_unregisterable_gpus_are_listed_not_thrown) {
  std::string lib = FakePath("");
  Script("devices=4\n"
         "gpu0.events=xid:31@5\n"
         "gpu1.register_error=999\n"     // UNKNOWN: the set is remade, gpu0 registered again
         "gpu2.supported_events=0x4\n"   // P-state only: nothing we want
         "gpu3.register_error=3\n");     // NOT_SUPPORTED for every type
  KeepLoaded keep(lib);
  Collector c;
  EventWatcher w;
  CHECK(w.Start(c.Sink(), lib.c_str()));
  CHECK_EQ(w.Registered().size(), size_t{1});
  CHECK_EQ(w.Unregistered().size(), size_t{3});
  if (w.Unregistered().size() == 3) {
    CHECK_EQ(w.Unregistered()[0].gpuId, 1);
    CHECK_EQ(w.Unregistered()[0].code, nvml::kUnknown);
    CHECK_EQ(w.Unregistered()[1].gpuId, 2);
    CHECK_EQ(w.Unregistered()[1].code, nvml::kNotSupported);
    CHECK_EQ(w.Unregistered()[2].gpuId, 3);
    CHECK_EQ(w.Unregistered()[2].code, nvml::kNotSupported);
  }
  CHECK_EQ(FakeCalls(lib, "event_set_create"), 2L);  // the UNKNOWN one replaced
  CHECK_EQ(FakeCalls(lib, "event_sets_live"), 1L);
  auto ev = c.WaitFor(1);  // gpu0 still delivers through the new set
  CHECK_EQ(ev.size(), size_t{1});
  if (!ev.empty()) CHECK_EQ(ev[0].eventData, 31ull);
  w.Stop();
  CHECK_EQ(FakeCalls(lib, "event_sets_live"), 0L);
}

TEST(events_set_that_cannot_be_created_starts_nothing) {
  std::string lib = FakePath("");
  Script("devices=2\nevent_set_error=20\n");
  Collector c;
  EventWatcher w;
  CHECK(!w.Start(c.Sink(), lib.c_str()));
  CHECK(!w.Running());
  CHECK_EQ(w.SetCreateCode(), nvml::kMemory);
  CHECK_EQ(w.Unregistered().size(), size_t{2});
  for (const EventRegistration& r : w.Unregistered()) CHECK_EQ(r.code, nvml::kMemory);
  CHECK_EQ(nvml::References(), 0);  // its reference given back at once
  w.Stop();
}

TEST(events_missing_symbols_start_nothing) {
  std::string lib = FakePath("MISSING");
  Script("devices=1\n");
  Collector c;
  EventWatcher w;
  CHECK(!w.Start(c.Sink(), lib.c_str()));
  CHECK_EQ(w.Unregistered().size(), size_t{1});
  if (!w.Unregistered().empty()) CHECK_EQ(w.Unregistered()[0].code, nvml::kFunctionNotFound);
  CHECK_EQ(nvml::References(), 0);
}

TEST(events_nvml_unavailable_says_why) {
  Collector c;
  EventWatcher w;
  CHECK(!w.Start(c.Sink(), "/nonexistent/libnvidia-ml.so.1"));
  CHECK(w.OpenError().find("/nonexistent/libnvidia-ml.so.1") != std::string::npos);
}

TEST(events_old_driver_unversioned_wait) {
  std::string lib = FakePath("OLD");
  Script("gpu0.events=xid:48:3:4@5\n");
  Collector c;
  EventWatcher w;
  CHECK(w.Start(c.Sink(), lib.c_str()));
  CHECK_EQ(w.WaitApi(), 1);
  auto ev = c.WaitFor(1);
  w.Stop();
  CHECK_EQ(ev.size(), size_t{1});
  if (!ev.empty()) {
    CHECK_EQ(ev[0].eventData, 48ull);
    CHECK(std::isnan(ev[0].gpuInstanceId));  // the old struct has no instance ids
  }
}

TEST(events_wait_errors_back_off_and_stop) {
  std::string lib = FakePath("");
  Script("event_wait_error=999\n");
  Collector c;
  EventWatcher w;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(w.Start(c.Sink(), lib.c_str()));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  w.Stop();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(w.WaitErrors() >= 1);
  // At least one slice between errors: a broken set cannot spin a core.
  CHECK(w.WaitErrors() <= ms / EventWatcher::kWaitSliceMs + 1);
}

TEST(events_dropped_when_the_sink_refuses) {
  std::string lib = FakePath("");
  Script("gpu0.events=sbe@1,sbe@1,sbe@1\n");
  std::mutex m;
  std::condition_variable cv;
  int seen = 0;
  EventWatcher w;
  CHECK(w.Start(
      [&](GpuEvent&&) {
        std::lock_guard<std::mutex> lock(m);
        ++seen;
        cv.notify_all();
        return seen != 2;  // the second is "queue full"
      },
      lib.c_str()));
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return seen >= 3; });
  }
  w.Stop();
  CHECK_EQ(w.Delivered(), 2.0);
  CHECK_EQ(w.Dropped(), 1.0);
}

TEST(events_several_watchers_each_get_every_event) {
  std::string lib = FakePath("");
  Script("devices=2\ngpu0.events=xid:94@10,dbe@5\ngpu1.events=sbe@15\n");
  CHECK(nvml::Acquire(lib.c_str()).ok);
  constexpr int kWatchers = 4;
  std::vector<std::unique_ptr<Collector>> cs;
  std::vector<std::unique_ptr<EventWatcher>> ws;
  std::vector<std::thread> starters;
  for (int i = 0; i < kWatchers; ++i) {
    cs.push_back(std::make_unique<Collector>());
    ws.push_back(std::make_unique<EventWatcher>());
  }
  std::vector<int> started(kWatchers, 0);
  for (int i = 0; i < kWatchers; ++i)  // started from several threads at once
    starters.emplace_back([&, i] { started[i] = ws[i]->Start(cs[i]->Sink(), lib.c_str()); });
  for (auto& t : starters) t.join();
  for (int i = 0; i < kWatchers; ++i) {
    CHECK(started[i]);
    CHECK_EQ(cs[i]->WaitFor(3).size(), size_t{3});
  }
  CHECK_EQ(FakeCalls(lib, "event_sets_live"), static_cast<long>(kWatchers));
  std::vector<std::thread> stoppers;
  for (int i = 0; i < kWatchers; ++i) stoppers.emplace_back([&, i] { ws[i]->Stop(); });
  for (auto& t : stoppers) t.join();
  CHECK_EQ(FakeCalls(lib, "event_sets_live"), 0L);
  CHECK_EQ(nvml::References(), 1);
  nvml::Release();
}

TEST(events_process_exit_while_blocked_is_clean) {
  std::string lib = FakePath("");
  Script("devices=2\n");
  std::string log = TempDir() + "/exit-log.txt";
  std::remove(log.c_str());
  setenv("PERFPROBE_FAKE_NVML_LOG", log.c_str(), 1);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // The child: a watcher blocked in the wait (no events scripted) when exit() runs.
    static EventWatcher* w = new EventWatcher();  // reachable: the exit handler must stop it
    static Collector* c = new Collector();
    if (!w->Start(c->Sink(), lib.c_str())) std::_Exit(3);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::exit(7);
  }
  unsetenv("PERFPROBE_FAKE_NVML_LOG");
  CHECK(pid > 0);
  int status = 0;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 7);
  std::ifstream in(log);
  std::string line, all;
  while (std::getline(in, line)) all += line + ";";
  // The atexit handler joined the thread and freed the set before NVML went.
  CHECK(all.find("event_set_create;") != std::string::npos);
  CHECK(all.find("event_set_free;") != std::string::npos);
  CHECK(all.find("event_set_free;") > all.find("event_set_create;"));
}
