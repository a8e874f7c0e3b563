#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol/crc32c.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

using namespace kb;

namespace {

std::vector<uint8_t> sample_batch() {
  return RecordBatchBuilder()
      .add("k1", "v1", 1000, {{"trace", std::string("abc")}, {"empty", std::nullopt}})
      .add(std::nullopt, "v2", 1005)
      .add("k3", std::nullopt, 1002)
      .build();
}

// Re-signs a batch after a test edited bytes inside the CRC, so only the edit is wrong.
void resign(std::vector<uint8_t>& b) { wire::store_be32(b.data() + batch::kCrc, compute_batch_crc(b)); }

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("a built batch validates and reports its records, timestamps and size") {
  auto b = sample_batch();
  auto v = validate_batches(b, 1 << 20);
  REQUIRE(v.ok());
  REQUIRE(v->batches.size() == 1);
  const BatchInfo& info = v->batches[0];
  CHECK(info.records == 3);
  CHECK(info.bytes == static_cast<int64_t>(b.size()));
  CHECK(info.first_offset_delta == 0);
  CHECK(info.last_offset_delta == 2);
  CHECK(info.compression == 0);
  CHECK(info.max_timestamp == 1005);
  CHECK(info.offset_delta_of_max_timestamp == 1);
  CHECK(v->records == 3);
  CHECK(v->bytes == static_cast<int64_t>(b.size()));
  CHECK(v->max_timestamp == 1005);

  auto h = read_batch_header(b);
  REQUIRE(h.ok());
  CHECK(h->magic == 2);
  CHECK(h->total_size() == static_cast<int64_t>(b.size()));
  CHECK(h->base_timestamp == 1000);
  CHECK(h->max_timestamp == 1005);
  CHECK(h->records_count == 3);
  CHECK(h->last_offset() == 2);
  CHECK(h->producer_id == -1);
  CHECK_FALSE(h->timestamp_type_log_append());
  CHECK_FALSE(h->is_transactional());
  CHECK_FALSE(h->is_control());
}

TEST_CASE("several batches back to back validate with totals across them") {
  auto a = RecordBatchBuilder().add("a", "1", 50).add("b", "2", 40).build();
  auto c = RecordBatchBuilder().add("c", "3", 60).add("d", "4", 70).add("e", "5", 65).build();
  auto v = validate_batches(concat(a, c), 1 << 20);
  REQUIRE(v.ok());
  REQUIRE(v->batches.size() == 2);
  CHECK(v->batches[1].position == a.size());
  CHECK(v->records == 5);
  CHECK(v->max_timestamp == 70);
  CHECK(v->offset_delta_of_max_timestamp == 3);  // 2 records of the first batch, then delta 1
}

TEST_CASE("a flipped byte anywhere inside the CRC range is CORRUPT_MESSAGE") {
  auto good = sample_batch();
  for (size_t pos : {batch::kAttributes, batch::kMaxTimestamp + 3, batch::kHeaderSize + 4, good.size() - 1}) {
    auto bad = good;
    bad[pos] ^= 0x10;
    INFO("flipped byte " << pos);
    REQUIRE(validate_batches(bad, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
}

TEST_CASE("a record count that disagrees with the records is CORRUPT_MESSAGE even with a valid CRC") {
  auto more = sample_batch();
  wire::store_be32(more.data() + batch::kRecordsCount, 4);
  wire::store_be32(more.data() + batch::kLastOffsetDelta, 3);
  resign(more);
  REQUIRE(validate_batches(more, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto fewer = sample_batch();
  wire::store_be32(fewer.data() + batch::kRecordsCount, 2);
  wire::store_be32(fewer.data() + batch::kLastOffsetDelta, 1);
  resign(fewer);
  REQUIRE(validate_batches(fewer, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto delta = sample_batch();
  wire::store_be32(delta.data() + batch::kLastOffsetDelta, 5);
  resign(delta);
  REQUIRE(validate_batches(delta, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto zero = sample_batch();
  wire::store_be32(zero.data() + batch::kRecordsCount, 0);
  resign(zero);
  REQUIRE(validate_batches(zero, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto huge = sample_batch();
  wire::store_be32(huge.data() + batch::kRecordsCount, 0x7fffffff);
  wire::store_be32(huge.data() + batch::kLastOffsetDelta, 0x7ffffffe);
  resign(huge);
  REQUIRE(validate_batches(huge, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("records with bad lengths or offset deltas are CORRUPT_MESSAGE") {
  // One record "k"->"v": its bytes start right after the header: length varint, attributes,
  // timestamp delta, offset delta, key length, key, value length, value, header count.
  auto one = RecordBatchBuilder().add("k", "v", 7).build();
  const size_t rec = batch::kHeaderSize;
  SECTION("offset delta not equal to the record's index") {
    auto b = one;
    b[rec + 3] = 2;  // zigzag 1
    resign(b);
    REQUIRE(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("key length past the record") {
    auto b = one;
    b[rec + 4] = 40;  // zigzag 20
    resign(b);
    REQUIRE(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("key length below -1") {
    auto b = one;
    b[rec + 4] = 3;  // zigzag -2
    resign(b);
    REQUIRE(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("record length longer than the batch") {
    auto b = one;
    b[rec] = 0x7e;  // zigzag 63
    resign(b);
    REQUIRE(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("a null header key") {
    auto h = RecordBatchBuilder().add("k", "v", 7, {{"h", std::string("x")}}).build();
    // The header key length is the byte before "h"; make it -1 (zigzag 1).
    size_t at = 0;
    for (size_t i = rec; i < h.size(); ++i)
      if (h[i] == 'h') at = i - 1;
    REQUIRE(at != 0);
    h[at] = 1;
    resign(h);
    REQUIRE(validate_batches(h, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("trailing bytes after the last record") {
    auto b = one;
    b.push_back(0);
    wire::store_be32(b.data() + batch::kBatchLength, static_cast<uint32_t>(b.size() - batch::kLogOverhead));
    resign(b);
    REQUIRE(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
}

TEST_CASE("a batch over max.message.bytes is MESSAGE_TOO_LARGE") {
  auto b = sample_batch();
  REQUIRE(validate_batches(b, static_cast<int32_t>(b.size())).ok());
  REQUIRE(validate_batches(b, static_cast<int32_t>(b.size()) - 1).code() == ErrorCode::MESSAGE_TOO_LARGE);
}

TEST_CASE("truncated or malformed framing is CORRUPT_MESSAGE, never a crash") {
  auto b = sample_batch();
  for (size_t cut : {size_t(1), size_t(10), batch::kHeaderSize - 1, batch::kHeaderSize, b.size() - 1}) {
    INFO("cut to " << cut);
    REQUIRE(validate_batches(std::span<const uint8_t>(b.data(), cut), 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  REQUIRE(validate_batches({}, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto magic = b;
  magic[batch::kMagic] = 1;
  REQUIRE(validate_batches(magic, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto negative = b;
  wire::store_be32(negative.data() + batch::kBatchLength, static_cast<uint32_t>(-12));
  REQUIRE(validate_batches(negative, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto codec = b;
  wire::store_be16(codec.data() + batch::kAttributes, 6);
  resign(codec);
  REQUIRE(validate_batches(codec, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  // A valid batch followed by half of another one.
  auto two = concat(b, std::vector<uint8_t>(b.begin(), b.begin() + 30));
  REQUIRE(validate_batches(two, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("patching base offset and leader epoch keeps the CRC valid") {
  auto b = sample_batch();
  uint32_t crc_before = read_batch_header(b)->crc;
  patch_base_offset(b.data(), 123456789012LL);
  patch_leader_epoch(b.data(), 42);
  auto h = read_batch_header(b);
  CHECK(h->base_offset == 123456789012LL);
  CHECK(h->partition_leader_epoch == 42);
  CHECK(h->crc == crc_before);
  REQUIRE(validate_batches(b, 1 << 20).ok());
  std::vector<int64_t> offsets;
  REQUIRE(for_each_record(b, [&](const RecordView& r) { offsets.push_back(r.offset); }).ok());
  REQUIRE(offsets == std::vector<int64_t>{123456789012LL, 123456789013LL, 123456789014LL});
}

TEST_CASE("LogAppendTime rewrites max timestamp and type with a new valid CRC") {
  auto b = sample_batch();
  set_max_timestamp_and_type_log_append(b.data(), 99999);
  auto h = read_batch_header(b);
  CHECK(h->timestamp_type_log_append());
  CHECK(h->max_timestamp == 99999);
  REQUIRE(validate_batches(b, 1 << 20).ok());
}

TEST_CASE("the record iterator returns keys, values, nulls and headers as produced") {
  auto b = sample_batch();
  std::vector<RecordView> seen;
  std::vector<std::string> keys, values, headers;
  REQUIRE(for_each_record(b, [&](const RecordView& r) {
            keys.push_back(r.key ? std::string(*r.key) : "<null>");
            values.push_back(r.value ? std::string(*r.value) : "<null>");
            for (const auto& h : r.headers)
              headers.push_back(std::string(h.key) + "=" + (h.value ? std::string(*h.value) : "<null>"));
            seen.push_back(r);
          }).ok());
  CHECK(keys == std::vector<std::string>{"k1", "<null>", "k3"});
  CHECK(values == std::vector<std::string>{"v1", "v2", "<null>"});
  CHECK(headers == std::vector<std::string>{"trace=abc", "empty=<null>"});
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].timestamp == 1000);
  CHECK(seen[1].timestamp == 1005);
  CHECK(seen[2].timestamp == 1002);
}

TEST_CASE("the builder writes producer fields and transactional/control attributes") {
  auto b = RecordBatchBuilder(10)
               .producer(4000, 3, 17)
               .transactional()
               .control()
               .partition_leader_epoch(9)
               .add(std::string_view("\0\0\0\0", 4), std::string_view("\0\0\0\0\0\0", 6), 5)
               .build();
  auto h = read_batch_header(b);
  REQUIRE(h.ok());
  CHECK(h->base_offset == 10);
  CHECK(h->producer_id == 4000);
  CHECK(h->producer_epoch == 3);
  CHECK(h->base_sequence == 17);
  CHECK(h->partition_leader_epoch == 9);
  CHECK(h->is_transactional());
  CHECK(h->is_control());
  REQUIRE(validate_batches(b, 1 << 20).ok());
  CHECK(RecordBatchBuilder().build().empty());
}

TEST_CASE("the record iterator refuses compressed batches instead of misreading them") {
  auto b = sample_batch();
  wire::store_be16(b.data() + batch::kAttributes, static_cast<uint16_t>(Compression::kZstd));
  resign(b);
  REQUIRE(for_each_record(b, [](const RecordView&) {}).code() == ErrorCode::CORRUPT_MESSAGE);
  // Validation decompresses: plain records under a zstd flag are not a zstd stream.
  CHECK(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
}
