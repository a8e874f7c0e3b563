// The LogManager owns every partition Log under log.dirs, the clean-shutdown marker, the
// one background loop (a runtime::LoopThread, `kb-log-manager`) that flushes logs (group
// commit), enforces retention and rolls segments on segment.ms (thousands of partitions share
// that one thread), and the log cleaner's workers that compact logs with
// cleanup.policy=compact (storage/cleaner.h).
// It locks each log dir (flock on <dir>/.lock, as Kafka does) for as long as it runs, and
// keeps each dir's health (storage/log_dir_state.h): a dir with an I/O error goes offline.
// The metadata log (__cluster_metadata-0) lives in log.dirs too, so the locks cover it.
//
// Owner: the broker (server/). Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "protocol/types.h"
#include "storage/cleaner.h"
#include "storage/log.h"
#include "storage/log_dir_state.h"

namespace kb::storage {

struct LogManagerOptions {
  std::vector<std::filesystem::path> log_dirs;  // log.dirs; created when missing
  // How often dirty logs are fsynced (group commit); -1 = never periodically, Kafka's default:
  // acknowledged data is in the page cache and the OS writes it back; rolls and shutdown sync.
  int64_t flush_interval_ms = -1;
  int64_t retention_check_interval_ms = 300000;  // log.retention.check.interval.ms
  // A log with no append for this long gives back its descriptor and index mappings.
  int64_t idle_handle_ms = 30000;
  // Sealed segments kept open for reads (descriptor + index mappings), least recently used
  // closed first. Active segments are not counted (idle_handle_ms bounds those).
  size_t max_open_files = 1000;
  // How often recovery points are written to <log.dir>/recovery-point-offset-checkpoint
  // (log.flush.offset.checkpoint.interval.ms); shutdown writes them too.
  int64_t recovery_point_checkpoint_interval_ms = 60000;
  bool cleaner_enable = true;  // log.cleaner.enable
  CleanerOptions cleaner;      // log.cleaner.threads, log.cleaner.backoff.ms, ...
  // flock each log dir's .lock (holding this process's pid): a second broker on the same
  // dirs refuses to start. Off only in tests that simulate a crash by abandoning a
  // LogManager and opening the dirs again in the same process.
  bool lock_dirs = true;
};

// One log dir and its health, for DescribeLogDirs, metrics and the controller.
struct LogDirInfo {
  std::filesystem::path path;  // as configured
  LogDirState::Health health = LogDirState::Health::online;
  std::string error;  // what took it offline; empty while online
  bool online() const { return health == LogDirState::Health::online; }
};

class LogManager {
 public:
  // Opens (and locks) the log directories. If the clean-shutdown marker is missing (crash),
  // every log opened afterwards is recovered. The marker is removed until the next clean
  // shutdown. KAFKA_STORAGE_ERROR naming the dir and the holder's pid when another process
  // holds a dir's lock.
  static Result<std::unique_ptr<LogManager>> open(LogManagerOptions options);
  ~LogManager();

  // Partitions that have a directory on disk (found at open), e.g. to reload after restart.
  std::vector<TopicPartition> existing_partitions() const;

  // Returns the log of `tp`, opening or creating it (in the log dir with fewest partitions).
  Result<std::shared_ptr<Log>> get_or_create(const TopicPartition& tp, const LogConfig& config);
  std::shared_ptr<Log> get(const TopicPartition& tp) const;
  // Closes and deletes the log's files (topic deletion).
  Status remove(const TopicPartition& tp);

  // Starts the background flusher/retention loop and the log cleaner's workers.
  void start();
  // Stops the background loop (a pass in progress finishes), then the cleaner, flushes and closes every log, writes the clean-shutdown marker (in
  // each dir where everything reached the disk), releases the locks.
  void shutdown();

  // ---- offline log dirs (Kafka's LogDirFailureChannel / LogManager.offlineLogDirs) ----
  // Every log dir in configuration order, with its health.
  std::vector<LogDirInfo> log_dir_infos() const;
  // Whether `dir` (a configured log dir, compared after canonicalisation) is online; false
  // for a dir that is not one of log.dirs.
  bool is_log_dir_online(const std::filesystem::path& dir) const;
  // Whether `tp` has its directory in an offline log dir (Kafka's offline replica). Its log
  // refuses writes with KAFKA_STORAGE_ERROR; in a cluster the broker's heartbeat names the dir
  // offline and the controller moves the partition's leadership to another in-sync replica and
  // takes this broker out of its ISR (controller/README.md, "Log dirs").
  bool is_partition_offline(const TopicPartition& tp) const;
  // Every partition with a directory, with the index (in log_dir_infos() order) of the log dir
  // holding it: what a broker with several dirs reports (AssignReplicasToDirs).
  std::map<TopicPartition, size_t> placements() const;

  bool recovered_after_crash() const;
  // Writes each log dir's recovery-point-offset-checkpoint and log-start-offset-checkpoint now
  // (atomically, fsynced; the background loop does it every
  // recovery_point_checkpoint_interval_ms). DeleteRecords calls it before answering, so
  // deleted records never come back after a crash.
  Status checkpoint_recovery_points();
  // Sealed segments currently held open for reads (at most max_open_files).
  size_t open_segment_files() const;
  // Releases the handles of logs idle for `idle_ms` (the background loop does this with
  // idle_handle_ms). Returns how many logs released them.
  int release_idle_handles(int64_t idle_ms);
  // The log cleaner (null when log.cleaner.enable is false): metrics and tests.
  LogCleaner* cleaner() const;
  // Dynamic log.cleaner.threads / log.cleaner.backoff.ms (LogCleaner::reconfigure); nothing
  // when the cleaner is off.
  void reconfigure_cleaner(int threads, int64_t backoff_ms);

 private:
  LogManager() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kb::storage
