// The leader-epoch cache of one partition replica (Kafka's LeaderEpochFileCache): for every
// leader epoch that wrote to the log, the offset of its first record. Leaders add an entry
// when they take over (at their log end offset) and followers when a replicated batch carries
// a new partition leader epoch. It answers "where does epoch E end?" (OffsetsForLeaderEpoch,
// and the diverging-epoch check of follower fetches), which tells a follower how much of its
// log to cut after a leader change.
//
// On disk: `leader-epoch-checkpoint` in the partition directory, Kafka's text format
//   0                  (version)
//   2                  (number of entries)
//   0 0                (epoch, start offset), one line each, in epoch order
//   3 1200
// replaced atomically (temporary file + rename) whenever the entries change. Not fsynced
// (Kafka fsyncs on assign): the records themselves say their epoch, so open() checks the file
// against the log's last batch and rebuilds it from the batches when a power failure left it
// older than the log (or empty, or gone). That keeps fsyncs off network threads and topic
// creation cheap.
//
// Owner: replication::Partition (one per replica). Thread-safety: every method may be called
// from any thread; the entries are guarded by a mutex, the file is written outside it.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "storage/log.h"

namespace kb::replication {

// OffsetsForLeaderEpoch's "unknown" answers (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET).
inline constexpr int32_t kUndefinedEpoch = -1;
inline constexpr int64_t kUndefinedEpochOffset = -1;

struct EpochEntry {
  int32_t epoch = 0;
  int64_t start_offset = 0;
  bool operator==(const EpochEntry&) const = default;
};

// An epoch and the offset where it ends (exclusive): OffsetsForLeaderEpoch's answer and the
// Fetch response's diverging_epoch.
struct EpochEndOffset {
  int32_t epoch = kUndefinedEpoch;
  int64_t end_offset = kUndefinedEpochOffset;
  bool operator==(const EpochEndOffset&) const = default;
};

class LeaderEpochCache {
 public:
  static constexpr const char* kFileName = "leader-epoch-checkpoint";

  // A cache persisted to `file`; an empty path keeps it in memory only (tests).
  explicit LeaderEpochCache(std::filesystem::path file = {});

  // The cache of `log`: its checkpoint file, without entries at or past the log end (a log
  // cut after the file was written) and starting at the log start. When the file is missing
  // or unreadable, or its latest epoch is not the last batch's, it is rebuilt from the
  // partition leader epochs of the log's batches (one read of the log) and written anew.
  static std::unique_ptr<LeaderEpochCache> open(const storage::Log& log);

  // Records that `epoch` starts at `start_offset` (Kafka's assign): nothing changes when the
  // latest entry has this epoch and starts at or before it; otherwise entries of this or a
  // later epoch, or starting at or after `start_offset`, are dropped first so both columns
  // stay increasing. Negative values are ignored. The file is rewritten when something
  // changed. Returns whether something changed.
  bool assign(int32_t epoch, Offset start_offset);

  // The latest epoch (the one that wrote last), kUndefinedEpoch when empty. Lock-free.
  int32_t latest_epoch() const { return latest_.load(std::memory_order_acquire); }
  std::optional<EpochEntry> latest_entry() const;

  // Kafka's endOffsetFor: for the requested epoch, the largest known epoch at or below it and
  // the offset where that one ends: `log_end` for the latest epoch, else the next epoch's
  // start. Below the first known epoch: (requested, start of the first epoch). Undefined
  // ({-1, -1}) for a requested epoch of -1, an empty cache, or an epoch above all known.
  EpochEndOffset end_offset_for(int32_t requested_epoch, Offset log_end) const;

  // The log was cut at `end_offset`: entries starting at or after it go.
  void truncate_from_end(Offset end_offset);
  // The log start moved to `start_offset`: entries wholly before it go, and the last epoch
  // starting at or before it now starts there.
  void truncate_from_start(Offset start_offset);
  // Forgets every entry (a log emptied to restart at the leader's log start).
  void clear();

  std::vector<EpochEntry> entries() const;

  // The checkpoint text for `entries`, and its parser (CORRUPT_MESSAGE naming the line).
  static std::string format(const std::vector<EpochEntry>& entries);
  static Result<std::vector<EpochEntry>> parse(std::string_view text);

 private:
  // Under mu_.
  bool assign_locked(int32_t epoch, int64_t start_offset);
  void changed_locked();
  // Writes the newest entries to the file unless a later write already did.
  void persist();

  const std::filesystem::path file_;
  mutable std::mutex mu_;  // guards entries_ and version_
  std::vector<EpochEntry> entries_;  // increasing epochs and start offsets
  uint64_t version_ = 0;
  std::atomic<int32_t> latest_{kUndefinedEpoch};
  std::mutex write_mu_;  // one file write at a time; guards written_version_
  uint64_t written_version_ = 0;
};

// What a follower does with its leader's answer about an epoch (the Fetch response's
// diverging_epoch, or OffsetsForLeaderEpoch): Kafka's truncation rule.
struct FollowerTruncation {
  Offset offset;          // truncate the log to this offset
  bool complete = true;   // false: the follower did not know the leader's epoch; it truncated
                          // to the end of its own largest epoch below it and asks again
};
// `leader`: the leader's epoch and end offset. `cache`, `log_end`, `high_watermark`: the
// follower's. An undefined end offset truncates to the high watermark; an undefined epoch to
// the leader's end offset; a leader epoch the follower also has to the smaller of both ends;
// an epoch the follower does not have to the end of its largest epoch below it (incomplete).
FollowerTruncation follower_truncation(const LeaderEpochCache& cache, EpochEndOffset leader, Offset log_end,
                                       Offset high_watermark);

}  // namespace kb::replication
