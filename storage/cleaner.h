// Log compaction, Kafka's log cleaner: for a log whose cleanup.policy includes "compact",
// only the newest record of each key is kept, offsets never change.
//
//   Cleaner    one pass over one log (Kafka's Cleaner): builds the offset map (key -> newest
//              offset) over the dirty section, then rewrites every sealed segment from the log
//              start up to the cleanable end, keeping a record iff it is the newest of its key,
//              and swaps each rewritten segment in (Log::replace_cleaned_segment).
//   LogCleaner the workers (log.cleaner.threads, each a runtime::LoopThread `kb-cleaner-N`)
//              that pick the filthiest log every log.cleaner.backoff.ms and clean it, and the
//              cleaner-offset-checkpoint of each log dir (where each log's dirty section
//              starts). Owned by the LogManager.
//
// The rules, as Kafka's (differences marked "kbroker"):
// - The active segment is never cleaned, nor a segment holding a record younger than
//   min.compaction.lag.ms (by record timestamp), nor anything from the first offset of a
//   transaction without a commit/abort marker yet (the first unstable offset).
// - Records keep their offsets; a rewritten batch keeps its base offset, last offset delta,
//   producer id/epoch/base sequence, leader epoch, timestamp type and codec (records are
//   decompressed, filtered and compressed again with the same codec).
// - A batch left without records is dropped, unless it is the last data batch of its producer
//   in the log: then its header stays with zero records (producer state survives compaction).
// - Tombstones (null value) and transaction markers use Kafka's delete horizon (KIP-534, Kafka
//   2.8+): the first pass that sees them rewrites their batch with attribute bit 6 set and the
//   base timestamp holding now + delete.retention.ms (record timestamp deltas are re-based, so
//   record timestamps do not change); a later pass after that time removes them.
// - Data of aborted transactions is dropped. The pass does not read the transaction index:
//   it reads all batch headers of the log and pairs each producer's transactional data with
//   the next marker of that producer id (ABORT or COMMIT). A marker stays until no data of its
//   transaction is left and its delete horizon has passed. A rewritten segment keeps its
//   .txnindex entries but those whose ABORT marker it removed.
// - kbroker: records without a key are kept (Kafka counts them invalid and drops them; its
//   produce path refuses them for compacted topics).
// - kbroker: segments are not grouped into larger ones; a segment whose records all went stays
//   as an empty file until retention (compact,delete) removes it.
// - The offset map holds whole keys (no hash collisions, unlike Kafka's MD5 map), bounded by
//   log.cleaner.dedupe.buffer.size / threads; when it fills, the pass cleans up to the last
//   mapped offset and the next pass goes on from there.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "protocol/types.h"
#include "storage/log.h"

namespace kb::storage {

constexpr const char* kCleanerCheckpointFile = "cleaner-offset-checkpoint";

struct CleanerOptions {
  int threads = 1;                         // log.cleaner.threads (0: no cleaning)
  int64_t backoff_ms = 15000;              // log.cleaner.backoff.ms
  int64_t dedupe_buffer_size = 134217728;  // log.cleaner.dedupe.buffer.size, over all threads
  std::function<int64_t()> clock;          // ms since the epoch; null: the wall clock
};

// What one pass did.
struct CleanStats {
  int64_t first_dirty = 0;  // where the dirty section started
  int64_t end = 0;          // the new first dirty offset: everything below is clean
  int segments_rewritten = 0;
  int64_t bytes_read = 0;
  int64_t bytes_written = 0;
  int64_t records_read = 0;
  int64_t records_removed = 0;
  // The earliest delete horizon among tombstones and markers still kept (a later pass after
  // it removes something); -1 when none.
  int64_t next_delete_horizon = -1;
};

// One compaction pass (Kafka's Cleaner). Thread: the caller's; at most one pass per log at a
// time (the LogCleaner makes sure); appends, reads, retention and truncation go on meanwhile.
class Cleaner {
 public:
  Cleaner(int64_t map_memory_bytes, std::function<int64_t()> clock);

  // Cleans `log` from its start up to the cleanable end, with the dirty section starting at
  // `first_dirty` (the checkpoint; clamped to the log). An error leaves the log as it was
  // for the segments not swapped yet (each swap is atomic on its own).
  Result<CleanStats> clean(Log& log, int64_t first_dirty);
  // A pass checks it between segments and ends early once it is set (shutdown).
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }

 private:
  int64_t map_memory_bytes_;
  std::function<int64_t()> clock_;
  const std::atomic<bool>* stop_ = nullptr;
};

class LogCleaner {
 public:
  struct Target {
    TopicPartition tp;
    std::filesystem::path log_dir;  // the log.dirs entry holding it (its checkpoint file)
    std::shared_ptr<Log> log;
  };
  // The logs to consider (the LogManager's open logs); called from the cleaner's workers.
  using Targets = std::function<std::vector<Target>()>;

  LogCleaner(CleanerOptions options, Targets targets);
  ~LogCleaner();
  LogCleaner(const LogCleaner&) = delete;
  LogCleaner& operator=(const LogCleaner&) = delete;

  void start();
  // Stops the workers, waiting for a pass in progress to finish its current segment.
  void stop();
  // Dynamic log.cleaner.threads and log.cleaner.backoff.ms: a new thread count restarts the
  // workers (a pass in progress stops at its current segment, as in stop()); a new backoff
  // wakes sleeping workers, which then sleep the new one. Nothing after stop().
  void reconfigure(int threads, int64_t backoff_ms);

  // One round on the calling thread (the workers run this): picks the compacted log with the
  // highest dirty ratio >= min.cleanable.dirty.ratio (first any whose oldest dirty record is
  // older than max.compaction.lag.ms, or whose tombstones' delete horizon has passed), cleans
  // it and writes the checkpoint. Returns whether a log was cleaned with some progress.
  bool clean_filthiest();

  // The partition is deleted: its checkpoint entry goes.
  void forget(const TopicPartition& tp, const std::filesystem::path& log_dir);
  // Where the dirty section of `tp` starts, from the checkpoint (tests, tools).
  std::optional<int64_t> checkpoint_of(const TopicPartition& tp, const std::filesystem::path& log_dir);

  // Counters for metrics: passes finished, bytes read by them.
  uint64_t runs() const { return runs_.load(); }
  uint64_t bytes_cleaned() const { return bytes_cleaned_.load(); }

 private:
  std::map<TopicPartition, int64_t>& checkpoints_locked(const std::filesystem::path& dir);
  Status write_checkpoint(const std::filesystem::path& dir);
  struct Worker;
  // mu_ held: makes `w` run a round after delay_ms (0: at once), instead of any it had armed.
  void schedule_locked(Worker& w, int64_t delay_ms);
  // On w's loop: a round, unless `round` is no longer the one w runs next (a wake-up that
  // reconfigure() replaced). Then the next one: at once after progress, else after the backoff.
  void run_round(Worker& w, uint64_t round);
  void start_workers_locked();
  bool clean_with(Cleaner& cleaner);
  int64_t now() const;

  CleanerOptions options_;
  Targets targets_;
  std::mutex mu_;  // guards everything below
  bool stop_ = false;
  bool started_ = false;    // start() was called (with log.cleaner.threads, maybe 0)
  bool shut_down_ = false;  // stop() was called: reconfigure() starts nothing
  std::atomic<bool> stopping_{false};  // stop_, readable by a pass without the mutex
  std::map<std::filesystem::path, std::map<TopicPartition, int64_t>> checkpoints_;  // by log dir
  std::set<TopicPartition> in_progress_;
  std::map<TopicPartition, int64_t> delete_horizons_;  // next time a pass removes tombstones
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex checkpoint_write_mu_;  // one checkpoint file writer at a time
  std::atomic<uint64_t> runs_{0};
  std::atomic<uint64_t> bytes_cleaned_{0};
};

}  // namespace kb::storage
