// A segment's sparse index files, Kafka's format (fixed-size big-endian entries, sorted):
//   .index      8 bytes: relative offset int32 (last offset of the batch - segment base),
//               file position int32 (where that batch starts)
//   .timeindex 12 bytes: timestamp int64 (largest timestamp so far in the segment),
//               relative offset int32 (of the record that has it)
// An entry is added when more than index.interval.bytes were appended since the last one.
// While its segment is active a file is sized to segment.index.bytes (sparse) and mapped
// writable; when the segment rolls or the log closes it is trimmed to its entries and
// unmapped. Sealed files are mapped read-only on demand by the FileCache.
// Disk space: a store into a page of a mapping that the file system cannot back kills the
// process with SIGBUS (a full disk). So blocks are reserved (posix_fallocate) before a page is
// first written: at mapping time for the first entries, then 16 KiB at a time as entries are
// added, always one entry ahead so the final time-index entry written at seal has its slot.
// A reservation that fails is an error value: no mapping, or no entry (the index only gets
// sparser; lookups scan a little further).
// Owner: its Segment. Thread: appends and (un)mapping under the owning Log's mutex; readers
// use an IndexView snapshot without any lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "protocol/types.h"
#include "storage/files.h"

namespace kb::storage {

constexpr size_t kOffsetEntrySize = 8;
constexpr size_t kTimeEntrySize = 12;

// The first `count` entries of an index, kept mapped by `map` (null when count is 0).
// Entries below count never change once written, so a view needs no lock.
struct IndexView {
  std::shared_ptr<const Mapping> map;
  size_t entry_size = 0;
  size_t count = 0;
  const uint8_t* entry(size_t i) const { return map->data() + i * entry_size; }
};

// Offset index: the position of the last indexed batch whose last offset <= target; 0 (the
// segment start) when there is none. Scanning forward from there finds `target`.
int64_t lookup_position(const IndexView& offsets, int64_t base_offset, int64_t target_offset);
// Time index: an offset from which scanning forward finds the first batch whose max
// timestamp >= ts, i.e. the offset of the last entry whose timestamp is < ts (everything up
// to that entry is older than ts); the segment base when there is none.
int64_t lookup_time(const IndexView& times, int64_t base_offset, int64_t ts);

struct OffsetEntry {
  int32_t relative_offset;
  int32_t position;
};
struct TimeEntry {
  int64_t timestamp;
  int32_t relative_offset;
};
OffsetEntry decode_offset_entry(const uint8_t* e);
TimeEntry decode_time_entry(const uint8_t* e);

class Index {
 public:
  Index(std::filesystem::path path, size_t entry_size) : path_(std::move(path)), entry_size_(entry_size) {}
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  const std::filesystem::path& path() const { return path_; }
  size_t count() const { return count_; }
  bool mapped() const { return map_ != nullptr; }

  // Maps the file writable (creating it), sized for max_bytes worth of entries but never
  // fewer than count() + 2; the existing count() entries stay. Disk blocks for them and the
  // next two entries are reserved first: KAFKA_STORAGE_ERROR (and no mapping) when the file
  // system has no room; a file this call created is then removed, so that a later open
  // rebuilds the index instead of trusting an empty one.
  Status map_writable(int64_t max_bytes);
  // Drops the mapping; with `trim` the file is cut to its entries (a sealed index).
  Status unmap(bool trim);
  // Whether one more regular entry fits. One slot stays free for the final time-index entry
  // written when the segment is sealed.
  bool full() const { return count_ + 2 > capacity_; }
  // Adds a regular entry. Preconditions: mapped() and !full(). KAFKA_STORAGE_ERROR, nothing
  // written, when no disk blocks could be reserved for it (and the final entry after it).
  Status append(const uint8_t* entry);
  // Adds the final time-index entry into the slot append() keeps reserved. Precondition:
  // mapped() and count() < capacity.
  void append_final(const uint8_t* entry);
  // Forgets every entry (before a rebuild). When not mapped the file is unlinked, not cut: a
  // reader still holding a mapping of it must not find its pages gone (SIGBUS).
  void clear();
  IndexView view() const { return IndexView{map_, entry_size_, count_}; }

  // For a sealed file found at open: takes count from the file size and checks that the
  // entries are plausible (whole entries, last entry after the previous one). False = rebuild.
  bool load_sealed(int64_t segment_size, std::string& why);
  // Reads entry i of an unmapped file (used at open for the last entries).
  bool read_entry(size_t i, uint8_t* out) const;

 private:
  std::filesystem::path path_;
  size_t entry_size_;
  size_t count_ = 0;
  size_t capacity_ = 0;  // entries that fit in the mapping
  size_t reserved_ = 0;  // bytes from the start of the file known to have disk blocks
  std::shared_ptr<Mapping> map_;

  // Makes sure disk blocks back the first `entries` entries (at most capacity_), a chunk
  // ahead when it can; `fd` < 0 opens the file for it.
  Status reserve(size_t entries, int fd = -1);
};

// Maps a sealed index file read-only; an empty view when the file is empty or missing.
IndexView map_sealed_index(const std::filesystem::path& path, size_t entry_size);

}  // namespace kb::storage
