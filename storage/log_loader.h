// LogLoader: turns what a partition directory holds into the segments of a Log (Kafka's
// LogLoader, beside UnifiedLog). It runs once per Log::open, before the log serves anyone:
//
//   1. completes a log-cleaner swap interrupted by a crash (<base>.log.swap: the compacted
//      copy was whole and fsynced, so the swap goes ahead) and drops unstarted ones;
//   2. removes leftovers: .deleted (interrupted deletion), .cleaned (interrupted compaction),
//      .tmp (interrupted checkpoint write), index files without their .log;
//   3. after a clean shutdown, trusts each segment whose indexes look sane (Kafka's
//      sanityCheck: whole entries, the last entries in order) and reads the newest segment's
//      tail to find the log end;
//   4. after a crash (no clean-shutdown marker), scans every segment at or after the recovery
//      point: CRC-32C of each batch, offsets in order, indexes rebuilt; a torn tail of the
//      newest segment is truncated, damage anywhere else is an error naming file and byte;
//   5. rebuilds, with a warning naming the file and what was wrong, any index found damaged.
//
// On a full disk nothing here needs to grow a file: an index that cannot get disk space is
// left out (reads scan the segment; a later open rebuilds it) and said once per log, so a
// broker restarts on a full disk. Every file-system failure is an error value.
//
// Storage-internal (log.cc and the tests). Thread: the caller's; nothing is shared yet.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "storage/log.h"

namespace kb::storage {

struct Segment;
class LogDirState;

// What a loaded log starts with.
struct LoadedLog {
  std::vector<std::shared_ptr<Segment>> segments;  // by base offset; never empty
  int64_t log_start = 0;
  int64_t log_end = 0;
  int64_t recovery_point = 0;
  // Segments the scan read from the page cache after a crash: durable once fsynced again.
  std::vector<std::shared_ptr<Segment>> unsynced;
  int64_t unflushed = 0;  // bytes of the newest segment not known to be fsynced
  int64_t recovered_from = INT64_MAX;  // base of the first segment scanned (or whose .txnindex was unreadable)
  bool dir_created = false;            // the directory (or its first segment) is new: fsync it
};

class LogLoader {
 public:
  LogLoader(std::filesystem::path dir, const LogConfig& config, const LogOpenOptions& options);
  Result<LoadedLog> load();

 private:
  Status complete_swaps();
  Status list_files();
  Status load_segment(size_t i, LoadedLog& out);
  // Trusts a segment found on disk (see 3. above). False, with the reason, when it must be
  // scanned instead.
  bool load_trusted(Segment& s, std::optional<int64_t> next_base, std::string& why);
  // Before a scan rebuilds them: indexes that look damaged are said, as .log repairs are. An
  // untrimmed index (the active segment's at a crash: entries, then zeros) is not damage.
  void note_damaged_indexes(const Segment& s);

  const std::filesystem::path dir_;
  const LogConfig& config_;
  const LogOpenOptions& options_;
  std::set<int64_t> swapped_;    // bases whose cleaner swap was completed: scanned
  std::vector<int64_t> bases_;   // every .log, sorted
  std::set<int64_t> txn_bases_;  // segments with a .txnindex (only those are read)
  int64_t now_ = 0;
  int indexes_without_space_ = 0;  // segments left without indexes for lack of space
  Error no_space_;                 // the first such failure (for the one log line)
};

// Scans a whole segment, checking every batch's header, CRC-32C and offsets, and rebuilds
// both indexes. A bad batch at the tail of the newest segment (`last`) is a torn write: the
// file is truncated there. Anything else is an error naming the file and byte position: data
// is never dropped from the middle of a log. When the indexes cannot get disk space the scan
// still runs (the log is whole) and `no_space` receives the failure; the index files are then
// absent, so reads scan the segment and a later open rebuilds them. Used by the loader and by
// Log::truncate_to for the segment it cuts.
Status recover_segment(Segment& s, const LogConfig& config, bool last, std::optional<Error>& no_space);

}  // namespace kb::storage
