// RecordBatch v2 (magic 2): the unit producers send, the log stores and fetchers receive.
// Byte layout (all big-endian), 61-byte header:
//   0 baseOffset int64 | 8 batchLength int32 (bytes after this field) | 12 partitionLeaderEpoch
//   int32 | 16 magic int8 | 17 crc uint32 (CRC-32C of bytes 21..end) | 21 attributes int16 |
//   23 lastOffsetDelta int32 | 27 baseTimestamp int64 | 35 maxTimestamp int64 |
//   43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32 | 57 recordsCount int32
// then recordsCount records (compressed as one block when attributes say so), each:
//   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
//   keyLength varint (-1 = null) | key | valueLength varint | value |
//   headerCount varint | headers (keyLength varint, key (never null), valueLength varint, value)
// baseOffset and partitionLeaderEpoch lie outside the CRC, so the leader patches them in place
// without touching the checksum; anything from attributes on changes it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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
constexpr size_t kLogOverhead = 12;  // baseOffset + batchLength: bytes not counted in batchLength
// The smallest legal batchLength: the header after the log overhead, with no records.
constexpr int32_t kMinBatchLength = static_cast<int32_t>(kHeaderSize - kLogOverhead);
constexpr int8_t kMagicV2 = 2;
// Attribute bits.
constexpr int16_t kCompressionMask = 0x07;  // 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
constexpr int16_t kTimestampTypeMask = 0x08;  // set: LogAppendTime, clear: CreateTime
constexpr int16_t kTransactionalMask = 0x10;
constexpr int16_t kControlMask = 0x20;
constexpr int16_t kDeleteHorizonMask = 0x40;  // set by the log cleaner (compaction)
constexpr int kMaxCompressionCodec = 4;
}  // namespace batch

// Codec numbers in the attributes' low 3 bits (Kafka's CompressionType ids).
enum class Compression : int { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

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
  bool timestamp_type_log_append() const { return attributes & batch::kTimestampTypeMask; }
  bool log_append_time() const { return timestamp_type_log_append(); }
  bool is_transactional() const { return attributes & batch::kTransactionalMask; }
  bool is_control() const { return attributes & batch::kControlMask; }
  // Bytes of the whole batch, log overhead included (what a log or a fetch carries).
  int64_t total_size() const { return int64_t(batch_length) + int64_t(batch::kLogOverhead); }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
};

// Parses the 61-byte header (no CRC check, no length check against the buffer).
// CORRUPT_MESSAGE when shorter than 61 bytes or not magic 2.
Result<BatchHeader> read_batch_header(std::span<const uint8_t> bytes);

// CRC-32C of a whole batch's bytes from attributes to the end (what the crc field must hold).
// Precondition: batch.size() >= kHeaderSize.
uint32_t compute_batch_crc(std::span<const uint8_t> batch);

// What validation learnt about one batch.
struct BatchInfo {
  BatchHeader header;
  size_t position = 0;  // byte position in the validated buffer
  int compression = 0;  // codec id (Compression)
  int32_t records = 0;
  int64_t bytes = 0;  // total size, log overhead included
  int32_t first_offset_delta = 0;  // always 0 in v2: offsets are base + index
  int32_t last_offset_delta = 0;
  // The largest record timestamp and the offset delta of the first record that has it
  // (compressed batches are decompressed to find them).
  int64_t max_timestamp = -1;
  int32_t offset_delta_of_max_timestamp = 0;
  int64_t min_timestamp = -1;  // smallest non-negative record timestamp (-1: none)
};
struct ValidatedBatches {
  std::vector<BatchInfo> batches;
  int32_t records = 0;
  int64_t bytes = 0;
  int64_t max_timestamp = -1;
  int64_t min_timestamp = -1;  // smallest non-negative record timestamp over all batches (-1: none)
  // Offset distance of the max-timestamp record from the first record of the whole set, once
  // offsets are assigned contiguously: first_offset + this = offset of max timestamp.
  int64_t offset_delta_of_max_timestamp = 0;
};

// Validates batches back to back as the produce path requires, before anything is appended:
// magic 2, batchLength sane and inside the buffer, size <= max_batch_bytes (else
// MESSAGE_TOO_LARGE), CRC-32C, recordsCount > 0 and lastOffsetDelta == recordsCount - 1, a
// known codec; for uncompressed batches every record is walked (lengths, varints, offset
// delta == index, key/value lengths -1 or inside the record, non-null header keys, exact
// consumption of the record and of the batch). Structural problems are CORRUPT_MESSAGE.
// Compressed batches are decompressed first (at most kMaxDecompressedBatchBytes; a bomb or a
// damaged stream is CORRUPT_MESSAGE) and their records checked the same way; their
// max_timestamp then comes from the records too.
Result<ValidatedBatches> validate_batches(std::span<const uint8_t> bytes, int32_t max_batch_bytes);

// The same batch with its records stored under `codec` (0 uncompressed, 1 gzip, ...): the
// records are decompressed (bounded as in validate_batches) and compressed again; header
// fields stay, the codec bits, length and CRC are rewritten. For a topic whose
// compression.type differs from the producer's. Precondition: a validated batch.
Result<std::vector<uint8_t>> recompress_batch(std::span<const uint8_t> batch, int codec);

// In-place edits of a batch that starts at `batch` (whole batch in memory).
void patch_base_offset(uint8_t* batch, int64_t base_offset);  // outside the CRC
void patch_leader_epoch(uint8_t* batch, int32_t epoch);       // outside the CRC
// LogAppendTime: sets the timestamp-type bit and maxTimestamp = `timestamp`, then recomputes
// the CRC (both fields are inside it).
void set_max_timestamp_and_type_log_append(uint8_t* batch, int64_t timestamp);
inline void set_log_append_time(uint8_t* batch, int64_t timestamp) {
  set_max_timestamp_and_type_log_append(batch, timestamp);
}

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

// Calls fn for every record of one uncompressed batch, in order (the views point into
// `batch`; a compacted batch may skip offsets). CORRUPT_MESSAGE for a compressed or malformed
// batch. The timestamps are the records' own (CreateTime); for a LogAppendTime batch callers
// use the header's maxTimestamp.
Status for_each_record(std::span<const uint8_t> batch, const std::function<void(const RecordView&)>& fn);
// The same for a batch in any codec: a compressed batch's records are decompressed first
// (at most kMaxDecompressedBatchBytes; more, or a damaged stream, is CORRUPT_MESSAGE) and the
// views point into that copy, valid during the call.
Status for_each_record_decompressed(std::span<const uint8_t> batch,
                                    const std::function<void(const RecordView&)>& fn);

// Builds one uncompressed v2 batch with a valid CRC (tests, and the broker's own records: the
// metadata log, group and transaction state, control markers).
// Thread-safety: none (a local value).
class RecordBatchBuilder {
 public:
  using Headers = std::vector<std::pair<std::string, std::optional<std::string>>>;

  explicit RecordBatchBuilder(int64_t base_offset = 0) : base_offset_(base_offset) {}
  RecordBatchBuilder& add(std::optional<std::string_view> key, std::optional<std::string_view> value,
                          int64_t timestamp, const Headers& headers = {});
  // Idempotent / transactional producer fields (defaults -1: no producer id).
  RecordBatchBuilder& producer(int64_t producer_id, int16_t producer_epoch, int32_t base_sequence);
  RecordBatchBuilder& transactional(bool on = true);
  RecordBatchBuilder& control(bool on = true);  // a control batch (transaction markers)
  RecordBatchBuilder& partition_leader_epoch(int32_t epoch);

  // The batch bytes; an empty vector when no record was added (Kafka has no empty batches
  // outside compaction).
  std::vector<uint8_t> build() const;
  int count() const { return static_cast<int>(records_.size()); }

 private:
  struct Rec {
    std::optional<std::string> key, value;
    int64_t timestamp;
    Headers headers;
  };
  int64_t base_offset_;
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = -1;
  int32_t base_sequence_ = -1;
  int32_t leader_epoch_ = -1;
  int16_t attributes_ = 0;
  std::vector<Rec> records_;
};

}  // namespace kb
