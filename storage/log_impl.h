// The state of a Log, shared by the files that implement it (storage-internal):
//   log.cc              open, append, roll, truncation, retention, flush, close
//   log_read.cc         read, replay, lookups by timestamp
//   log_maintenance.cc  the transaction index and the log cleaner's swap
// LogLoader (log_loader.h) builds the initial segments; nothing else includes this file.
//
// Thread: `mu` guards every field below it and every Segment's mutable fields; the fsyncs of
// flush() run outside it (under flush_mu) so appends and reads go on meanwhile.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "storage/file_cache.h"
#include "storage/files.h"
#include "storage/log.h"
#include "storage/log_dir_state.h"
#include "storage/segment.h"

namespace kb::storage {

struct Log::Impl {
  std::filesystem::path dir;
  std::shared_ptr<FileCache> cache;
  std::shared_ptr<LogDirState> dir_state;  // may be null

  // config() without `mu`: a copy of the current config (set_config stores both).
  std::atomic<std::shared_ptr<const LogConfig>> published_config;

  mutable std::mutex mu;  // guards everything below, and every Segment's mutable fields
  std::shared_ptr<const LogConfig> config;
  std::vector<std::shared_ptr<Segment>> segments;  // by base offset; never empty once open
  int64_t log_start = 0;
  int64_t log_end = 0;
  int64_t recovery_point = 0;
  // Rolled segments not yet fsynced (with the descriptor they were written through).
  struct PendingSync {
    std::shared_ptr<Segment> segment;
    std::shared_ptr<FileHandle> fd;
  };
  std::vector<PendingSync> pending;
  int64_t unflushed = 0;   // bytes appended to the active segment since its last fsync
  bool dir_dirty = false;  // segment files created or deleted since the directory's last fsync
  bool appended = false;   // since open: the active segment's indexes changed
  int64_t last_used_ms = 0;
  bool closed = false;
  int64_t recovered_from = INT64_MAX;  // base of the first segment open() scanned

  std::mutex flush_mu;  // one flush at a time (the flusher thread, a controller, close)

  const LogConfig& cfg() const { return *config; }
  Segment& active() { return *segments.back(); }

  Error closed_error() const {
    return Error{ErrorCode::KAFKA_STORAGE_ERROR, "log " + dir.string() + " is closed"};
  }
  // Appends need an open log in a log dir that has not failed.
  Status writable() const {
    if (closed) return closed_error();
    if (dir_state && dir_state->failed())
      return Status(ErrorCode::KAFKA_STORAGE_ERROR,
                    "log dir " + dir_state->dir().string() + " is offline: " + dir_state->reason());
    return {};
  }
  // A storage I/O failure: the log dir hears of it (it may go offline), the caller gets it.
  Error io_failed(Error e) const {
    if (dir_state) dir_state->report(e);
    return e;
  }
  Status io_failed(Status s) const {
    if (!s.ok()) io_failed(s.error());
    return s;
  }

  // A background roll (retention, segment.ms) failed: a full disk is said once by the log
  // dir; anything else each time.
  void roll_failed(const char* why, const Status& st) const {
    if (dir_state) dir_state->report(st.error());
    if (!dir_state || !is_out_of_space(st.error()))
      spdlog::error("cannot roll {} {}: {}", dir.string(), why, st.error().message);
  }

  // Index of the first segment that may hold `offset`, or segments.size().
  size_t segment_for(int64_t offset) const;
  // The active segment's descriptor and index mappings, opened on first use.
  Status ensure_active_open();
  // Opens a segment for appends: its descriptor (an error without it) and its index mappings
  // (without them, for lack of disk space, appends go on without index entries).
  Status open_for_appends(Segment& s);
  // Seals the active segment (the flusher fsyncs it) and starts a new one at the log end.
  Status roll(int64_t now);
  // Opens the active segment, and rolls it first when `bytes` more, up to offset
  // `last_offset` with timestamps up to `max_ts`, would overfill it.
  Status roll_if_full(int64_t bytes, int64_t last_offset, int64_t max_ts, int64_t now);
  // Writes whole batches at the end of the active segment, indexes them (`placed`: each
  // header with its position in the segment) and moves the log end to `next`.
  Status write_at_end(Segment& seg, std::span<const uint8_t> batches,
                      const std::vector<std::pair<BatchHeader, int64_t>>& placed, int64_t next, int64_t now);
  int64_t total_size() const;
  // fsyncs rolled segments, and with `all` the active one, then moves the recovery point.
  Status flush(bool all);
  // Moves segments out of the log (retention), then renames their files to .deleted and
  // unlinks them. A reader that still holds a descriptor keeps reading the unlinked file.
  void delete_segments(const std::vector<std::shared_ptr<Segment>>& doomed);

  // A read-side view of one segment: taken under `mu`, used without it.
  struct Snapshot {
    std::shared_ptr<Segment> seg;
    int64_t size = 0;
    int64_t next_offset = 0;
    std::shared_ptr<FileHandle> fd;  // the active segment's (else filled from the cache)
    IndexView offsets, times;
    std::shared_ptr<const SegmentFiles> files;
    int raw_fd() const { return files ? files->log->fd() : fd->fd(); }
    std::shared_ptr<const void> owner() const {
      if (files) return files->log;
      return fd;
    }
  };
  // Under mu.
  Status snapshot(size_t i, Snapshot& out);
  // Without mu: sealed segments' files come from the cache.
  Status open_snapshot(Snapshot& s);
};

}  // namespace kb::storage
