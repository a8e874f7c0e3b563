// The aborted-transaction index of a log segment, Kafka's `.txnindex` file: one entry per
// transaction that ended with an ABORT marker in that segment, so that a read_committed fetch
// can tell the consumer which producers' records to drop (Kafka's TransactionIndex).
//
// On disk (Kafka's format, big-endian, no header): entries of 34 bytes back to back,
//   version int16 (0), producer_id int64, first_offset int64, last_offset int64,
//   last_stable_offset int64
// where first_offset is the transaction's first data offset, last_offset the offset of its
// ABORT marker, and last_stable_offset the partition's last stable offset right after the
// transaction ended, ignoring the high watermark (the first offset of the earliest other
// transaction still open then, else last_offset + 1). An entry lives in the segment that
// holds its marker, so entries are in marker order. A trailing partial entry (a torn write)
// is ignored when read.
//
// Owner: the Log keeps each segment's entries in memory (Segment::aborted_txns) and the file
// next to the segment. Thread-safety: the functions are reentrant; callers serialize writers
// of one file (the Log's mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "protocol/types.h"

namespace kb::storage {

constexpr const char* kTxnIndexSuffix = ".txnindex";
constexpr size_t kTxnEntrySize = 34;
constexpr int16_t kTxnEntryVersion = 0;

struct AbortedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t last_stable_offset = -1;
  bool operator==(const AbortedTxn&) const = default;
};

void encode_txn_entry(const AbortedTxn& txn, uint8_t out[kTxnEntrySize]);
// nullopt for an entry of another version.
std::optional<AbortedTxn> decode_txn_entry(std::span<const uint8_t, kTxnEntrySize> in);

// The entries of a .txnindex file (a missing file has none). KAFKA_STORAGE_ERROR when it
// cannot be read or holds an entry of an unknown version.
Result<std::vector<AbortedTxn>> read_txn_index(const std::filesystem::path& path);
// Appends one entry (creating the file). In the page cache on return; fsynced by the Log's
// flush.
Status append_txn_index(const std::filesystem::path& path, const AbortedTxn& txn);
// Replaces the file with exactly `entries` (atomically, fsynced); no entries removes it.
Status write_txn_index(const std::filesystem::path& path, const std::vector<AbortedTxn>& entries);

// Kafka's TransactionIndex.collectAbortedTxns over one segment's entries: appends to `out`
// those overlapping [fetch_offset, upper_bound) (last_offset >= fetch_offset and first_offset
// < upper_bound). Returns true once an entry's last_stable_offset reaches upper_bound: no
// later entry (this segment's or a later one's) can overlap the range.
bool collect_aborted_txns(const std::vector<AbortedTxn>& entries, int64_t fetch_offset, int64_t upper_bound,
                          std::vector<AbortedTxn>& out);

}  // namespace kb::storage
