#include "controller/metadata_log.h"

#include <algorithm>
#include <string>

#include "protocol/record_batch.h"
#include "runtime/clock.h"

namespace kb::controller {

namespace {

// The single voter's leader epoch: with one voter there is never an election. The Raft log
// stamps its own epochs into the batches it writes.
constexpr int32_t kSingleVoterEpoch = 0;

Status corrupt_at(int64_t offset, const std::string& why) {
  return Status(ErrorCode::CORRUPT_MESSAGE, "metadata log " + std::string(LocalMetadataLog::kTopic) +
                                                "-0 at offset " + std::to_string(offset) + ": " + why);
}

// Decodes the records of one stored batch (Log::for_each_batch has checked its CRC: the image
// must never be built from damaged bytes, and a crash-free start does not re-scan segments).
Result<MetadataBatch> decode_batch(std::span<const uint8_t> bytes, const BatchHeader& h);

}  // namespace

Result<MetadataBatch> decode_metadata_batch(std::span<const uint8_t> bytes) {
  auto h = read_batch_header(bytes);
  if (!h.ok()) return h.error();
  return decode_batch(bytes, h.value());
}

namespace {

Result<MetadataBatch> decode_batch(std::span<const uint8_t> bytes, const BatchHeader& h) {
  MetadataBatch batch;
  batch.base_offset = h.base_offset;
  batch.last_offset = h.last_offset();
  Status bad;
  auto walked = for_each_record(bytes, [&](const RecordView& rv) {
    if (!bad.ok()) return;
    if (!rv.value) {
      bad = corrupt_at(rv.offset, "record without a value");
      return;
    }
    auto rec = decode_record(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rv.value->data()), rv.value->size()));
    if (!rec.ok()) {
      bad = corrupt_at(rv.offset, rec.error().message);
      return;
    }
    batch.records.push_back(std::move(rec.value()));
  });
  if (!walked.ok()) return corrupt_at(h.base_offset, walked.error().message).error();
  if (!bad.ok()) return bad.error();
  return batch;
}

}  // namespace

storage::LogConfig LocalMetadataLog::log_config() {
  storage::LogConfig lc;
  // Kafka's metadata.log.segment.bytes and metadata.log.segment.ms defaults.
  lc.segment_bytes = 1073741824;
  lc.segment_ms = 604800000;
  lc.retention_ms = -1;
  lc.retention_bytes = -1;
  lc.max_message_bytes = 64 * 1024 * 1024;  // a CreateTopics of thousands of partitions is one batch
  return lc;
}

Result<std::unique_ptr<LocalMetadataLog>> LocalMetadataLog::open(storage::LogManager& logs) {
  auto log = logs.get_or_create(TopicPartition{kTopic, 0}, log_config());
  if (!log.ok()) return log.error();
  return std::unique_ptr<LocalMetadataLog>(new LocalMetadataLog(std::move(log.value())));
}

Result<int64_t> LocalMetadataLog::append(const std::vector<MetadataRecord>& records) {
  if (records.empty()) return Error{ErrorCode::INVALID_REQUEST, "empty metadata batch"};
  std::vector<uint8_t> bytes = encode_metadata_batch(records);
  auto info = log_->append(bytes, kSingleVoterEpoch);
  if (!info.ok()) return info.error();
  // Metadata is durable before anyone acts on it or answers a client.
  if (auto s = log_->flush(); !s.ok()) return s.error();
  return info->last_offset.value();
}

std::vector<uint8_t> encode_metadata_batch(const std::vector<MetadataRecord>& records) {
  RecordBatchBuilder builder;
  int64_t ts = runtime::now_ms();
  std::vector<std::vector<uint8_t>> values;
  values.reserve(records.size());
  for (const auto& r : records) {
    values.push_back(encode_record(r));
    const auto& v = values.back();
    builder.add(std::nullopt, std::string_view(reinterpret_cast<const char*>(v.data()), v.size()), ts);
  }
  return builder.build();
}

Status LocalMetadataLog::read(int64_t from, const std::function<Status(const MetadataBatch&)>& fn) const {
  return log_->for_each_batch(Offset(from), log_->log_end_offset(),
                              [&](std::span<const uint8_t> bytes, const BatchHeader& h) -> Status {
                                if (h.is_control()) return {};  // a Raft leader's epoch marker
                                auto batch = decode_batch(bytes, h);
                                if (!batch.ok()) return batch.error();
                                return fn(batch.value());
                              });
}

int64_t LocalMetadataLog::end_offset() const { return log_->log_end_offset().value(); }

}  // namespace kb::controller
