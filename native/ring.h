// The sampler's record ring: a bounded FIFO of fixed-size records (doubles)
// kept in chunks of about 64 KiB that are allocated as records arrive, so a
// ring sized for the worst case costs only what it holds. When it holds
// `capacity` records a new one drops the oldest. Not thread-safe (the
// Sampler guards it with its mutex). Free of Node-API; header-only so the
// native tests and the addon share it without another source file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace perfprobe {

class RecordRing {
 public:
  static constexpr size_t kChunkBytes = 64 * 1024;
  // Emptied chunks kept for reuse (beyond them, freed), so a ring drained
  // promptly cycles through two chunks without allocating.
  static constexpr size_t kMaxSpareChunks = 2;

  enum class Push {
    kStored,         // stored
    kDroppedOldest,  // stored; the ring was full and lost its oldest record
    kNeedsChunk,     // not stored: call again with a chunk of ChunkDoubles()
    kNoMemory,       // not stored: a chunk was needed and `chunk` was empty
  };

  // Empties the ring, frees every chunk, and sets its shape. Allocates only
  // the chunk table (a pointer per chunk of the bound); throws bad_alloc.
  void Reset(uint32_t capacityRecords, size_t recordSlots) {
    slots_ = recordSlots < 1 ? 1 : recordSlots;
    capacity_ = capacityRecords < 1 ? 1 : capacityRecords;
    size_t perChunk = kChunkBytes / (slots_ * sizeof(double));
    chunkRecords_ = static_cast<uint32_t>(std::max<size_t>(1, std::min<size_t>(perChunk, capacity_)));
    // Records may start anywhere in the first chunk: one chunk more than
    // capacity / chunkRecords covers any span of `capacity` records.
    maxChunks_ = (capacity_ + chunkRecords_ - 1) / chunkRecords_ + 1;
    std::vector<std::unique_ptr<double[]>> table(maxChunks_);
    table_.swap(table);
    spares_.clear();
    spares_.reserve(kMaxSpareChunks);
    first_ = 0;
    used_ = 0;
    headOffset_ = 0;
    count_ = 0;
  }

  // Copies one record (RecordSlots() doubles) in. A new chunk comes from the
  // spares, else from `*chunk` (taken when used); with neither, kNeedsChunk
  // (chunk == nullptr: the caller may allocate outside its lock and call
  // again) or kNoMemory (an empty *chunk: the allocation failed).
  Push Add(const double* record, std::unique_ptr<double[]>* chunk) {
    bool full = count_ == capacity_;
    // The tail's place counted from the first chunk (the same slot whether
    // or not the oldest record is dropped first).
    uint64_t pos = static_cast<uint64_t>(headOffset_) + count_;
    bool needsChunk = pos / chunkRecords_ == used_;
    bool dropFreesChunk = full && headOffset_ + 1 == chunkRecords_;  // the drop below empties the first chunk
    if (needsChunk && spares_.empty() && !dropFreesChunk && !(chunk && *chunk)) {
      return chunk ? Push::kNoMemory : Push::kNeedsChunk;  // nothing changed
    }
    if (full) DropOldest();
    pos = static_cast<uint64_t>(headOffset_) + count_;
    uint32_t index = static_cast<uint32_t>(pos / chunkRecords_);
    uint32_t offset = static_cast<uint32_t>(pos % chunkRecords_);
    if (index == used_) {  // the tail chunk is full (or there is none)
      std::unique_ptr<double[]> next;
      if (!spares_.empty()) {
        next = std::move(spares_.back());
        spares_.pop_back();
      } else {
        next = std::move(*chunk);  // checked above: present
      }
      table_[(first_ + used_) % maxChunks_] = std::move(next);
      ++used_;
    }
    double* dst = table_[(first_ + index) % maxChunks_].get() + static_cast<size_t>(offset) * slots_;
    std::memcpy(dst, record, slots_ * sizeof(double));
    ++count_;
    if (chunk && *chunk && spares_.size() < kMaxSpareChunks && used_ + spares_.size() < maxChunks_) {
      spares_.push_back(std::move(*chunk));  // allocated for us but not needed after all: keep it
    }
    return full ? Push::kDroppedOldest : Push::kStored;
  }

  // Moves up to `maxRecords` records, oldest first, into `out` (maxRecords x
  // RecordSlots() doubles). Emptied chunks become spares or are freed; the
  // ring never allocates here.
  uint32_t Drain(double* out, uint32_t maxRecords) {
    uint32_t n = std::min(maxRecords, count_);
    uint32_t copied = 0;
    while (copied < n) {
      uint32_t inChunk = std::min(chunkRecords_ - headOffset_, n - copied);
      const double* src = table_[first_].get() + static_cast<size_t>(headOffset_) * slots_;
      std::memcpy(out + static_cast<size_t>(copied) * slots_, src, static_cast<size_t>(inChunk) * slots_ * sizeof(double));
      copied += inChunk;
      headOffset_ += inChunk;
      count_ -= inChunk;
      if (headOffset_ == chunkRecords_) ReleaseFirst();
    }
    if (count_ == 0 && used_ == 1) headOffset_ = 0;  // empty: start the kept chunk over
    return n;
  }

  // The record size in doubles, the bound in records, the chunk size.
  size_t RecordSlots() const { return slots_; }
  uint32_t Capacity() const { return capacity_; }
  uint32_t Count() const { return count_; }
  uint32_t ChunkRecords() const { return chunkRecords_; }
  size_t ChunkDoubles() const { return static_cast<size_t>(chunkRecords_) * slots_; }
  // Bytes of chunks held now (in use and spare), and the most it ever holds.
  uint64_t AllocatedBytes() const { return (used_ + spares_.size()) * ChunkDoubles() * sizeof(double); }
  uint64_t MaxBytes() const { return static_cast<uint64_t>(maxChunks_) * ChunkDoubles() * sizeof(double); }

 private:
  void DropOldest() {
    ++headOffset_;
    --count_;
    if (headOffset_ == chunkRecords_) ReleaseFirst();
  }

  // The first chunk is used up: keep it as a spare or free it.
  void ReleaseFirst() {
    std::unique_ptr<double[]> chunk = std::move(table_[first_]);
    first_ = (first_ + 1) % maxChunks_;
    --used_;
    headOffset_ = 0;
    if (spares_.size() < kMaxSpareChunks) spares_.push_back(std::move(chunk));
  }

  size_t slots_ = 1;
  uint32_t capacity_ = 1;
  uint32_t chunkRecords_ = 1;
  uint32_t maxChunks_ = 0;
  std::vector<std::unique_ptr<double[]>> table_;  // circular: used_ chunks from first_
  std::vector<std::unique_ptr<double[]>> spares_;
  uint32_t first_ = 0;
  uint32_t used_ = 0;
  uint32_t headOffset_ = 0;  // the oldest record's place in the first chunk
  uint32_t count_ = 0;
};

}  // namespace perfprobe
