#include "protocol/record_batch.h"

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

namespace {

Error corrupt(const std::string& what) { return Error{ErrorCode::CORRUPT_MESSAGE, what}; }

// Walks the records of an uncompressed batch; calls fn per record if given.
Status walk_records(std::span<const uint8_t> b, const BatchHeader& h,
                    const std::function<void(const RecordView&)>* fn) {
  wire::Reader r(b.subspan(batch::kHeaderSize));
  for (int32_t i = 0; i < h.records_count; ++i) {
    int32_t len = r.read_varint();
    if (!r.ok() || len < 0 || static_cast<size_t>(len) > r.remaining())
      return corrupt("record " + std::to_string(i) + " has an invalid length");
    wire::Reader rec(r.read_raw(static_cast<size_t>(len)));
    rec.read_int8();  // attributes (unused)
    int64_t ts_delta = rec.read_varlong();
    int32_t off_delta = rec.read_varint();
    if (!rec.ok() || off_delta != i)
      return corrupt("record " + std::to_string(i) + " has offset delta " + std::to_string(off_delta));
    RecordView v;
    v.offset = h.base_offset + off_delta;
    v.timestamp = h.base_timestamp + ts_delta;
    auto read_opt = [&](std::optional<std::string_view>& out) -> bool {
      int32_t n = rec.read_varint();
      if (!rec.ok() || n < -1) return false;
      if (n == -1) return true;
      auto s = rec.read_raw(static_cast<size_t>(n));
      if (!rec.ok()) return false;
      out = std::string_view(reinterpret_cast<const char*>(s.data()), s.size());
      return true;
    };
    if (!read_opt(v.key) || !read_opt(v.value))
      return corrupt("record " + std::to_string(i) + " has an invalid key or value length");
    int32_t nh = rec.read_varint();
    if (!rec.ok() || nh < 0 || static_cast<size_t>(nh) > rec.remaining())
      return corrupt("record " + std::to_string(i) + " has an invalid header count");
    for (int32_t k = 0; k < nh; ++k) {
      std::optional<std::string_view> hk, hv;
      if (!read_opt(hk) || !hk || !read_opt(hv))
        return corrupt("record " + std::to_string(i) + " has an invalid header");
      if (fn) v.headers.push_back({*hk, hv});
    }
    if (rec.remaining() != 0)
      return corrupt("record " + std::to_string(i) + " has trailing bytes");
    if (fn) (*fn)(v);
  }
  if (r.remaining() != 0)
    return corrupt("record batch holds more bytes than its " + std::to_string(h.records_count) + " records");
  return {};
}

}  // namespace

Result<ValidatedBatches> validate_batches(std::span<const uint8_t> bytes, int32_t max_batch_bytes) {
  ValidatedBatches out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    auto rest = bytes.subspan(pos);
    if (rest.size() < batch::kHeaderSize) return corrupt("truncated record batch header");
    auto h = read_batch_header(rest);
    if (!h.ok()) return h.error();
    int64_t size = h->total_size();
    if (h->batch_length < static_cast<int32_t>(batch::kHeaderSize - batch::kLogOverhead))
      return corrupt("record batch length " + std::to_string(h->batch_length) + " is too small");
    if (static_cast<uint64_t>(size) > rest.size())
      return corrupt("record batch length " + std::to_string(h->batch_length) +
                     " runs past the end of the request");
    if (size > max_batch_bytes)
      return Error{ErrorCode::MESSAGE_TOO_LARGE, "record batch of " + std::to_string(size) +
                                                     " bytes exceeds the limit of " +
                                                     std::to_string(max_batch_bytes)};
    auto b = rest.subspan(0, static_cast<size_t>(size));
    uint32_t crc = crc32c(b.data() + batch::kAttributes, b.size() - batch::kAttributes);
    if (crc != h->crc) return corrupt("record batch CRC-32C mismatch");
    if (h->records_count <= 0) return corrupt("record batch has no records");
    if (h->last_offset_delta != h->records_count - 1)
      return corrupt("record batch lastOffsetDelta " + std::to_string(h->last_offset_delta) +
                     " does not match its " + std::to_string(h->records_count) + " records");
    int codec = h->compression();
    if (codec > 4) return corrupt("unknown compression codec " + std::to_string(codec));
    if (codec == 0) {
      if (static_cast<size_t>(h->records_count) > b.size() - batch::kHeaderSize)
        return corrupt("record count larger than the batch");
      if (auto s = walk_records(b, *h, nullptr); !s.ok()) return s.error();
    }
    out.batches.push_back({*h, pos, codec});
    out.records += h->records_count;
    out.max_timestamp = std::max(out.max_timestamp, h->max_timestamp);
    pos += static_cast<size_t>(size);
  }
  out.bytes = static_cast<int64_t>(bytes.size());
  if (out.batches.empty()) return corrupt("no record batch");
  return out;
}

void patch_base_offset(uint8_t* b, int64_t base_offset) {
  wire::store_be64(b + batch::kBaseOffset, static_cast<uint64_t>(base_offset));
}
void patch_leader_epoch(uint8_t* b, int32_t epoch) {
  wire::store_be32(b + batch::kLeaderEpoch, static_cast<uint32_t>(epoch));
}
void set_log_append_time(uint8_t* b, int64_t ts) {
  uint16_t attrs = load_be16(b + batch::kAttributes) | batch::kTimestampTypeMask;
  wire::store_be16(b + batch::kAttributes, attrs);
  wire::store_be64(b + batch::kMaxTimestamp, static_cast<uint64_t>(ts));
  int64_t size = int64_t(load_be32(b + batch::kBatchLength)) + int64_t(batch::kLogOverhead);
  wire::store_be32(b + batch::kCrc, crc32c(b + batch::kAttributes, size - batch::kAttributes));
}

Status for_each_record(std::span<const uint8_t> b, const std::function<void(const RecordView&)>& fn) {
  auto h = read_batch_header(b);
  if (!h.ok()) return h.error();
  if (h->compression() != 0) return Status(ErrorCode::CORRUPT_MESSAGE, "compressed batch");
  if (static_cast<uint64_t>(h->total_size()) > b.size()) return corrupt("truncated batch");
  return walk_records(b.subspan(0, static_cast<size_t>(h->total_size())), *h, &fn);
}

RecordBatchBuilder& RecordBatchBuilder::add(
    std::optional<std::string_view> key, std::optional<std::string_view> value, int64_t ts,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& headers) {
  Rec r;
  if (key) r.key = std::string(*key);
  if (value) r.value = std::string(*value);
  r.timestamp = ts;
  r.headers = headers;
  records_.push_back(std::move(r));
  return *this;
}

std::vector<uint8_t> RecordBatchBuilder::build() const {
  int64_t base_ts = records_.empty() ? -1 : records_.front().timestamp;
  int64_t max_ts = -1;
  for (const auto& r : records_) max_ts = std::max(max_ts, r.timestamp);
  wire::Writer w;
  w.write_int64(base_offset_);
  size_t len_at = w.reserve_int32();
  w.write_int32(-1);  // partition leader epoch
  w.write_int8(batch::kMagicV2);
  size_t crc_at = w.reserve_int32();
  w.write_int16(0);
  w.write_int32(static_cast<int32_t>(records_.size()) - 1);
  w.write_int64(base_ts);
  w.write_int64(max_ts);
  w.write_int64(-1);
  w.write_int16(-1);
  w.write_int32(-1);
  w.write_int32(static_cast<int32_t>(records_.size()));
  int32_t i = 0;
  for (const auto& r : records_) {
    wire::Writer rec;
    rec.write_int8(0);
    rec.write_varlong(r.timestamp - base_ts);
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
  w.patch_int32(crc_at, static_cast<int32_t>(crc32c(b.data() + batch::kAttributes, b.size() - batch::kAttributes)));
  return std::move(b);
}

}  // namespace kb
