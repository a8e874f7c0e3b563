// The open files of sealed (non-active) segments: a descriptor of the .log plus read-only
// mappings of its .index and .timeindex, opened on the first read and closed least recently
// used first once more than `max_open` segments are open. Thousands of partitions with many
// segments therefore hold at most max_open descriptors for their old data.
//
// Owner: the LogManager (shared with every Log it opens); a Log opened on its own uses
// default_cache(). Thread-safety: all methods may be called from any thread; opening a file
// happens outside the cache's mutex.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "protocol/types.h"
#include "storage/files.h"
#include "storage/index.h"

namespace kb::storage {

struct Segment;

// What a reader needs of a sealed segment; valid as long as the reader holds it, even after
// eviction or deletion.
struct SegmentFiles {
  std::shared_ptr<FileHandle> log;
  IndexView offsets;
  IndexView times;
};

class FileCache {
 public:
  explicit FileCache(size_t max_open) : max_open_(max_open == 0 ? 1 : max_open) {}

  // The files of `segment`, opened on a miss. OFFSET_OUT_OF_RANGE when the segment was
  // deleted meanwhile (retention), KAFKA_STORAGE_ERROR when the file cannot be opened.
  Result<std::shared_ptr<const SegmentFiles>> get(const Segment& segment);
  // Forgets a segment (deleted, or its log closed); readers holding its files keep them.
  void erase(uint64_t segment_id);
  size_t open_count() const;
  size_t max_open() const { return max_open_; }

  // For logs opened without a LogManager (tests, tools): 256 files.
  static std::shared_ptr<FileCache> default_cache();

 private:
  struct Entry {
    std::shared_ptr<const SegmentFiles> files;
    std::list<uint64_t>::iterator lru;  // position in lru_ (front = most recent)
  };
  const size_t max_open_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::list<uint64_t> lru_;
};

}  // namespace kb::storage
