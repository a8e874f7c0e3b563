// The idempotent-producer state of one partition replica (Kafka's ProducerStateManager): per
// producer id, its epoch and the metadata of its last kBatchesToRetain batches. The leader
// checks a client's batches against it before anything is written (sequence numbers,
// epochs, duplicates); every replica updates it from the batches its log receives, so a new
// leader after a failover recognises retried batches too.
//
// Transactions (Kafka's ongoing / unreplicated transactions): a transactional data batch of a
// producer with no open transaction opens one at its base offset; the next control batch
// (COMMIT or ABORT marker) of that producer ends it. The first unstable offset is the first
// offset of the earliest transaction that is open, or ended by a marker the high watermark
// has not passed yet; the partition's last stable offset is min(it, high watermark). Every
// ABORT that ends a transaction with data gives an entry for the log's transaction index.
//
// On disk (Kafka's layout and format): `<20-digit offset>.snapshot` in the partition's
// directory holds the state as of that log offset, one entry per producer with its last batch
// only (Kafka's snapshot v1: version int16, CRC-32C int32 of what follows, then an int32
// count of entries {producer_id int64, epoch int16, last_sequence int32, last_offset int64,
// offset_delta int32, timestamp int64, coordinator_epoch int32, current_txn_first_offset
// int64}); a producer known only from its markers has last_sequence and last_offset -1.
// load() starts from the newest snapshot at or below the log end and scans the batch
// headers after it; without one it scans the whole log. Snapshots are written at clean
// shutdown and when an append by a producer rolls the log to a new segment (so recovery after
// a crash scans at most about one segment).
//
// Owner: replication::Partition. Thread-safety: none; the partition serializes every call
// (its producer-state mutex), and holds it across check + append + update on the leader so
// that two appends of one producer cannot both pass the same sequence check.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <algorithm>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "protocol/types.h"
#include "storage/txn_index.h"

namespace kb::storage {
class Log;
}

namespace kb::replication {

// One appended batch of a producer, as far as deduplication needs it.
struct ProducerBatchMetadata {
  int32_t first_seq = -1;
  int32_t last_seq = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t timestamp = -1;  // the batch's max timestamp (the log append time for LogAppendTime)
  bool operator==(const ProducerBatchMetadata&) const = default;
};

struct ProducerStateEntry {
  int16_t epoch = -1;
  // Batches of `epoch` only (a new epoch starts afresh), oldest first, at most
  // ProducerStateManager::kBatchesToRetain.
  std::deque<ProducerBatchMetadata> batches;
  // The coordinator epoch of its last transaction marker (-1: none), and the first offset of
  // its open transaction on this partition (-1: none).
  int32_t coordinator_epoch = -1;
  int64_t current_txn_first_offset = -1;
  // The timestamp of its last transaction marker (-1: none).
  int64_t marker_timestamp = -1;

  int32_t last_seq() const { return batches.empty() ? -1 : batches.back().last_seq; }
  int64_t last_offset() const { return batches.empty() ? -1 : batches.back().last_offset; }
  // When the producer last wrote here, data or marker.
  int64_t last_timestamp() const {
    return std::max(batches.empty() ? int64_t{-1} : batches.back().timestamp, marker_timestamp);
  }
  bool operator==(const ProducerStateEntry&) const = default;
};

// What the leader's check of a client's batches decided.
struct ProducerAppendCheck {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  // Set when a batch was appended before (same producer, epoch and sequence range): nothing
  // is written and the producer is answered with that batch's offsets (Kafka answers NONE).
  std::optional<ProducerBatchMetadata> duplicate;
};

// Who asks for an append on the leader (Kafka's AppendOrigin): a client's batches carry
// sequence numbers and are checked in full; the broker's own coordinators (the group
// coordinator's transactional offset commits) write without a sequence, so only the epoch
// and the transaction state are checked.
enum class AppendOrigin { Client, Coordinator };

// KIP-890 part 1 (transaction.partition.verification.enable): what a client's batches bring to
// show that this partition is in their producer's transaction.
struct TxnVerification {
  // A transactional batch that would open a transaction here is refused (INVALID_TXN_STATE)
  // unless `guard` is the producer's current one (ProducerStateManager::start_verification):
  // the transaction coordinator said the partition is in the transaction since it was made.
  bool required = false;
  uint64_t guard = 0;  // 0: none
};

// The last sequence of a batch starting at `base_seq` with `last_offset_delta` + 1 records;
// sequences wrap from INT32_MAX to 0.
int32_t last_sequence(int32_t base_seq, int32_t last_offset_delta);

class ProducerStateManager {
 public:
  static constexpr size_t kBatchesToRetain = 5;  // Kafka's NUM_BATCHES_TO_RETAIN
  static constexpr const char* kSnapshotSuffix = ".snapshot";

  // `name` ("topic-partition") is for log lines and error messages only.
  explicit ProducerStateManager(std::string name) : name_(std::move(name)) {}

  // ---- leader ----
  // Checks a client's batches, in order, as they would be appended (Kafka's
  // ProducerAppendInfo with origin CLIENT). Batches without a producer id pass. Per batch:
  // a batch equal to one of its producer's retained batches (same epoch, first and last
  // sequence) is a duplicate (the first found is answered, nothing is appended); a smaller
  // epoch than the producer's is INVALID_PRODUCER_EPOCH; a new epoch of a known producer
  // must start at sequence 0, the same epoch must continue at the last sequence + 1, else
  // OUT_OF_ORDER_SEQUENCE_NUMBER; a producer this replica does not know may start at any
  // sequence (Kafka since KIP-360: its state may have expired). A producer id with a
  // negative sequence is INVALID_RECORD. A non-transactional batch of a producer with an
  // open transaction is INVALID_TXN_STATE (a transactional one without an open transaction
  // opens one: the coordinator vouched for it, see `verification` below). Later batches are
  // checked against the state as the earlier ones of the same request leave it.
  // AppendOrigin::Coordinator: sequences are neither required nor checked (no duplicates
  // either); the epoch and transaction rules stay. With `verification.required`, a
  // transactional batch that would open a transaction must bring the producer's verification
  // guard, else INVALID_TXN_STATE (Kafka's "not part of an ongoing transaction").
  ProducerAppendCheck check(std::span<const BatchHeader> batches, AppendOrigin origin = AppendOrigin::Client,
                            const TxnVerification& verification = {}) const;
  // Before the leader asks the transaction coordinator whether this partition is in
  // `producer_id`'s transaction (KIP-890 part 1): 0 when the producer has a transaction open
  // here already (its batches need no verification), else the guard its append must bring:
  // the pending one, or a new one, unique in the process. Any transactional batch or marker
  // of the producer that reaches the log ends the guard, so an answer that raced with an
  // ABORT marker admits nothing (Kafka's VerificationGuard). Guards older than the
  // producer-id expiration go with remove_expired.
  uint64_t start_verification(int64_t producer_id, int64_t now_ms);
  // Checks a transaction marker the coordinator asks for (WriteTxnMarkers), as Kafka's
  // appendEndTxnMarker from the coordinator: an epoch older than the producer's is
  // INVALID_PRODUCER_EPOCH, a coordinator epoch older than the one of its last marker
  // TRANSACTION_COORDINATOR_FENCED. An unknown producer passes.
  ProducerAppendCheck check_marker(int64_t producer_id, int16_t producer_epoch, int32_t coordinator_epoch) const;

  // ---- every replica ----
  // Records a batch that is now in the log (with its final offsets), without validation
  // (Kafka's origin REPLICATION): a different epoch replaces the producer's batches.
  // Batches without a producer id are ignored. `batch` is the whole batch (a control
  // batch's record says COMMIT or ABORT); empty, a control batch counts as a COMMIT. Returns
  // the transaction index entry when an ABORT ended a transaction with data.
  std::optional<storage::AbortedTxn> update(const BatchHeader& h, std::span<const uint8_t> batch = {});
  // update() for every batch of `batches` (back-to-back stored batches).
  std::vector<storage::AbortedTxn> update_all(std::span<const uint8_t> batches);

  // ---- transactions ----
  // The first offset of the earliest transaction that is open or whose marker is at or past
  // `high_watermark` (transactions ended below it are forgotten here); INT64_MAX when none.
  int64_t first_unstable_offset(int64_t high_watermark);
  // Transactions open on this partition.
  size_t ongoing_txn_count() const { return ongoing_.size(); }
  // The transaction open here that began first: its producer, first offset, and when the
  // producer last wrote here (Kafka's oldestTxnLastTimestamp, what "late transaction" is
  // measured on); nullopt when none is open.
  struct OpenTxn {
    int64_t producer_id = -1;
    int64_t first_offset = -1;
    int64_t last_timestamp = -1;
  };
  std::optional<OpenTxn> oldest_open_txn() const;

  // Producers whose last batch is older than `expiration_ms` at `now_ms` (Kafka's
  // producer.id.expiration.ms, measured on the batches' max timestamps as Kafka does) are
  // forgotten. Returns how many.
  size_t remove_expired(int64_t now_ms, int64_t expiration_ms);

  // The log was cut at `end` (a follower's truncation): batches at or after it are
  // forgotten. A producer that loses every retained batch had older state this memory no
  // longer holds: then the whole state is rebuilt from the log (and the snapshots at or
  // below `end`). Snapshots above `end` are deleted.
  // Transactions whose marker was cut open again: then the state is rebuilt too.
  void truncate(storage::Log& log, Offset end);
  // The log was emptied (truncate_fully_and_start_at): no state, no snapshots.
  void clear(const std::filesystem::path& dir);

  // Rebuilds the state of `log`: the newest snapshot at or below its log end (newer ones are
  // deleted: they describe a log that was cut since), then every batch after it. A snapshot
  // that does not parse is ignored (the whole log is scanned); a batch that cannot be read
  // stops the scan with a log line, keeping what was read. The transaction index entries of
  // the ABORT markers scanned in segments the log recovered after a crash are rewritten
  // from the scan (the index may lack the last ones or hold some of a cut tail).
  void load(storage::Log& log);
  // Writes the state as of `log`'s end offset to `<log end>.snapshot` (atomically, fsynced)
  // and deletes older snapshots. The caller makes sure no append runs meanwhile. `at`: the
  // offset the state is as of when it is not the log end (a segment roll: the state before
  // the batch that opened the new segment, at that segment's base offset).
  Status write_snapshot(const storage::Log& log, std::optional<int64_t> at = std::nullopt) const;

  const ProducerStateEntry* find(int64_t producer_id) const;
  const std::map<int64_t, ProducerStateEntry>& producers() const { return producers_; }
  size_t producer_count() const { return producers_.size(); }

  // Kafka's snapshot format (see the file comment); decode is nullopt for a damaged file.
  static std::vector<uint8_t> encode_snapshot(const std::map<int64_t, ProducerStateEntry>& producers);
  static std::optional<std::map<int64_t, ProducerStateEntry>> decode_snapshot(std::span<const uint8_t> bytes);
  // `<20-digit offset>.snapshot`.
  static std::string snapshot_file_name(int64_t offset);

 private:
  // Snapshot files in `dir`, by offset.
  static std::map<int64_t, std::filesystem::path> list_snapshots(const std::filesystem::path& dir);

  // ongoing_ from the producers' current_txn_first_offset.
  void rebuild_ongoing();
  // Whether `guard` is the pending verification guard of `producer_id`.
  bool verified(int64_t producer_id, uint64_t guard) const;

  std::string name_;
  std::map<int64_t, ProducerStateEntry> producers_;
  // Open transactions: first offset -> producer id (Kafka's ongoingTxns).
  std::map<int64_t, int64_t> ongoing_;
  // Ended transactions whose marker the high watermark may not have passed yet: marker offset
  // -> first offset (Kafka's unreplicatedTxns).
  std::map<int64_t, int64_t> unreplicated_;
  // The largest offset a control batch may have here (truncation below it may reopen a
  // transaction); -1 when none.
  int64_t last_marker_offset_ = -1;
  // Pending transaction verifications (leader only): producer id -> guard and when it began.
  struct PendingVerification {
    uint64_t guard = 0;
    int64_t started_ms = 0;
  };
  std::map<int64_t, PendingVerification> verifications_;
};

}  // namespace kb::replication
