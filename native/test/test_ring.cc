// Native tests of the sampler's chunked record ring (ring.h): growth as
// records arrive, wrap, overflow (the oldest dropped), partial drains across
// chunk ends, reuse of emptied chunks, a failed allocation, and a random run
// against a simple model. Run under ASan/UBSan by `npm run test:native`.
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "check.h"
#include "ring.h"

using namespace perfprobe;

namespace {
// Slots per record for which a 64 KiB chunk holds exactly `records` records.
size_t SlotsFor(size_t records) { return RecordRing::kChunkBytes / sizeof(double) / records; }

// Add() as the sampler does it: allocate a chunk when the ring asks for one.
RecordRing::Push Add(RecordRing& ring, double value) {
  std::vector<double> rec(ring.RecordSlots(), value);
  RecordRing::Push p = ring.Add(rec.data(), nullptr);
  if (p == RecordRing::Push::kNeedsChunk) {
    std::unique_ptr<double[]> chunk(new double[ring.ChunkDoubles()]);
    p = ring.Add(rec.data(), &chunk);
  }
  return p;
}

std::vector<double> DrainFirsts(RecordRing& ring, uint32_t max) {
  std::vector<double> out(static_cast<size_t>(max) * ring.RecordSlots());
  uint32_t n = ring.Drain(out.data(), max);
  std::vector<double> firsts;
  for (uint32_t i = 0; i < n; ++i) {
    firsts.push_back(out[i * ring.RecordSlots()]);
    // every slot of a record carries its value: nothing torn across chunks
    for (size_t k = 1; k < ring.RecordSlots(); ++k) CHECK_EQ(out[i * ring.RecordSlots() + k], firsts.back());
  }
  return firsts;
}
}  // namespace

TEST(RingAllocatesNothingUntilRecordsArriveThenOneChunkAtATime) {
  RecordRing ring;
  ring.Reset(65536, 11);  // the Sampler's default capacity, memory-only records
  CHECK_EQ(ring.AllocatedBytes(), 0u);
  CHECK(ring.MaxBytes() >= 65536ull * 11 * 8);
  CHECK(ring.MaxBytes() <= 65536ull * 11 * 8 + 2 * RecordRing::kChunkBytes);
  const uint64_t chunk = ring.ChunkDoubles() * sizeof(double);
  CHECK(chunk <= RecordRing::kChunkBytes);
  CHECK(ring.Add(std::vector<double>(11, 1).data(), nullptr) == RecordRing::Push::kNeedsChunk);
  CHECK_EQ(ring.Count(), 0u);  // nothing changed
  CHECK(Add(ring, 1) == RecordRing::Push::kStored);
  CHECK_EQ(ring.AllocatedBytes(), chunk);
  for (uint32_t i = 1; i < ring.ChunkRecords(); ++i) Add(ring, 1);
  CHECK_EQ(ring.AllocatedBytes(), chunk);  // the first chunk is exactly full
  Add(ring, 1);
  CHECK_EQ(ring.AllocatedBytes(), 2 * chunk);
}

TEST(RingWrapsAndDropsTheOldestAtCapacity) {
  RecordRing ring;
  ring.Reset(10, SlotsFor(4));  // 4 records per chunk, capacity 10
  CHECK_EQ(ring.ChunkRecords(), 4u);
  int dropped = 0;
  for (int i = 0; i < 25; ++i) dropped += Add(ring, i) == RecordRing::Push::kDroppedOldest;
  CHECK_EQ(dropped, 15);
  CHECK_EQ(ring.Count(), 10u);
  CHECK(ring.AllocatedBytes() <= ring.MaxBytes());
  std::vector<double> got = DrainFirsts(ring, 100);
  CHECK_EQ(got.size(), 10u);
  for (size_t i = 0; i < got.size(); ++i) CHECK_EQ(got[i], 15.0 + static_cast<double>(i));
  CHECK_EQ(ring.Count(), 0u);
}

TEST(RingPartialDrainsCrossChunkEnds) {
  RecordRing ring;
  ring.Reset(100, SlotsFor(4));
  for (int i = 0; i < 11; ++i) Add(ring, i);
  std::vector<double> a = DrainFirsts(ring, 3), b = DrainFirsts(ring, 6), c = DrainFirsts(ring, 50);
  CHECK_EQ(a.size(), 3u);
  CHECK_EQ(b.size(), 6u);
  CHECK_EQ(c.size(), 2u);
  std::vector<double> all(a);
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  for (size_t i = 0; i < all.size(); ++i) CHECK_EQ(all[i], static_cast<double>(i));
}

TEST(RingDrainedPromptlyStaysSmall) {
  RecordRing ring;
  ring.Reset(65536, SlotsFor(4));
  const uint64_t chunk = ring.ChunkDoubles() * sizeof(double);
  uint64_t most = 0;
  for (int round = 0; round < 2000; ++round) {  // many times round a 65,536-record bound
    for (int k = 0; k < 3; ++k) Add(ring, round);
    most = std::max<uint64_t>(most, ring.AllocatedBytes());
    CHECK_EQ(DrainFirsts(ring, 10).size(), 3u);
  }
  // Emptied chunks are reused: never more than the chunks in use plus the spares.
  CHECK(most <= (2 + RecordRing::kMaxSpareChunks) * chunk);
}

TEST(RingFailedAllocationLosesOnlyTheNewRecord) {
  RecordRing ring;
  ring.Reset(8, SlotsFor(4));
  for (int i = 0; i < 4; ++i) Add(ring, i);
  std::unique_ptr<double[]> none;
  std::vector<double> rec(ring.RecordSlots(), 99);
  CHECK(ring.Add(rec.data(), &none) == RecordRing::Push::kNoMemory);
  CHECK_EQ(ring.Count(), 4u);
  std::vector<double> got = DrainFirsts(ring, 8);
  CHECK_EQ(got.size(), 4u);
  CHECK_EQ(got[3], 3.0);
}

TEST(RingMatchesAModelOverRandomAddsAndDrains) {
  std::mt19937 rng(12345);
  for (uint32_t capacity : {1u, 3u, 4u, 5u, 37u}) {
    RecordRing ring;
    ring.Reset(capacity, SlotsFor(4));
    std::deque<double> model;
    double next = 0;
    uint64_t drops = 0, modelDrops = 0;
    for (int step = 0; step < 3000; ++step) {
      if (rng() % 3 != 0) {
        drops += Add(ring, next) == RecordRing::Push::kDroppedOldest;
        model.push_back(next++);
        if (model.size() > capacity) {
          model.pop_front();
          ++modelDrops;
        }
      } else {
        uint32_t max = rng() % (capacity + 3);
        std::vector<double> got = DrainFirsts(ring, max);
        size_t want = std::min<size_t>(max, model.size());
        CHECK_EQ(got.size(), want);
        for (size_t i = 0; i < got.size() && i < want; ++i) CHECK_EQ(got[i], model[i]);
        model.erase(model.begin(), model.begin() + static_cast<long>(want));
      }
      CHECK_EQ(ring.Count(), static_cast<uint32_t>(model.size()));
      CHECK(ring.AllocatedBytes() <= ring.MaxBytes());
    }
    CHECK_EQ(drops, modelDrops);
  }
}
