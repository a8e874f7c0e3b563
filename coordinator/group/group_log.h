// The partitions of __consumer_offsets as the group coordinator sees them: it appends its
// records (offset commits, group metadata, tombstones) and replays them when it becomes the
// coordinator of a partition. ReplicaGroupLog (replica_group_log.h) is the broker's; unit
// tests use an in-memory one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/types.h"

namespace kb::coordinator {

// A record to write: key and value bytes; a null value is a tombstone (the compacted topic
// forgets the key).
struct GroupRecord {
  std::string key;
  std::optional<std::string> value;
};

// The transactional producer a batch is written for (TxnOffsetCommit): its records belong
// to that producer's transaction and take effect only with the COMMIT marker the
// transaction coordinator writes to the partition later (WriteTxnMarkers).
struct TxnProducer {
  int64_t id = -1;
  int16_t epoch = -1;
};

// What a control record (Kafka's EndTransactionMarker) ends: key {version int16, type int16},
// type 0 ABORT, 1 COMMIT.
enum class TxnMarker { None, Commit, Abort };

struct StoredGroupRecord {
  int64_t offset = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  // The producer of a transactional batch (its records are pending until its marker), or of
  // a marker; -1 for the coordinator's plain writes.
  int64_t txn_producer_id = -1;
  // Set for a transaction marker of txn_producer_id (key and value are then the marker's).
  TxnMarker marker = TxnMarker::None;
};

// What a replay read past instead of failing the whole partition: a batch that cannot be read
// (damaged on disk, or a compressed stream that does not decompress) or a record whose key or
// value is not a known version of the topic's format. One bad record must not make every
// group (or transactional id) of the partition unreachable; the loader logs what it skipped
// once per load and the broker counts it (kbroker_coordinator_skipped_records_total).
struct SkippedRecords {
  int64_t count = 0;
  std::string first;  // the first one: "offset 17: why"

  void add(int64_t offset, std::string_view why, int64_t records = 1) {
    if (count == 0) first = "offset " + std::to_string(offset) + ": " + std::string(why);
    count += records;
  }
};

// Kafka's coordinators (GroupMetadataManager, TransactionStateManager) answer a failed write
// to their log as coordinator errors: NOT_COORDINATOR when this broker no longer leads the
// partition or its disk failed (the client looks for the coordinator again),
// COORDINATOR_NOT_AVAILABLE when the partition is gone, the ISR too small or too slow (the
// client retries); other errors (the producer's own) stay as they are. Offset commits add
// their size errors on top (commit_error_for in group_table.h).
inline ErrorCode coordinator_append_error(ErrorCode append_error) {
  switch (append_error) {
    case ErrorCode::NOT_LEADER_OR_FOLLOWER:
    case ErrorCode::KAFKA_STORAGE_ERROR:
      return ErrorCode::NOT_COORDINATOR;
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::NOT_ENOUGH_REPLICAS:
    case ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode::REQUEST_TIMED_OUT:
      return ErrorCode::COORDINATOR_NOT_AVAILABLE;
    default:
      return append_error;
  }
}

class GroupLog {
 public:
  virtual ~GroupLog() = default;
  // Appends `records` (not empty) as one batch to __consumer_offsets-<partition>. `done` runs
  // later, on the coordinator's loop, once the batch is committed (readable by every replica
  // that may become coordinator): with the offset of the first record, or the error as Kafka's
  // coordinators answer it (NOT_COORDINATOR when this broker no longer leads the partition or
  // its disk failed, COORDINATOR_NOT_AVAILABLE when the ISR is too small or did not follow in
  // time, the producer's own errors as they are).
  // With `txn`, the batch is transactional for that producer (no sequence number, as Kafka's
  // coordinator appends): it opens the producer's transaction on the partition, so its
  // marker ends it; an epoch older than the partition knows is INVALID_PRODUCER_EPOCH.
  virtual void append(int32_t partition, const std::vector<GroupRecord>& records,
                      std::optional<TxnProducer> txn, std::function<void(Result<int64_t>)> done) = 0;
  // Calls fn with every record of the partition, in log order (start-up and coordinator
  // moves), transaction markers included (see StoredGroupRecord); compressed batches are
  // read too (offsets.topic.compression.codec). A batch that cannot be read is added to
  // `skipped` and the replay goes on after it; an error only when the log itself cannot be
  // read (this broker no longer has the partition, an I/O error). Runs on the coordinator's
  // loop.
  virtual Status replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn,
                        SkippedRecords& skipped) = 0;
};

}  // namespace kb::coordinator
