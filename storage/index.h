// A segment's sparse index file: fixed-size big-endian entries, sorted by their key.
//   .index      8-byte entries: relative offset int32, file position int32
//   .timeindex 12-byte entries: timestamp int64, relative offset int32
// While its segment is active the file is preallocated to segment.index.bytes and mmap'd for
// appends; when the segment rolls it is trimmed to the entries it holds and unmapped, and
// lookups read it with pread (no mapping, no descriptor kept). Owner: its Segment; callers
// hold the Log's mutex for appends.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

#include "protocol/types.h"

namespace kb::storage {

class Index {
 public:
  Index(std::filesystem::path path, size_t entry_size) : path_(std::move(path)), entry_size_(entry_size) {}
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Maps the file for appending; `entries` says how many valid entries it already has.
  Status open_writable(size_t max_bytes, size_t entries);
  // Uses the file as it is, read-only. False when missing or not a whole number of entries.
  bool open_readonly();
  // Trims to the used size and unmaps (the segment rolled or the log closes).
  void seal();
  Status flush();
  void reset();  // drops every entry (before a rebuild)
  bool full() const { return mapped_ && (count_ + 1) * entry_size_ > capacity_; }

  void append(const uint8_t* entry);
  size_t count() const { return count_; }
  bool read(size_t i, uint8_t* out) const;
  // Index of the last entry whose key (decoded by `key`) is <= target; nullopt if none.
  std::optional<size_t> floor(int64_t target, const std::function<int64_t(const uint8_t*)>& key) const;
  void remove_file();

 private:
  std::filesystem::path path_;
  size_t entry_size_;
  size_t count_ = 0;
  size_t capacity_ = 0;
  uint8_t* map_ = nullptr;
  bool mapped_ = false;
};

}  // namespace kb::storage
