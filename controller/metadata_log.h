// The metadata log: the ordered, durable sequence of metadata record batches every broker
// applies to its MetadataImage. A batch is the unit of atomicity: its records are applied
// together or not at all (a CreateTopics of one topic is TopicRecord + ConfigRecords +
// PartitionRecords in one batch).
//
// MetadataLog is the seam for the Raft quorum: LocalMetadataLog is the single-voter log of a
// broker that is its own controller (`controller.quorum.voters` empty); the Raft issue adds
// a replicated implementation of the same interface carrying the same bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "controller/metadata_records.h"
#include "protocol/types.h"
#include "storage/log.h"
#include "storage/log_manager.h"

namespace kb::controller {

struct MetadataBatch {
  int64_t base_offset = 0;  // offset of records.front()
  int64_t last_offset = 0;  // offset of records.back()
  std::vector<MetadataRecord> records;
};

// Owner: the Controller. Thread-safety: append is called by one writer at a time (the
// Controller's mutex); read is for start-up replay on that same thread.
class MetadataLog {
 public:
  virtual ~MetadataLog() = default;
  // Appends `records` (not empty) as one batch and returns once it is durable (fsynced);
  // the result is the offset of the last record. An error leaves it unknown whether the batch
  // survives a restart: the caller must stop writing (fail-stop), as Kafka's controller does.
  virtual Result<int64_t> append(const std::vector<MetadataRecord>& records) = 0;
  // Calls `fn` with every batch whose records start at or after `from`, in log order. Stops at
  // the first error, fn's or the log's (an undecodable record is CORRUPT_MESSAGE naming its
  // offset).
  virtual Status read(int64_t from, const std::function<Status(const MetadataBatch&)>& fn) const = 0;
  // The offset the next appended record gets.
  virtual int64_t end_offset() const = 0;
};

// One metadata batch as stored: an uncompressed v2 RecordBatch (base offset 0; the log
// assigns offsets) holding one record per metadata record, key null.
std::vector<uint8_t> encode_metadata_batch(const std::vector<MetadataRecord>& records);
// The records of one stored batch whose CRC was checked; CORRUPT_MESSAGE naming the offset of
// an undecodable record.
Result<MetadataBatch> decode_metadata_batch(std::span<const uint8_t> bytes);

// The single-voter metadata log: `<first log dir>/__cluster_metadata-0`, a partition Log in
// Kafka's layout holding uncompressed v2 batches with null keys (see metadata_records.h).
class LocalMetadataLog final : public MetadataLog {
 public:
  static constexpr const char* kTopic = "__cluster_metadata";

  // Opens (or creates) the log through the LogManager. Its LogConfig keeps every record
  // forever: without snapshots the log is the only copy of the cluster's metadata.
  static Result<std::unique_ptr<LocalMetadataLog>> open(storage::LogManager& logs);
  // The metadata partition's settings (Kafka's metadata.log.* defaults); the Raft quorum
  // opens the same partition with them.
  static storage::LogConfig log_config();

  Result<int64_t> append(const std::vector<MetadataRecord>& records) override;
  Status read(int64_t from, const std::function<Status(const MetadataBatch&)>& fn) const override;
  int64_t end_offset() const override;

 private:
  explicit LocalMetadataLog(std::shared_ptr<storage::Log> log) : log_(std::move(log)) {}
  std::shared_ptr<storage::Log> log_;
};

}  // namespace kb::controller
