// The metadata log: the ordered, durable sequence of metadata record batches every broker
// applies to its MetadataImage. A batch is the unit of atomicity: its records are applied
// together or not at all (a CreateTopics of one topic is TopicRecord + ConfigRecords +
// PartitionRecords in one batch).
//
// MetadataLog is the Controller's seam: QuorumMetadataLog proposes to the Raft quorum (a
// quorum of one on a lone broker); tests commit at once. The partition `__cluster_metadata-0`
// holds one RecordBatch per batch (replication/raft/log_storage.h), the layout a lone broker
// wrote before it became a quorum of one too, so its old logs load as they are.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "controller/metadata_records.h"
#include "protocol/types.h"
#include "storage/log.h"

namespace kb::controller {
// The metadata log's partition: `__cluster_metadata-0` in the first log dir.
inline constexpr const char* kMetadataLogTopic = "__cluster_metadata";
}

namespace kb::controller {

struct MetadataBatch {
  int64_t base_offset = 0;  // offset of records.front()
  int64_t last_offset = 0;  // offset of records.back()
  std::vector<MetadataRecord> records;
};

// Owner: the Controller. Thread-safety: append is called by one writer at a time (the
// Controller's mutex).
class MetadataLog {
 public:
  virtual ~MetadataLog() = default;
  // Appends `records` (not empty) as one batch and returns once it is committed; the result
  // is the offset of the last record. NOT_CONTROLLER or REQUEST_TIMED_OUT: the leadership
  // moved or the quorum is slow (the batch may still commit: the image follows the log). Any
  // other error leaves it unknown whether the batch survives a restart: the caller must stop
  // writing (fail-stop), as Kafka's controller does.
  virtual Result<int64_t> append(const std::vector<MetadataRecord>& records) = 0;
  // The offset the next appended record gets.
  virtual int64_t end_offset() const = 0;
};

// One metadata batch as stored: an uncompressed v2 RecordBatch (base offset 0; the log
// assigns offsets) holding one record per metadata record, key null.
std::vector<uint8_t> encode_metadata_batch(const std::vector<MetadataRecord>& records);
// The records of one stored batch whose CRC was checked; CORRUPT_MESSAGE naming the offset of
// an undecodable record.
Result<MetadataBatch> decode_metadata_batch(std::span<const uint8_t> bytes);

// The metadata partition's settings (Kafka's metadata.log.* defaults) for the quorum's log:
// every record is kept until a snapshot covers it.
storage::LogConfig metadata_log_config();

}  // namespace kb::controller
