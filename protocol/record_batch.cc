#include "protocol/record_batch.h"

#include "protocol/compression.h"

#include <algorithm>
#include <limits>

#include "protocol/crc32c.h"
#include "protocol/wire.h"

namespace kb {

using wire::load_be16;
using wire::load_be32;
using wire::load_be64;

Result<BatchHeader> read_batch_header(std::span<const uint8_t> b) {
  if (b.size() < batch::kHeaderSize)
    return Error{ErrorCode::CORRUPT_MESSAGE, "record batch shorter than its 61-byte header"};
  BatchHeader h;
  const uint8_t* p = b.data();
  h.base_offset = static_cast<int64_t>(load_be64(p + batch::kBaseOffset));
  h.batch_length = static_cast<int32_t>(load_be32(p + batch::kBatchLength));
  h.partition_leader_epoch = static_cast<int32_t>(load_be32(p + batch::kLeaderEpoch));
  h.magic = static_cast<int8_t>(p[batch::kMagic]);
  if (h.magic != batch::kMagicV2)
    return Error{ErrorCode::CORRUPT_MESSAGE,
                 "record batch magic " + std::to_string(h.magic) + " (only magic 2 is accepted)"};
  h.crc = load_be32(p + batch::kCrc);
  h.attributes = static_cast<int16_t>(load_be16(p + batch::kAttributes));
  h.last_offset_delta = static_cast<int32_t>(load_be32(p + batch::kLastOffsetDelta));
  h.base_timestamp = static_cast<int64_t>(load_be64(p + batch::kBaseTimestamp));
  h.max_timestamp = static_cast<int64_t>(load_be64(p + batch::kMaxTimestamp));
  h.producer_id = static_cast<int64_t>(load_be64(p + batch::kProducerId));
  h.producer_epoch = static_cast<int16_t>(load_be16(p + batch::kProducerEpoch));
  h.base_sequence = static_cast<int32_t>(load_be32(p + batch::kBaseSequence));
  h.records_count = static_cast<int32_t>(load_be32(p + batch::kRecordsCount));
  return h;
}

uint32_t compute_batch_crc(std::span<const uint8_t> b) {
  return crc32c(b.data() + batch::kAttributes, b.size() - batch::kAttributes);
}

namespace {

Error corrupt(const std::string& what) { return Error{ErrorCode::CORRUPT_MESSAGE, what}; }

// base + delta without signed overflow (a hostile delta must not be undefined behaviour).
int64_t add_wrapping(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

struct WalkResult {
  int64_t max_timestamp = -1;
  int32_t offset_delta_of_max = 0;
  int64_t min_timestamp = -1;  // smallest non-negative record timestamp (-1: none)
};

// Walks the records of one uncompressed batch `b` (exactly total_size() bytes); calls fn per
// record when given. Every length is checked against what is left, so a lying field can
// neither read out of bounds nor make the walk allocate.
// Produced batches number their records 0, 1, 2...; a compacted batch (the log cleaner) keeps
// its records' offset deltas, so a reader (`compacted`) accepts any increasing ones.
Result<WalkResult> walk_records(std::span<const uint8_t> records, const BatchHeader& h,
                                const std::function<void(const RecordView&)>* fn, bool compacted = false) {
  WalkResult out;
  int32_t prev_delta = -1;
  wire::Reader r(records);
  RecordView v;
  for (int32_t i = 0; i < h.records_count; ++i) {
    int32_t len = r.read_varint();
    if (!r.ok() || len <= 0 || static_cast<size_t>(len) > r.remaining())
      return corrupt("record " + std::to_string(i) + " has an invalid length");
    wire::Reader rec(r.read_raw(static_cast<size_t>(len)));
    rec.read_int8();  // record attributes: unused by every Kafka version so far
    int64_t ts_delta = rec.read_varlong();
    int32_t off_delta = rec.read_varint();
    if (!rec.ok()) return corrupt("record " + std::to_string(i) + " is truncated");
    if (compacted ? off_delta <= prev_delta || off_delta > h.last_offset_delta : off_delta != i)
      return corrupt("record " + std::to_string(i) + " has offset delta " + std::to_string(off_delta));
    prev_delta = off_delta;
    v.offset = h.base_offset + off_delta;
    v.timestamp = add_wrapping(h.base_timestamp, ts_delta);
    v.key.reset();
    v.value.reset();
    v.headers.clear();
    auto read_opt = [&](std::optional<std::string_view>& out) -> bool {
      int32_t n = rec.read_varint();
      if (!rec.ok() || n < -1) return false;
      if (n == -1) return true;
      if (static_cast<size_t>(n) > rec.remaining()) return false;
      auto s = rec.read_raw(static_cast<size_t>(n));
      out = std::string_view(reinterpret_cast<const char*>(s.data()), s.size());
      return true;
    };
    if (!read_opt(v.key) || !read_opt(v.value))
      return corrupt("record " + std::to_string(i) + " has an invalid key or value length");
    int32_t nh = rec.read_varint();
    // Each header takes at least two bytes (two length varints).
    if (!rec.ok() || nh < 0 || static_cast<size_t>(nh) > rec.remaining() / 2)
      return corrupt("record " + std::to_string(i) + " has an invalid header count");
    for (int32_t k = 0; k < nh; ++k) {
      std::optional<std::string_view> hk, hv;
      if (!read_opt(hk) || !hk || !read_opt(hv))
        return corrupt("record " + std::to_string(i) + " has an invalid header");
      if (fn) v.headers.push_back({*hk, hv});
    }
    if (rec.remaining() != 0) return corrupt("record " + std::to_string(i) + " has trailing bytes");
    if (i == 0 || v.timestamp > out.max_timestamp) {
      out.max_timestamp = v.timestamp;
      out.offset_delta_of_max = off_delta;
    }
    if (v.timestamp >= 0 && (out.min_timestamp < 0 || v.timestamp < out.min_timestamp)) out.min_timestamp = v.timestamp;
    if (fn) (*fn)(v);
  }
  if (r.remaining() != 0)
    return corrupt("record batch holds more bytes than its " + std::to_string(h.records_count) + " records");
  return out;
}

}  // namespace

Result<ValidatedBatches> validate_batches(std::span<const uint8_t> bytes, int32_t max_batch_bytes) {
  ValidatedBatches out;
  size_t pos = 0;
  int64_t offset_delta_base = 0;  // offsets taken by the batches before this one
  while (pos < bytes.size()) {
    auto rest = bytes.subspan(pos);
    if (rest.size() < batch::kHeaderSize) return corrupt("truncated record batch header");
    auto h = read_batch_header(rest);
    if (!h.ok()) return h.error();
    if (h->batch_length < batch::kMinBatchLength)
      return corrupt("record batch length " + std::to_string(h->batch_length) + " is too small");
    int64_t size = h->total_size();
    if (static_cast<uint64_t>(size) > rest.size())
      return corrupt("record batch length " + std::to_string(h->batch_length) + " runs past the end of the request");
    if (size > max_batch_bytes)
      return Error{ErrorCode::MESSAGE_TOO_LARGE, "record batch of " + std::to_string(size) +
                                                     " bytes exceeds the limit of " + std::to_string(max_batch_bytes)};
    auto b = rest.subspan(0, static_cast<size_t>(size));
    if (compute_batch_crc(b) != h->crc) return corrupt("record batch CRC-32C mismatch");
    if (h->records_count <= 0)
      return corrupt("record batch has an invalid record count " + std::to_string(h->records_count));
    if (h->last_offset_delta != h->records_count - 1)
      return corrupt("record batch lastOffsetDelta " + std::to_string(h->last_offset_delta) +
                     " does not match its " + std::to_string(h->records_count) + " records");
    int codec = h->compression();
    if (codec > batch::kMaxCompressionCodec) return corrupt("unknown compression codec " + std::to_string(codec));

    BatchInfo info;
    info.header = *h;
    info.position = pos;
    info.compression = codec;
    info.records = h->records_count;
    info.bytes = size;
    info.last_offset_delta = h->last_offset_delta;
    info.max_timestamp = h->max_timestamp;
    info.offset_delta_of_max_timestamp = h->last_offset_delta;
    // Compressed records are decompressed (bounded: a bomb is CORRUPT_MESSAGE) and walked
    // like uncompressed ones, so a lying record count or length is caught either way.
    std::vector<uint8_t> plain;
    std::span<const uint8_t> records = b.subspan(batch::kHeaderSize);
    if (codec != 0) {
      auto d = decompress(codec, records, kMaxDecompressedBatchBytes);
      if (!d.ok()) return d.error();
      plain = std::move(d.value());
      records = plain;
    }
    // Every record takes at least 7 bytes (length, attributes, two deltas, key and value
    // lengths, header count), so a huge count is refused before walking.
    if (static_cast<size_t>(h->records_count) > records.size() / 7)
      return corrupt("record count " + std::to_string(h->records_count) + " cannot fit in the batch");
    auto walked = walk_records(records, *h, nullptr);
    if (!walked.ok()) return walked.error();
    info.max_timestamp = walked->max_timestamp;
    info.offset_delta_of_max_timestamp = walked->offset_delta_of_max;
    info.min_timestamp = walked->min_timestamp;
    if (info.min_timestamp >= 0 && (out.min_timestamp < 0 || info.min_timestamp < out.min_timestamp))
      out.min_timestamp = info.min_timestamp;
    if (out.batches.empty() || info.max_timestamp > out.max_timestamp) {
      out.max_timestamp = info.max_timestamp;
      out.offset_delta_of_max_timestamp = offset_delta_base + info.offset_delta_of_max_timestamp;
    }
    out.records += h->records_count;
    offset_delta_base += int64_t(h->last_offset_delta) + 1;
    out.batches.push_back(info);
    pos += static_cast<size_t>(size);
  }
  out.bytes = static_cast<int64_t>(bytes.size());
  if (out.batches.empty()) return corrupt("no record batch");
  return out;
}

Result<std::vector<uint8_t>> recompress_batch(std::span<const uint8_t> b, int codec) {
  auto h = read_batch_header(b);
  if (!h.ok()) return h.error();
  auto records = b.subspan(batch::kHeaderSize, static_cast<size_t>(h->total_size()) - batch::kHeaderSize);
  std::vector<uint8_t> plain;
  if (h->compression() != 0) {
    auto d = decompress(h->compression(), records, kMaxDecompressedBatchBytes);
    if (!d.ok()) return d.error();
    plain = std::move(d.value());
  } else {
    plain.assign(records.begin(), records.end());
  }
  std::vector<uint8_t> packed;
  if (codec != 0) {
    auto c = compress(codec, plain);
    if (!c.ok()) return c.error();
    packed = std::move(c.value());
  } else {
    packed = std::move(plain);
  }
  std::vector<uint8_t> out(batch::kHeaderSize + packed.size());
  std::copy(b.begin(), b.begin() + batch::kHeaderSize, out.begin());
  std::copy(packed.begin(), packed.end(), out.begin() + batch::kHeaderSize);
  wire::store_be32(out.data() + batch::kBatchLength, static_cast<uint32_t>(out.size() - batch::kLogOverhead));
  uint16_t attrs = static_cast<uint16_t>((load_be16(b.data() + batch::kAttributes) & ~batch::kCompressionMask) | codec);
  wire::store_be16(out.data() + batch::kAttributes, attrs);
  wire::store_be32(out.data() + batch::kCrc, compute_batch_crc(out));
  return out;
}

void patch_base_offset(uint8_t* b, int64_t base_offset) {
  wire::store_be64(b + batch::kBaseOffset, static_cast<uint64_t>(base_offset));
}
void patch_leader_epoch(uint8_t* b, int32_t epoch) {
  wire::store_be32(b + batch::kLeaderEpoch, static_cast<uint32_t>(epoch));
}
void set_max_timestamp_and_type_log_append(uint8_t* b, int64_t ts) {
  uint16_t attrs = load_be16(b + batch::kAttributes) | batch::kTimestampTypeMask;
  wire::store_be16(b + batch::kAttributes, attrs);
  wire::store_be64(b + batch::kMaxTimestamp, static_cast<uint64_t>(ts));
  size_t size = static_cast<size_t>(int64_t(static_cast<int32_t>(load_be32(b + batch::kBatchLength))) +
                                    int64_t(batch::kLogOverhead));
  wire::store_be32(b + batch::kCrc, compute_batch_crc({b, size}));
}

Status for_each_record(std::span<const uint8_t> b, const std::function<void(const RecordView&)>& fn) {
  auto h = read_batch_header(b);
  if (!h.ok()) return h.error();
  if (h->compression() != 0)
    return Status(ErrorCode::CORRUPT_MESSAGE, "for_each_record needs an uncompressed batch");
  if (h->batch_length < batch::kMinBatchLength || static_cast<uint64_t>(h->total_size()) > b.size())
    return corrupt("truncated record batch");
  if (h->records_count < 0) return corrupt("negative record count");
  auto walked = walk_records(b.subspan(batch::kHeaderSize, static_cast<size_t>(h->total_size()) - batch::kHeaderSize),
                             *h, &fn, true);
  if (!walked.ok()) return walked.error();
  return {};
}

Status for_each_record_decompressed(std::span<const uint8_t> b, const std::function<void(const RecordView&)>& fn) {
  auto h = read_batch_header(b);
  if (!h.ok()) return h.error();
  if (h->compression() == 0) return for_each_record(b, fn);
  if (h->batch_length < batch::kMinBatchLength || static_cast<uint64_t>(h->total_size()) > b.size())
    return corrupt("truncated record batch");
  auto body = b.subspan(batch::kHeaderSize, static_cast<size_t>(h->total_size()) - batch::kHeaderSize);
  auto plain = decompress(h->compression(), body, kMaxDecompressedBatchBytes);
  if (!plain.ok()) return plain.error();
  auto walked = walk_records(plain.value(), *h, &fn, true);
  if (!walked.ok()) return walked.error();
  return {};
}

RecordBatchBuilder& RecordBatchBuilder::add(std::optional<std::string_view> key,
                                            std::optional<std::string_view> value, int64_t ts,
                                            const Headers& headers) {
  Rec r;
  if (key) r.key = std::string(*key);
  if (value) r.value = std::string(*value);
  r.timestamp = ts;
  r.headers = headers;
  records_.push_back(std::move(r));
  return *this;
}

RecordBatchBuilder& RecordBatchBuilder::producer(int64_t producer_id, int16_t producer_epoch,
                                                 int32_t base_sequence) {
  producer_id_ = producer_id;
  producer_epoch_ = producer_epoch;
  base_sequence_ = base_sequence;
  return *this;
}
RecordBatchBuilder& RecordBatchBuilder::transactional(bool on) {
  attributes_ = on ? (attributes_ | batch::kTransactionalMask) : (attributes_ & ~batch::kTransactionalMask);
  return *this;
}
RecordBatchBuilder& RecordBatchBuilder::control(bool on) {
  attributes_ = on ? (attributes_ | batch::kControlMask) : (attributes_ & ~batch::kControlMask);
  return *this;
}
RecordBatchBuilder& RecordBatchBuilder::partition_leader_epoch(int32_t epoch) {
  leader_epoch_ = epoch;
  return *this;
}

std::vector<uint8_t> RecordBatchBuilder::build() const {
  if (records_.empty()) return {};
  // Kafka's producer: the first record's timestamp is the base, the others are deltas.
  int64_t base_ts = records_.front().timestamp;
  int64_t max_ts = base_ts;
  for (const auto& r : records_) max_ts = std::max(max_ts, r.timestamp);
  wire::Writer w;
  w.write_int64(base_offset_);
  size_t len_at = w.reserve_int32();
  w.write_int32(leader_epoch_);
  w.write_int8(batch::kMagicV2);
  size_t crc_at = w.reserve_int32();
  w.write_int16(attributes_);
  w.write_int32(static_cast<int32_t>(records_.size()) - 1);
  w.write_int64(base_ts);
  w.write_int64(max_ts);
  w.write_int64(producer_id_);
  w.write_int16(producer_epoch_);
  w.write_int32(base_sequence_);
  w.write_int32(static_cast<int32_t>(records_.size()));
  int32_t i = 0;
  wire::Writer rec;
  for (const auto& r : records_) {
    rec.buffer().clear();
    rec.write_int8(0);
    // Wrapping, as Java's long arithmetic and our readers' add_wrapping: legacy messages may
    // carry any two timestamps, whose difference can exceed int64 (found by fuzz_legacy_messages).
    rec.write_varlong(static_cast<int64_t>(static_cast<uint64_t>(r.timestamp) - static_cast<uint64_t>(base_ts)));
    rec.write_varint(i++);
    auto opt = [&](const std::optional<std::string>& s) {
      if (!s) return rec.write_varint(-1);
      rec.write_varint(static_cast<int32_t>(s->size()));
      rec.write_raw(*s);
    };
    opt(r.key);
    opt(r.value);
    rec.write_varint(static_cast<int32_t>(r.headers.size()));
    for (const auto& [k, v] : r.headers) {
      opt(k);
      opt(v);
    }
    w.write_varint(static_cast<int32_t>(rec.buffer().size()));
    w.write_raw(rec.buffer());
  }
  auto& b = w.buffer();
  w.patch_int32(len_at, static_cast<int32_t>(b.size() - batch::kLogOverhead));
  w.patch_int32(crc_at, static_cast<int32_t>(compute_batch_crc(b)));
  return std::move(b);
}

}  // namespace kb
