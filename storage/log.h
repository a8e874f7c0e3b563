// The log of one partition: an ordered list of segments (<base offset>.log + .index +
// .timeindex) in one directory <log.dir>/<topic>-<partition>/, Kafka's on-disk layout.
//
// Owner: replication::Partition (one Log per replica). Thread-safety: append/roll/retention
// are serialized by an internal mutex; read() and the offset getters may run concurrently
// with an append from any thread and only ever see fully appended batches.
// Durability: append() has written the bytes to the segment file (page cache) when it
// returns, so a kill -9 afterwards loses nothing; fsync happens in flush(), called by the
// LogManager's flusher, never on a network thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/file_slice.h"
#include "protocol/record_batch.h"
#include "protocol/types.h"
#include "storage/txn_index.h"

namespace kb::storage {

// Topic-level settings that the log itself enforces (Kafka topic config names in comments).
struct LogConfig {
  int64_t segment_bytes = 1073741824;        // segment.bytes
  int64_t segment_ms = 604800000;            // segment.ms
  int64_t retention_ms = 604800000;          // retention.ms (-1 = forever)
  int64_t retention_bytes = -1;              // retention.bytes (-1 = unlimited)
  int32_t max_message_bytes = 1048588;       // max.message.bytes (largest batch accepted)
  int32_t index_interval_bytes = 4096;       // index.interval.bytes
  int32_t segment_index_bytes = 10485760;    // segment.index.bytes (max size of .index/.timeindex)
  int64_t file_delete_delay_ms = 60000;      // file.delete.delay.ms
  bool message_timestamp_log_append = false; // message.timestamp.type=LogAppendTime
  int compression = -1;  // compression.type: -1 producer (keep), else the codec batches are stored in
  // message.timestamp.difference.max.ms: largest gap between a CreateTime record timestamp
  // and the broker's clock (INVALID_TIMESTAMP beyond).
  int64_t message_timestamp_difference_max_ms = INT64_MAX;
  // Compaction (the log cleaner, storage/cleaner.h): cleanup.policy contains "compact".
  bool compact = false;
  int64_t delete_retention_ms = 86400000;     // delete.retention.ms: tombstones and markers
  double min_cleanable_dirty_ratio = 0.5;     // min.cleanable.dirty.ratio
  int64_t min_compaction_lag_ms = 0;          // min.compaction.lag.ms
  int64_t max_compaction_lag_ms = INT64_MAX;  // max.compaction.lag.ms
  // kbroker-only, not a topic config: disk blocks kept reserved past the end of the active
  // segment (fallocate, file size unchanged), so appends go on for that many bytes after the
  // file system fills up. The metadata log has one: recording a topic deletion is what frees
  // space on a full disk.
  int64_t reserve_bytes = 0;
};

struct AppendInfo {
  Offset first_offset;         // offset given to the first record
  Offset last_offset;          // offset of the last record
  int64_t max_timestamp = -1;  // largest timestamp among the appended batches
  Offset offset_of_max_timestamp{-1};
  int64_t log_append_time = -1;  // broker time used for LogAppendTime, else -1
  int32_t records = 0;           // number of records appended
  int64_t bytes = 0;
};

// A byte range of stored batches: either a file range (sendfile) or nothing.
struct ReadResult {
  std::optional<FileSlice> slice;  // absent when there is nothing to read at that offset
  int64_t records = 0;             // records in the slice's batches
  Offset log_start_offset;
  Offset log_end_offset;
};

struct TimestampOffset {
  int64_t timestamp = -1;
  Offset offset{-1};
};

class FileCache;
class LogDirState;
struct Segment;

// How Log::open treats what it finds on disk.
struct LogOpenOptions {
  // No clean shutdown: segments holding offsets at or after `recovery_point` are scanned,
  // CRCs checked, a torn tail truncated and their indexes rebuilt.
  bool recover = false;
  // Offsets below it were fsynced before the crash (Kafka's recovery-point checkpoint);
  // 0 when unknown, which scans every segment.
  int64_t recovery_point = 0;
  // Open files of sealed segments (shared by the logs of one LogManager); null = a
  // process-wide default.
  std::shared_ptr<FileCache> file_cache;
  // The log start offset DeleteRecords moved it to (log-start-offset-checkpoint); the first
  // segment's base offset when larger. 0: none.
  int64_t log_start_offset = 0;
  // The health of the log dir this log lives in (the LogManager's): storage I/O failures are
  // reported there, and a failed dir refuses appends. Null: not tracked (a log on its own).
  std::shared_ptr<LogDirState> dir_state;
};

class Log {
 public:
  // Opens (or creates) the log in `dir` (LogLoader, storage/log_loader.h, does the work).
  // When `recover` is true (no clean-shutdown marker), segments are scanned: CRCs checked, a
  // torn tail truncated, indexes rebuilt. A corrupt batch that is not at the tail is an error
  // naming the file and position. Needs no disk space beyond a new log's empty files.
  static Result<std::unique_ptr<Log>> open(const std::filesystem::path& dir, LogConfig config,
                                           bool recover);
  static Result<std::unique_ptr<Log>> open(const std::filesystem::path& dir, LogConfig config,
                                           const LogOpenOptions& options);
  ~Log();

  // Appends already validated v2 record batches (one or more, back to back) as the leader:
  // assigns offsets starting at the log end offset by patching each batch's base offset and
  // partition leader epoch in place (both outside the CRC), then writes the bytes as they are.
  // Rolls the active segment on segment.bytes / segment.ms first when needed.
  // KAFKA_STORAGE_ERROR, nothing written, when the file system has no room or the log dir
  // failed (LogOpenOptions::dir_state).
  Result<AppendInfo> append(std::span<uint8_t> batches, int32_t leader_epoch);

  // Reads whole batches starting with the batch that contains `start`, at most `max_bytes`
  // (but at least one whole batch when `min_one_batch`), never past `max_offset` (exclusive;
  // the high watermark). OFFSET_OUT_OF_RANGE when start < log start or start > log end.
  Result<ReadResult> read(Offset start, int32_t max_bytes, Offset max_offset, bool min_one_batch) const;

  // DeleteRecords: the log start offset becomes `to` (records below it are gone for readers:
  // OFFSET_OUT_OF_RANGE), and every segment wholly below it is deleted. OFFSET_OUT_OF_RANGE
  // when `to` is past the log end; a `to` at or below the log start changes nothing. Returns
  // the log start offset. Durable once the LogManager checkpoints log start offsets.
  Result<Offset> advance_log_start(Offset to);

  // Removes every record at or after `target`: a follower whose log diverged from its new
  // leader's, or a Raft voter told to truncate. Batches are never split: the new log end is
  // the base offset of the first batch that reaches `target` (so at most `target`), and never
  // below the log start offset. Later segments are deleted, the one holding the new end is
  // cut there and its indexes rebuilt. Returns the new log end offset. The caller keeps
  // readers below the truncation point (consumers never read past the high watermark, which
  // a truncation never goes below).
  Result<Offset> truncate_to(Offset target);

  // Appends batches as a follower: each keeps the base offset and partition leader epoch the
  // leader gave it (nothing is patched, LogAppendTime included). The first batch must start
  // at or after the log end offset and offsets must increase from batch to batch (a
  // compacted leader's log has gaps); OFFSET_OUT_OF_RANGE otherwise, and nothing is written.
  // The caller checked the CRCs. Rolls like append().
  Result<AppendInfo> append_replicated(std::span<const uint8_t> batches);

  // Empties the log and starts it again at `start`: a follower whose leader's log start has
  // passed its whole log (Kafka's truncateFullyAndStartAt). Every segment is deleted and an
  // empty one created at `start`; log start = log end = `start`.
  Status truncate_fully_and_start_at(Offset start);

  // Replays the log into memory (the broker's own topics: the metadata log, group state):
  // calls fn with each whole batch whose last offset is at or after `from` and whose base
  // offset is below `end`, in log order, reading about `chunk_bytes` per read. The CRC is
  // checked (state must never be built from damaged bytes). Stops at fn's first error;
  // KAFKA_STORAGE_ERROR when a read fails, CORRUPT_MESSAGE naming the offset for a damaged batch.
  Status for_each_batch(Offset from, Offset end,
                        const std::function<Status(std::span<const uint8_t> batch, const BatchHeader& header)>& fn,
                        int32_t chunk_bytes = 1 << 20) const;

  // ListOffsets by timestamp: the first offset whose record timestamp >= ts, found through
  // the time and offset indexes then a scan of batch headers. Inside a compressed or
  // LogAppendTime batch the batch's base offset and max timestamp are returned (records are
  // not decompressed yet). nullopt when no record has such a timestamp.
  std::optional<TimestampOffset> offset_for_timestamp(int64_t ts) const;
  // ListOffsets MAX_TIMESTAMP (-3): the offset of the record with the largest timestamp.
  std::optional<TimestampOffset> max_timestamp() const;

  Offset log_start_offset() const;
  Offset log_end_offset() const;
  int64_t size_bytes() const;
  int segment_count() const;

  // Deletes the oldest whole segments that retention.ms / retention.bytes have expired; an
  // active segment that is itself entirely expired is rolled first so it can go too (Kafka
  // does the same). The log start offset moves to the first remaining segment's base.
  // Returns the number of segments deleted.
  int apply_retention(int64_t now_ms);
  // Rolls when the active segment is older than segment.ms (called by the background task).
  void maybe_roll(int64_t now_ms);

  void set_config(LogConfig config);
  // A copy of the current config (a handler keeps using it while the controller changes the
  // topic's config; `const LogConfig& c = log.config();` binds the copy).
  LogConfig config() const;

  // Closes the active segment's descriptor and unmaps its indexes when nothing was appended
  // for `idle_ms` (they reopen on the next append), so thousands of quiet partitions hold no
  // descriptors or mappings. Returns whether it released them.
  bool release_if_idle(int64_t now_ms, int64_t idle_ms);

  // fsyncs everything appended so far (segment files, the indexes of rolled segments, the
  // directory) and advances the recovery point to the log end offset.
  Status flush();
  // fsyncs only the segments rolled since the last flush (Kafka flushes a segment when it
  // rolls, whatever flush.interval.ms says); the recovery point moves to the active segment.
  Status flush_rolled_segments();
  // Offsets below it are on disk (fsynced); recovery after a crash starts there.
  Offset recovery_point() const;
  // Whether something appended (or rolled) is not yet fsynced.
  bool dirty() const;
  // Flushes and closes all files; the log is unusable afterwards (appends and reads fail
  // with KAFKA_STORAGE_ERROR). A flush failure is logged.
  void close();
  // close() that reports whether everything reached the disk (the LogManager writes the
  // clean-shutdown marker only then).
  Status flush_and_close();
  // Closes and removes the directory with all its files (topic deletion).
  Status remove();

  const std::filesystem::path& dir() const;

  // ---- transactions: the aborted-transaction index of each segment (storage/txn_index.h) ----
  // Records an aborted transaction in the .txnindex of the segment holding its ABORT marker
  // (txn.last_offset). The replica calls it right after appending the marker, leader or
  // follower.
  Status append_aborted_txn(const AbortedTxn& txn);
  // Kafka's collectAbortedTransactions: the aborted transactions overlapping [fetch_offset,
  // upper_bound) (their marker at or after fetch_offset, their first offset before
  // upper_bound), from the segment holding fetch_offset on, in marker order.
  std::vector<AbortedTxn> collect_aborted_txns(Offset fetch_offset, Offset upper_bound) const;
  // Every segment's index entries whose marker is at or after `from` are replaced with those
  // of `entries` (a rebuild from a scan of the log from `from`, in marker order); files that
  // would not change are not written.
  Status rebuild_txn_index_from(Offset from, const std::vector<AbortedTxn>& entries);
  // The base offset of the first segment open() scanned for recovery (its .txnindex may lack
  // the last entries, or hold ones for a cut tail); the log end when none was.
  Offset recovered_from() const;

  // --- For the log cleaner (storage/cleaner.h) only; storage-internal. ---
  // A sealed segment as the cleaner sees it. Sealed segments never change in place: they
  // are only deleted (retention, DeleteRecords, truncation) or replaced by the cleaner.
  struct SealedSegment {
    std::shared_ptr<Segment> segment;
    int64_t base = 0;
    int64_t size = 0;
    int64_t next_offset = 0;        // the next segment's base
    int64_t largest_timestamp = 0;  // record time, or the file's mtime without timestamps
    int64_t last_modified_ms = 0;
    int64_t first_timestamp = -1;   // max timestamp of the first batch, -1 when not known
    std::vector<AbortedTxn> aborted_txns;  // its .txnindex entries
  };
  struct CleanerView {
    std::vector<SealedSegment> sealed;  // every segment but the active one, oldest first
    int64_t log_start = 0;
    int64_t log_end = 0;
    int64_t active_base = 0;
  };
  // nullopt once the log is closed or removed.
  std::optional<CleanerView> cleaner_view() const;
  // Swaps `cleaned` in for `old` (same base offset; its files <base>.{log,index,timeindex}
  // .cleaned are written and fsynced, and <base>.txnindex.cleaned with cleaned.aborted_txns
  // when the old segment had a .txnindex; without one the old .txnindex goes), Kafka's way: under the log's mutex the .cleaned files
  // are renamed to .swap, then over the old files (indexes first, the .log last), so that a
  // crash at any point leaves either the old segment or a .swap that open() completes.
  // Readers holding the old segment keep reading its (now unlinked) file. ABORTED-like
  // KAFKA_STORAGE_ERROR, nothing swapped, when `old` is no longer a sealed segment of this log
  // with `old_size` bytes (deleted, truncated, or the log closed meanwhile).
  Status replace_cleaned_segment(const std::shared_ptr<Segment>& old, int64_t old_size, const Segment& cleaned);

 private:
  Log() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend struct LogTestAccess;
};

}  // namespace kb::storage
