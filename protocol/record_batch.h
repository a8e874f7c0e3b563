// RecordBatch v2 (magic 2): the unit producers send, the log stores and fetchers receive.
// Byte layout (all big-endian), 61-byte header:
//   0 baseOffset int64 | 8 batchLength int32 (bytes after this field) | 12 partitionLeaderEpoch
//   int32 | 16 magic int8 | 17 crc uint32 (CRC-32C of bytes 21..end) | 21 attributes int16 |
//   23 lastOffsetDelta int32 | 27 baseTimestamp int64 | 35 maxTimestamp int64 |
//   43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32 | 57 recordsCount int32
// baseOffset and partitionLeaderEpoch lie outside the CRC, so the leader patches them in place.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace kb {

namespace batch {
constexpr size_t kBaseOffset = 0;
constexpr size_t kBatchLength = 8;
constexpr size_t kLeaderEpoch = 12;
constexpr size_t kMagic = 16;
constexpr size_t kCrc = 17;
constexpr size_t kAttributes = 21;
constexpr size_t kLastOffsetDelta = 23;
constexpr size_t kBaseTimestamp = 27;
constexpr size_t kMaxTimestamp = 35;
constexpr size_t kProducerId = 43;
constexpr size_t kProducerEpoch = 51;
constexpr size_t kBaseSequence = 53;
constexpr size_t kRecordsCount = 57;
constexpr size_t kHeaderSize = 61;
constexpr size_t kLogOverhead = 12;  // baseOffset + batchLength
constexpr int8_t kMagicV2 = 2;
constexpr int16_t kCompressionMask = 0x07;
constexpr int16_t kTimestampTypeMask = 0x08;
constexpr int16_t kTransactionalMask = 0x10;
constexpr int16_t kControlMask = 0x20;
}  // namespace batch

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t records_count = 0;

  int compression() const { return attributes & batch::kCompressionMask; }
  bool log_append_time() const { return attributes & batch::kTimestampTypeMask; }
  bool is_transactional() const { return attributes & batch::kTransactionalMask; }
  bool is_control() const { return attributes & batch::kControlMask; }
  int64_t total_size() const { return int64_t(batch_length) + int64_t(batch::kLogOverhead); }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
};

// Parses the 61-byte header (no CRC check). CORRUPT_MESSAGE when too short or not magic 2.
Result<BatchHeader> read_batch_header(std::span<const uint8_t> bytes);

struct BatchInfo {
  BatchHeader header;
  size_t position = 0;  // byte position in the validated buffer
  int compression = 0;
};
struct ValidatedBatches {
  std::vector<BatchInfo> batches;
  int32_t records = 0;
  int64_t bytes = 0;
  int64_t max_timestamp = -1;
};

// Validates batches back to back as the produce path requires: magic 2, lengths, CRC-32C,
// size limit (MESSAGE_TOO_LARGE), record count; for uncompressed batches every record is walked
// (lengths, varints, offset deltas, headers). Structural problems are CORRUPT_MESSAGE.
// Records inside compressed batches are checked by the compression work (a later issue).
Result<ValidatedBatches> validate_batches(std::span<const uint8_t> bytes, int32_t max_batch_bytes);

void patch_base_offset(uint8_t* batch, int64_t base_offset);
void patch_leader_epoch(uint8_t* batch, int32_t epoch);
// LogAppendTime: sets the timestamp-type bit and max timestamp, then recomputes the CRC.
void set_log_append_time(uint8_t* batch, int64_t timestamp);

struct RecordHeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};
struct RecordView {
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::vector<RecordHeaderView> headers;
};

// Calls fn for every record of one uncompressed batch (the views point into `batch`).
Status for_each_record(std::span<const uint8_t> batch, const std::function<void(const RecordView&)>& fn);

// Builds an uncompressed v2 batch with a valid CRC (tests, internal records).
class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(int64_t base_offset = 0) : base_offset_(base_offset) {}
  RecordBatchBuilder& add(std::optional<std::string_view> key, std::optional<std::string_view> value,
                          int64_t timestamp,
                          const std::vector<std::pair<std::string, std::optional<std::string>>>& headers = {});
  std::vector<uint8_t> build() const;
  int count() const { return static_cast<int>(records_.size()); }

 private:
  struct Rec {
    std::optional<std::string> key, value;
    int64_t timestamp;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  };
  int64_t base_offset_;
  std::vector<Rec> records_;
};

}  // namespace kb
