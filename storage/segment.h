// One log segment: <base offset>.log with its .index, .timeindex and, when a transaction
// was aborted in it, .txnindex (storage-internal).
//
// Owner: the Log (shared_ptr: a reader may keep a segment it started reading after retention
// removed it from the log). Thread: every mutable field is guarded by the owning Log's
// mutex; `id`, `base` and the paths never change, `deleted` is atomic.
// Only the active segment (the last one) holds a descriptor and writable index mappings, and
// only while it is in use; sealed segments are read through the FileCache.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/files.h"
#include "storage/index.h"
#include "storage/txn_index.h"

namespace kb::storage {

// "00000000000000000042" + ext, Kafka's file names.
std::string segment_file_name(int64_t base_offset, const char* ext);

// Reads the header of the batch at `pos` of a file whose valid data ends at `end`: nullopt
// unless a magic-2 header with a plausible length is there and the batch ends by `end`.
std::optional<BatchHeader> header_at(int fd, int64_t pos, int64_t end);

struct Segment {
  // `suffix` follows each file name: ".cleaned" for the log cleaner's output before the swap.
  Segment(const std::filesystem::path& dir, int64_t base_offset, const std::string& suffix = "");

  const uint64_t id;  // unique in the process: the FileCache key
  const int64_t base;
  const std::filesystem::path log_path;
  Index offset_index;
  Index time_index;

  int64_t size = 0;         // bytes of whole batches
  int64_t next_offset = 0;  // offset after the last batch (for sealed segments found at open:
                            // the next segment's base, an upper bound)
  int64_t max_timestamp = -1;
  int64_t offset_of_max_timestamp = -1;  // last offset of the batch that brought max_timestamp
  int64_t last_time_entry = -1;          // timestamp of the last time-index entry
  int64_t bytes_since_index = 0;
  int64_t created_ms = 0;              // segment.ms: wall time the segment was created or loaded
  int64_t first_batch_timestamp = -1;  // segment.ms by message time, as Kafka rolls
  int64_t last_modified_ms = 0;        // retention.ms for segments without timestamps
  std::shared_ptr<FileHandle> fd;      // active segment only, while open
  std::atomic<bool> deleted{false};    // set once retention or remove() took it out of the log
  // Set (with `deleted`) when the cleaner swapped a compacted copy in under the same file
  // names: a reader that finds it so looks the offset up again instead of failing.
  std::atomic<bool> replaced{false};
  // The entries of its .txnindex (aborted transactions whose ABORT marker is here), in marker
  // order; the file is written as they are added.
  std::vector<AbortedTxn> aborted_txns;
  bool index_gap_logged = false;  // a skipped index entry (no disk space) was logged
  int64_t reserved_end = 0;       // LogConfig::reserve_bytes: blocks reserved up to here

  // Keeps `bytes` of disk blocks reserved past the end of the active segment (topped up once
  // half is used; no space for it is not an error: appends use what is there).
  void keep_reserve(int64_t bytes);
  // Gives the reserve back (the segment is sealed: it never grows again).
  void drop_reserve();

  // Kafka's LogSegment.append bookkeeping for the batch written at `position`: max timestamp,
  // and index entries every index.interval.bytes. False when an entry was skipped because no
  // disk space could be reserved for it (the index stays valid, only sparser).
  bool index_batch(const BatchHeader& h, int64_t position, int32_t index_interval_bytes);
  // The final time-index entry (the segment's max timestamp) written when it stops being
  // active, so that reopening reads the max timestamp from the index's last entry.
  void add_final_time_entry();

  // Opens the descriptor and maps both indexes writable (the active segment).
  Status open_active(int64_t index_max_bytes);
  // Seals: final time entry, indexes trimmed and unmapped. Returns the descriptor (the caller
  // hands it to the flusher), leaving none here. When the final entry cannot be written (no
  // disk space to map the index again) the time index is removed: its last entry would
  // understate the max timestamp, and a missing index is rebuilt by the next open.
  std::shared_ptr<FileHandle> seal();
  // Gives back descriptor and mappings without trimming (an idle active segment).
  void release();

  int64_t largest_timestamp() const { return max_timestamp >= 0 ? max_timestamp : last_modified_ms; }
  std::filesystem::path path_with(const char* ext) const;
};

}  // namespace kb::storage
