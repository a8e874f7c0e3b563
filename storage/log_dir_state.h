// The health of one log dir (one entry of log.dirs), Kafka's offline log dir: every Log in the
// dir reports its storage I/O failures here, and the LogManager, DescribeLogDirs and the
// metrics read the result.
//
//   online  nothing is wrong (as far as the last write knows);
//   full    a write found no space (ENOSPC, EDQUOT, EFBIG). Reads go on and writes keep being
//           tried (they fail with KAFKA_STORAGE_ERROR); the dir is online again once a write
//           succeeds or the file system has room again (deleting records or topics frees it);
//   failed  any other I/O error (EIO, a read-only remount, ...): offline until a restart, as in
//           Kafka; the dir's logs refuse appends from then on.
// Each change is logged once (a flood of failed writes is one line), with the first error.
//
// Moving leadership away from an offline dir is the controller's business: a cluster broker's
// heartbeat names its offline dirs (by directory.id) and the controller takes the replicas
// placed there out of their ISRs and leaderships (controller/README.md, "Log dirs").
//
// Owner: the LogManager (one per log dir), shared with every Log opened in the dir.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>

#include "protocol/types.h"

namespace kb::storage {

class LogDirState {
 public:
  enum class Health { online, full, failed };

  explicit LogDirState(std::filesystem::path dir) : dir_(std::move(dir)) {}
  LogDirState(const LogDirState&) = delete;
  LogDirState& operator=(const LogDirState&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  // A storage I/O failure in this dir (a KAFKA_STORAGE_ERROR naming the file and errno).
  // Running out of descriptors or memory (EMFILE, ENFILE, ENOMEM) is the process's trouble,
  // not the dir's: it changes nothing.
  void report(const Error& error);
  // A write reached the page cache: a full dir has room again. Costs one atomic load.
  void write_succeeded() {
    if (health_.load(std::memory_order_relaxed) == Health::full) recover("a write succeeded");
  }
  // A full dir whose file system has room again (statvfs) is online: what deleting records or
  // a topic frees shows without waiting for a write. The LogManager calls it every second.
  void probe_space();

  Health health() const { return health_.load(std::memory_order_relaxed); }
  bool online() const { return health() == Health::online; }
  bool failed() const { return health() == Health::failed; }
  // The error that took the dir offline; empty while online.
  std::string reason() const;

 private:
  void recover(const char* why);

  const std::filesystem::path dir_;
  std::atomic<Health> health_{Health::online};
  mutable std::mutex mu_;  // guards reason_ and transitions
  std::string reason_;
};

// Whether a storage error says the file system is out of room (ENOSPC, EDQUOT, EFBIG) rather
// than failing: io_error() and std::error_code messages end with the strerror text.
bool is_out_of_space(const Error& error);

}  // namespace kb::storage
