// Protocol-layer checks written against the wire format spec: primitive encodings, CRC-32C,
// RecordBatch v2 validation and editing, and a version-aware round trip of the served messages.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/protocol/codec_test_util.h"
#include "protocol/crc32c.h"
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "protocol/messages/delete_topics_request.h"
#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/list_offsets_request.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

using namespace kb;
using Bytes = std::vector<uint8_t>;

namespace {

using kb::test::encode;

Bytes uvarint_bytes(uint64_t v) {
  wire::Writer w;
  w.write_uvarint(v);
  return w.buffer();
}

Bytes three_record_batch(int64_t base_offset = 0) {
  return RecordBatchBuilder(base_offset)
      .add("key-a", "value-a", 1'700'000'000'000, {{"h1", std::string("x")}, {"h2", std::nullopt}})
      .add(std::nullopt, "value-b", 1'700'000'000'010)
      .add("key-c", std::nullopt, 1'700'000'000'005)
      .build();
}

void resign(Bytes& b) { wire::store_be32(b.data() + batch::kCrc, compute_batch_crc(b)); }

// Encodes m in version v, decodes it, requires equality with m, and that re-encoding the
// decoded value gives identical bytes.
template <class M>
void require_round_trip(const M& m, int16_t v) {
  INFO("version " << v);
  Bytes bytes = encode(m, v);
  M back;
  wire::Reader r(bytes);
  REQUIRE(back.decode(r, v));
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
  REQUIRE(back == m);
  REQUIRE(encode(back, v) == bytes);
}

Uuid fixed_uuid(uint8_t seed) {
  Uuid u;
  for (int i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(seed + i * 7 + 1);
  return u;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Primitives

TEST_CASE("spec: unsigned varints at 7-bit boundaries have the documented byte lengths") {
  struct Case {
    uint64_t value;
    size_t len;
  };
  const Case cases[] = {{0, 1},          {1, 1},          {127, 1},         {128, 2},
                        {16383, 2},      {16384, 3},      {2097151, 3},     {2097152, 4},
                        {268435455, 4},  {268435456, 5},  {0xffffffffull, 5}};
  for (auto c : cases) {
    INFO("value " << c.value);
    Bytes b = uvarint_bytes(c.value);
    REQUIRE(b.size() == c.len);
    wire::Reader r(b);
    REQUIRE(r.read_uvarint() == c.value);
    REQUIRE(r.ok());
    REQUIRE(r.remaining() == 0);
  }
  REQUIRE(uvarint_bytes(300) == Bytes{0xac, 0x02});
  // uvarlong reaches 64 bits in 10 bytes.
  Bytes max64 = uvarint_bytes(UINT64_MAX);
  REQUIRE(max64.size() == 10);
  wire::Reader r(max64);
  REQUIRE(r.read_uvarlong() == UINT64_MAX);
  REQUIRE(r.ok());
}

TEST_CASE("spec: zigzag encodes 0,-1,1,-2,2 as 0,1,2,3,4 and extremes survive") {
  const int32_t small[] = {0, -1, 1, -2, 2};
  for (int i = 0; i < 5; ++i) {
    wire::Writer w;
    w.write_varint(small[i]);
    REQUIRE(w.buffer() == Bytes{static_cast<uint8_t>(i)});
  }
  wire::Writer w;
  const int32_t ints[] = {INT32_MIN, INT32_MAX, -64, 63, -65, 64};
  const int64_t longs[] = {INT64_MIN, INT64_MAX, -1, 0, int64_t(1) << 40, -(int64_t(1) << 40)};
  for (auto x : ints) w.write_varint(x);
  for (auto x : longs) w.write_varlong(x);
  wire::Reader r(w.buffer());
  for (auto x : ints) REQUIRE(r.read_varint() == x);
  for (auto x : longs) REQUIRE(r.read_varlong() == x);
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
  // INT32_MIN zigzags to UINT32_MAX: five bytes ff ff ff ff 0f.
  wire::Writer wm;
  wm.write_varint(INT32_MIN);
  REQUIRE(wm.buffer() == Bytes{0xff, 0xff, 0xff, 0xff, 0x0f});
}

TEST_CASE("spec: a 32-bit varint wider than 32 bits or longer than 5 bytes fails the reader") {
  Bytes too_big = {0xff, 0xff, 0xff, 0xff, 0x1f};  // 2^35 - 1
  wire::Reader r1(too_big);
  r1.read_uvarint();
  REQUIRE_FALSE(r1.ok());
  Bytes six = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  wire::Reader r2(six);
  r2.read_uvarint();
  REQUIRE_FALSE(r2.ok());
  Bytes eleven(11, 0x80);
  wire::Reader r3(eleven);
  r3.read_uvarlong();
  REQUIRE_FALSE(r3.ok());
}

TEST_CASE("spec: every truncation of a value makes the reader report not ok") {
  wire::Writer w;
  w.write_int64(0x0102030405060708);
  w.write_compact_string("hello");
  w.write_bytes(Bytes{1, 2, 3});
  w.write_varlong(-123456789);
  w.write_uuid(fixed_uuid(3));
  const Bytes full = w.buffer();
  for (size_t cut = 0; cut < full.size(); ++cut) {
    INFO("cut at " << cut);
    wire::Reader r(std::span<const uint8_t>(full.data(), cut));
    r.read_int64();
    r.read_compact_string();
    r.read_bytes();
    r.read_varlong();
    r.read_uuid();
    REQUIRE_FALSE(r.ok());
    // A failed reader keeps returning zero values.
    REQUIRE(r.read_int32() == 0);
    REQUIRE(r.read_string().empty());
  }
  wire::Reader whole(full);
  REQUIRE(whole.read_int64() == 0x0102030405060708);
  REQUIRE(whole.read_compact_string() == "hello");
  REQUIRE(whole.read_bytes() == Bytes{1, 2, 3});
  REQUIRE(whole.read_varlong() == -123456789);
  REQUIRE(whole.read_uuid() == fixed_uuid(3));
  REQUIRE(whole.ok());
}

TEST_CASE("spec: huge array counts fail at once instead of allocating") {
  // Classic: INT32_MAX elements in 4 remaining bytes.
  Bytes classic = {0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4};
  wire::Reader r1(classic);
  REQUIRE(r1.read_array_length() == -1);
  REQUIRE_FALSE(r1.ok());
  // Compact: uvarint 0xffffffff -> count 2^32 - 2 (negative as int32) must fail.
  Bytes compact = uvarint_bytes(0xffffffffull);
  compact.push_back(0);
  wire::Reader r2(compact);
  r2.read_compact_array_length();
  REQUIRE_FALSE(r2.ok());
  // A count that fits the bytes only if elements were 1 byte, with 8-byte elements.
  Bytes eight = {0x00, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  wire::Reader r3(eight);
  REQUIRE(r3.read_array_length(8) == -1);
  REQUIRE_FALSE(r3.ok());
  wire::Reader r4(eight);
  REQUIRE(r4.read_array_length(4) == 2);
  REQUIRE(r4.ok());
  // A generated decoder handed the huge count fails too (MetadataResponse v0 brokers array).
  Bytes md = {0x7f, 0xff, 0xff, 0xff, 0x00, 0x00};
  msg::MetadataResponse m;
  wire::Reader r5(md);
  REQUIRE_FALSE(m.decode(r5, 0));
  REQUIRE(m.brokers.capacity() < 1000);
  // Null (-1) is accepted as an array length, -2 is not.
  Bytes null_len = {0xff, 0xff, 0xff, 0xff};
  wire::Reader r6(null_len);
  REQUIRE(r6.read_array_length() == -1);
  REQUIRE(r6.ok());
  Bytes minus_two = {0xff, 0xff, 0xff, 0xfe};
  wire::Reader r7(minus_two);
  r7.read_array_length();
  REQUIRE_FALSE(r7.ok());
}

// ---------------------------------------------------------------------------------------------
// CRC-32C

TEST_CASE("spec: CRC-32C of \"123456789\" is 0xE3069283 in both implementations") {
  const char* s = "123456789";
  auto p = reinterpret_cast<const uint8_t*>(s);
  REQUIRE(crc32c(p, 9) == 0xE3069283u);
  REQUIRE(crc32c_portable(p, 9) == 0xE3069283u);
  REQUIRE(crc32c(p, 0) == 0u);
  // 32 zero bytes (RFC 3720 B.4).
  uint8_t zeros[32] = {};
  REQUIRE(crc32c(zeros, 32) == 0x8A9136AAu);
}

TEST_CASE("spec: hardware and portable CRC-32C agree on random buffers and split points") {
  std::mt19937 rng(12345);
  Bytes data(4096 + 17);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  INFO("hardware available: " << crc32c_hardware_available());
  for (size_t len : {size_t(1), size_t(7), size_t(8), size_t(9), size_t(63), size_t(64), size_t(1000),
                     size_t(4096)}) {
    for (size_t off = 0; off < 9; ++off) {
      INFO("len " << len << " off " << off);
      uint32_t a = crc32c(data.data() + off, len);
      REQUIRE(a == crc32c_portable(data.data() + off, len));
      size_t split = len / 3;
      REQUIRE(crc32c(data.data() + off + split, len - split, crc32c(data.data() + off, split)) == a);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Record batches

TEST_CASE("spec: a builder batch validates with its count, size and max timestamp") {
  Bytes b = three_record_batch();
  auto v = validate_batches(b, 1 << 20);
  REQUIRE(v.ok());
  REQUIRE(v->batches.size() == 1);
  CHECK(v->records == 3);
  CHECK(v->bytes == static_cast<int64_t>(b.size()));
  CHECK(v->max_timestamp == 1'700'000'000'010);
  CHECK(v->offset_delta_of_max_timestamp == 1);
  auto h = read_batch_header(b);
  REQUIRE(h.ok());
  CHECK(h->records_count == 3);
  CHECK(h->last_offset_delta == 2);
  CHECK(h->crc == compute_batch_crc(b));
  // An empty builder gives no bytes.
  CHECK(RecordBatchBuilder().build().empty());
}

TEST_CASE("spec: flipping any single byte inside the CRC range gives CORRUPT_MESSAGE") {
  const Bytes good = three_record_batch();
  for (size_t pos = batch::kAttributes; pos < good.size(); ++pos) {
    Bytes bad = good;
    bad[pos] ^= 0x01;
    INFO("flipped byte " << pos);
    auto v = validate_batches(bad, 1 << 20);
    REQUIRE_FALSE(v.ok());
    REQUIRE(v.code() == ErrorCode::CORRUPT_MESSAGE);
  }
  // Flipping the stored CRC itself is also caught.
  Bytes bad_crc = good;
  bad_crc[batch::kCrc] ^= 0x80;
  REQUIRE(validate_batches(bad_crc, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("spec: a records count that lies (re-signed CRC) gives CORRUPT_MESSAGE") {
  for (int32_t count : {2, 4, 0, -1}) {
    Bytes b = three_record_batch();
    wire::store_be32(b.data() + batch::kRecordsCount, static_cast<uint32_t>(count));
    resign(b);
    INFO("count " << count);
    REQUIRE(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  // lastOffsetDelta disagreeing with the count as well.
  Bytes b = three_record_batch();
  wire::store_be32(b.data() + batch::kLastOffsetDelta, 5);
  resign(b);
  REQUIRE(validate_batches(b, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("spec: a batch larger than the limit gives MESSAGE_TOO_LARGE, at the limit it passes") {
  Bytes b = three_record_batch();
  const auto size = static_cast<int32_t>(b.size());
  REQUIRE(validate_batches(b, size).ok());
  auto v = validate_batches(b, size - 1);
  REQUIRE_FALSE(v.ok());
  REQUIRE(v.code() == ErrorCode::MESSAGE_TOO_LARGE);
}

TEST_CASE("spec: truncated batches and garbage after a batch are CORRUPT_MESSAGE") {
  const Bytes good = three_record_batch();
  for (size_t cut : {size_t(1), size_t(12), size_t(60), good.size() - 1}) {
    Bytes t(good.begin(), good.begin() + static_cast<long>(cut));
    INFO("cut " << cut);
    REQUIRE(validate_batches(t, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  Bytes extra = good;
  extra.push_back(0);
  REQUIRE(validate_batches(extra, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  Bytes magic1 = good;
  magic1[batch::kMagic] = 1;
  REQUIRE(validate_batches(magic1, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("spec: patching base offset and leader epoch leaves the CRC valid") {
  Bytes b = three_record_batch();
  const uint32_t crc_before = wire::load_be32(b.data() + batch::kCrc);
  patch_base_offset(b.data(), 1'000'000'007);
  patch_leader_epoch(b.data(), 42);
  REQUIRE(wire::load_be32(b.data() + batch::kCrc) == crc_before);
  REQUIRE(compute_batch_crc(b) == crc_before);
  REQUIRE(validate_batches(b, 1 << 20).ok());
  auto h = read_batch_header(b);
  REQUIRE(h.ok());
  REQUIRE(h->base_offset == 1'000'000'007);
  REQUIRE(h->partition_leader_epoch == 42);
  REQUIRE(h->last_offset() == 1'000'000'009);
  std::vector<int64_t> offsets;
  REQUIRE(for_each_record(b, [&](const RecordView& r) { offsets.push_back(r.offset); }).ok());
  REQUIRE(offsets == std::vector<int64_t>{1'000'000'007, 1'000'000'008, 1'000'000'009});
}

TEST_CASE("spec: log-append time sets the type bit and max timestamp and re-signs the batch") {
  Bytes b = three_record_batch();
  set_log_append_time(b.data(), 99);
  REQUIRE(validate_batches(b, 1 << 20).ok());
  auto h = read_batch_header(b);
  REQUIRE(h.ok());
  REQUIRE(h->log_append_time());
  REQUIRE(h->max_timestamp == 99);
}

TEST_CASE("spec: iterating records returns keys, values, nulls, headers and timestamps") {
  Bytes b = three_record_batch(10);
  std::vector<RecordView> seen;
  std::vector<std::string> keys, values;
  std::vector<std::vector<std::pair<std::string, std::optional<std::string>>>> headers;
  std::vector<bool> key_null, value_null;
  std::vector<int64_t> ts, offs;
  auto st = for_each_record(b, [&](const RecordView& r) {
    key_null.push_back(!r.key);
    value_null.push_back(!r.value);
    keys.emplace_back(r.key.value_or(""));
    values.emplace_back(r.value.value_or(""));
    ts.push_back(r.timestamp);
    offs.push_back(r.offset);
    std::vector<std::pair<std::string, std::optional<std::string>>> hs;
    for (const auto& h : r.headers)
      hs.emplace_back(std::string(h.key),
                      h.value ? std::optional<std::string>(std::string(*h.value)) : std::nullopt);
    headers.push_back(hs);
  });
  REQUIRE(st.ok());
  REQUIRE(keys == std::vector<std::string>{"key-a", "", "key-c"});
  REQUIRE(key_null == std::vector<bool>{false, true, false});
  REQUIRE(values == std::vector<std::string>{"value-a", "value-b", ""});
  REQUIRE(value_null == std::vector<bool>{false, false, true});
  REQUIRE(ts == std::vector<int64_t>{1'700'000'000'000, 1'700'000'000'010, 1'700'000'000'005});
  REQUIRE(offs == std::vector<int64_t>{10, 11, 12});
  REQUIRE(headers[0].size() == 2);
  REQUIRE(headers[0][0].first == "h1");
  REQUIRE(headers[0][0].second == std::optional<std::string>("x"));
  REQUIRE(headers[0][1].first == "h2");
  REQUIRE_FALSE(headers[0][1].second.has_value());
  REQUIRE(headers[1].empty());
  REQUIRE(headers[2].empty());
}

TEST_CASE("spec: empty keys and values are distinct from null ones") {
  Bytes b = RecordBatchBuilder().add("", "", 5).build();
  REQUIRE(validate_batches(b, 1 << 20).ok());
  int n = 0;
  REQUIRE(for_each_record(b, [&](const RecordView& r) {
            ++n;
            REQUIRE(r.key.has_value());
            REQUIRE(r.key->empty());
            REQUIRE(r.value.has_value());
            REQUIRE(r.value->empty());
          }).ok());
  REQUIRE(n == 1);
}

// ---------------------------------------------------------------------------------------------
// Byte-exact vectors

TEST_CASE("spec: RequestHeader v1 for ApiVersions v0, correlation 7, client ab is byte-exact") {
  msg::RequestHeader h;
  h.request_api_key = 18;
  h.request_api_version = 0;
  h.correlation_id = 7;
  h.client_id = "ab";
  const Bytes expected = {0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 0x61, 0x62};
  REQUIRE(encode(h, 1) == expected);
  msg::RequestHeader back;
  wire::Reader r(expected);
  REQUIRE(back.decode(r, 1));
  REQUIRE(back == h);
}

TEST_CASE("spec: ApiVersionsRequest v3 with name a and version 1 is 02 61 02 31 00") {
  msg::ApiVersionsRequest a;
  a.client_software_name = "a";
  a.client_software_version = "1";
  const Bytes expected = {0x02, 0x61, 0x02, 0x31, 0x00};
  REQUIRE(encode(a, 3) == expected);
  msg::ApiVersionsRequest back;
  wire::Reader r(expected);
  REQUIRE(back.decode(r, 3));
  REQUIRE(back == a);
}

// ---------------------------------------------------------------------------------------------
// Every message in every version

namespace {

Records records_of(const Bytes& b) {
  Records r;
  r.owned = b;
  return r;
}

msg::ProduceRequest make_produce(int16_t v, const Bytes& batch) {
  msg::ProduceRequest m;
  if (v >= 3) m.transactional_id = std::string("txn-id");
  m.acks = -1;
  m.timeout_ms = 1500;
  auto& t = m.topic_data.emplace_back();
  t.name = "orders";
  auto& p = t.partition_data.emplace_back();
  p.index = 3;
  p.records = records_of(batch);
  auto& p2 = t.partition_data.emplace_back();
  p2.index = 4;
  return m;
}

msg::FetchRequest make_fetch_request(int16_t v) {
  msg::FetchRequest m;
  if (v >= 12) m.cluster_id = std::string("cluster-x");
  if (v <= 14) m.replica_id = 2;
  if (v >= 15) {
    m.replica_state.replica_id = 2;
    m.replica_state.replica_epoch = 77;
  }
  m.max_wait_ms = 500;
  m.min_bytes = 1;
  if (v >= 3) m.max_bytes = 1 << 20;
  if (v >= 4) m.isolation_level = 1;
  if (v >= 7) {
    m.session_id = 9;
    m.session_epoch = 3;
  }
  auto& t = m.topics.emplace_back();
  if (v <= 12) t.topic = "events";
  else t.topic_id = fixed_uuid(1);
  auto& p = t.partitions.emplace_back();
  p.partition = 5;
  if (v >= 9) p.current_leader_epoch = 6;
  p.fetch_offset = 1234567890123;
  if (v >= 12) p.last_fetched_epoch = 4;
  if (v >= 5) p.log_start_offset = 10;
  p.partition_max_bytes = 65536;
  if (v >= 17) p.replica_directory_id = fixed_uuid(2);
  if (v >= 7) {
    auto& f = m.forgotten_topics_data.emplace_back();
    if (v <= 12) f.topic = "old";
    else f.topic_id = fixed_uuid(3);
    f.partitions = {0, 1, 7};
  }
  if (v >= 11) m.rack_id = "rack-1";
  return m;
}

msg::FetchResponse make_fetch_response(int16_t v, const Bytes& batch) {
  msg::FetchResponse m;
  if (v >= 1) m.throttle_time_ms = 11;
  if (v >= 7) {
    m.error_code = 0;
    m.session_id = 12;
  }
  auto& t = m.responses.emplace_back();
  if (v <= 12) t.topic = "events";
  else t.topic_id = fixed_uuid(4);
  auto& p = t.partitions.emplace_back();
  p.partition_index = 1;
  p.error_code = 0;
  p.high_watermark = 100;
  if (v >= 4) {
    p.last_stable_offset = 90;
    auto& aborted = p.aborted_transactions.emplace().emplace_back();
    aborted.producer_id = 5;
    aborted.first_offset = 80;
  }
  if (v >= 5) p.log_start_offset = 3;
  if (v >= 11) p.preferred_read_replica = 2;
  if (v >= 12) {
    p.diverging_epoch.epoch = 3;
    p.diverging_epoch.end_offset = 55;
    p.current_leader.leader_id = 1;
    p.current_leader.leader_epoch = 8;
    p.snapshot_id.end_offset = 44;
    p.snapshot_id.epoch = 2;
  }
  p.records = records_of(batch);
  auto& p2 = t.partitions.emplace_back();
  p2.partition_index = 2;
  p2.error_code = to_wire(ErrorCode::OFFSET_OUT_OF_RANGE);
  if (v >= 4) p2.aborted_transactions = std::nullopt;
  if (v >= 16) {
    auto& n = m.node_endpoints.emplace_back();
    n.node_id = 1;
    n.host = "broker-1";
    n.port = 9092;
    n.rack = std::string("r");
  }
  return m;
}

msg::MetadataRequest make_metadata_request(int16_t v, bool null_topics) {
  msg::MetadataRequest m;
  if (null_topics && v >= 1) {
    m.topics = std::nullopt;
  } else {
    m.topics.emplace();
    auto& t = m.topics->emplace_back();
    t.name = std::string("events");
    if (v >= 10) {
      auto& t2 = m.topics->emplace_back();
      t2.topic_id = fixed_uuid(5);
      t2.name = std::nullopt;
    }
  }
  if (v >= 4) m.allow_auto_topic_creation = false;
  if (v >= 8 && v <= 10) m.include_cluster_authorized_operations = true;
  if (v >= 8) m.include_topic_authorized_operations = true;
  return m;
}

msg::MetadataResponse make_metadata_response(int16_t v) {
  msg::MetadataResponse m;
  if (v >= 3) m.throttle_time_ms = 7;
  auto& b = m.brokers.emplace_back();
  b.node_id = 1;
  b.host = "localhost";
  b.port = 9092;
  if (v >= 1) b.rack = std::string("rack-a");
  auto& b2 = m.brokers.emplace_back();
  b2.node_id = 2;
  b2.host = "h2";
  b2.port = 9093;
  if (v >= 2) m.cluster_id = std::string("AAAAAAAAAAAAAAAAAAAAAA");
  if (v >= 1) m.controller_id = 1;
  auto& t = m.topics.emplace_back();
  t.error_code = 0;
  t.name = std::string("events");
  if (v >= 10) t.topic_id = fixed_uuid(6);
  if (v >= 1) t.is_internal = true;
  if (v >= 8) t.topic_authorized_operations = 0x0f;
  auto& p = t.partitions.emplace_back();
  p.partition_index = 0;
  p.leader_id = 1;
  if (v >= 7) p.leader_epoch = 3;
  p.replica_nodes = {1, 2};
  p.isr_nodes = {1};
  if (v >= 5) p.offline_replicas = {2};
  auto& t2 = m.topics.emplace_back();
  t2.error_code = to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  if (v >= 12) t2.name = std::nullopt;
  else t2.name = std::string("missing");
  if (v >= 8 && v <= 10) m.cluster_authorized_operations = 0x7;
  return m;
}

msg::ApiVersionsResponse make_api_versions_response(int16_t v) {
  msg::ApiVersionsResponse m;
  m.error_code = 0;
  for (auto [key, lo, hi] : {std::tuple<int16_t, int16_t, int16_t>{0, 0, 11}, {18, 0, 4}}) {
    auto& k = m.api_keys.emplace_back();
    k.api_key = key;
    k.min_version = lo;
    k.max_version = hi;
  }
  if (v >= 1) m.throttle_time_ms = 3;
  if (v >= 3) {
    auto& f = m.supported_features.emplace_back();
    f.name = "metadata.version";
    f.min_version = 1;
    f.max_version = 20;
    m.finalized_features_epoch = 5;
    auto& ff = m.finalized_features.emplace_back();
    ff.name = "metadata.version";
    ff.max_version_level = 20;
    ff.min_version_level = 20;
    m.zk_migration_ready = true;
  }
  return m;
}

msg::ListOffsetsRequest make_list_offsets(int16_t v) {
  msg::ListOffsetsRequest m;
  m.replica_id = -1;
  if (v >= 2) m.isolation_level = 1;
  auto& t = m.topics.emplace_back();
  t.name = "events";
  auto& p = t.partitions.emplace_back();
  p.partition_index = 2;
  if (v >= 4) p.current_leader_epoch = 9;
  p.timestamp = -2;
  if (v == 0) p.max_num_offsets = 3;
  auto& p2 = t.partitions.emplace_back();
  p2.partition_index = 3;
  p2.timestamp = 1'700'000'000'000;
  if (v >= 10) m.timeout_ms = 3000;
  return m;
}

msg::CreateTopicsRequest make_create_topics(int16_t v) {
  msg::CreateTopicsRequest m;
  auto& t = m.topics.emplace_back();
  t.name = "new-topic";
  t.num_partitions = 3;
  t.replication_factor = 1;
  auto& c = t.configs.emplace_back();
  c.name = "retention.ms";
  c.value = std::string("1000");
  auto& c2 = t.configs.emplace_back();
  c2.name = "cleanup.policy";
  c2.value = std::nullopt;
  auto& t2 = m.topics.emplace_back();
  t2.name = "assigned";
  t2.num_partitions = -1;
  t2.replication_factor = -1;
  auto& a = t2.assignments.emplace_back();
  a.partition_index = 0;
  a.broker_ids = {1, 2, 3};
  m.timeout_ms = 5000;
  if (v >= 1) m.validate_only = true;
  return m;
}

msg::CreateTopicsResponse make_create_topics_response(int16_t v) {
  msg::CreateTopicsResponse m;
  if (v >= 2) m.throttle_time_ms = 4;
  auto& t = m.topics.emplace_back();
  t.name = "new-topic";
  if (v >= 7) t.topic_id = fixed_uuid(7);
  t.error_code = 0;
  if (v >= 1) t.error_message = std::nullopt;
  if (v >= 5) {
    t.topic_config_error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    t.num_partitions = 3;
    t.replication_factor = 1;
    auto& c = t.configs.emplace().emplace_back();
    c.name = "retention.ms";
    c.value = std::string("1000");
    c.read_only = false;
    c.config_source = 5;
    c.is_sensitive = false;
  }
  auto& t2 = m.topics.emplace_back();
  t2.name = "bad";
  t2.error_code = to_wire(ErrorCode::INVALID_PARTITIONS);
  if (v >= 1) t2.error_message = std::string("Number of partitions must be larger than 0.");
  if (v >= 5) t2.configs = std::nullopt;
  return m;
}

msg::DeleteTopicsRequest make_delete_topics(int16_t v) {
  msg::DeleteTopicsRequest m;
  if (v >= 6) {
    auto& a = m.topics.emplace_back();
    a.name = std::string("by-name");
    auto& b = m.topics.emplace_back();
    b.topic_id = fixed_uuid(8);
  } else {
    m.topic_names = {"one", "two"};
  }
  m.timeout_ms = 30000;
  return m;
}

}  // namespace

TEST_CASE("spec: ProduceRequest round-trips in every version with a real batch") {
  const Bytes batch = three_record_batch();
  for (int16_t v = msg::ProduceRequest::kMinVersion; v <= msg::ProduceRequest::kMaxVersion; ++v)
    require_round_trip(make_produce(v, batch), v);
}

TEST_CASE("spec: FetchRequest round-trips in every version") {
  for (int16_t v = msg::FetchRequest::kMinVersion; v <= msg::FetchRequest::kMaxVersion; ++v)
    require_round_trip(make_fetch_request(v), v);
}

TEST_CASE("spec: FetchResponse round-trips in every version, tagged fields included") {
  const Bytes batch = three_record_batch(100);
  for (int16_t v = msg::FetchResponse::kMinVersion; v <= msg::FetchResponse::kMaxVersion; ++v)
    require_round_trip(make_fetch_response(v, batch), v);
}

TEST_CASE("spec: MetadataRequest round-trips in every version, with and without null topics") {
  for (int16_t v = msg::MetadataRequest::kMinVersion; v <= msg::MetadataRequest::kMaxVersion; ++v) {
    require_round_trip(make_metadata_request(v, false), v);
    require_round_trip(make_metadata_request(v, true), v);
  }
}

TEST_CASE("spec: MetadataResponse round-trips in every version") {
  for (int16_t v = msg::MetadataResponse::kMinVersion; v <= msg::MetadataResponse::kMaxVersion; ++v)
    require_round_trip(make_metadata_response(v), v);
}

TEST_CASE("spec: ApiVersionsResponse round-trips in every version") {
  for (int16_t v = msg::ApiVersionsResponse::kMinVersion; v <= msg::ApiVersionsResponse::kMaxVersion; ++v)
    require_round_trip(make_api_versions_response(v), v);
}

TEST_CASE("spec: ListOffsetsRequest round-trips in every version") {
  for (int16_t v = msg::ListOffsetsRequest::kMinVersion; v <= msg::ListOffsetsRequest::kMaxVersion; ++v)
    require_round_trip(make_list_offsets(v), v);
}

TEST_CASE("spec: CreateTopicsRequest round-trips in every version") {
  for (int16_t v = msg::CreateTopicsRequest::kMinVersion; v <= msg::CreateTopicsRequest::kMaxVersion; ++v)
    require_round_trip(make_create_topics(v), v);
}

TEST_CASE("spec: CreateTopicsResponse round-trips in every version") {
  for (int16_t v = msg::CreateTopicsResponse::kMinVersion; v <= msg::CreateTopicsResponse::kMaxVersion; ++v)
    require_round_trip(make_create_topics_response(v), v);
}

TEST_CASE("spec: DeleteTopicsRequest round-trips in every version") {
  for (int16_t v = msg::DeleteTopicsRequest::kMinVersion; v <= msg::DeleteTopicsRequest::kMaxVersion; ++v)
    require_round_trip(make_delete_topics(v), v);
}

TEST_CASE("spec: truncated messages are refused in every version") {
  const Bytes batch = three_record_batch();
  for (int16_t v = msg::FetchResponse::kMinVersion; v <= msg::FetchResponse::kMaxVersion; ++v) {
    Bytes full = encode(make_fetch_response(v, batch), v);
    for (size_t cut = 0; cut < full.size(); cut += 3) {
      INFO("version " << v << " cut " << cut);
      msg::FetchResponse m;
      wire::Reader r(std::span<const uint8_t>(full.data(), cut));
      REQUIRE_FALSE(m.decode(r, v));
    }
  }
}

TEST_CASE("spec: unknown tagged fields survive decode and re-encode in flexible versions") {
  // Top level and nested structs of a flexible version carry unknown tags through.
  for (int16_t v = 12; v <= msg::FetchRequest::kMaxVersion; ++v) {
    msg::FetchRequest m = make_fetch_request(v);
    m.unknown_tags.push_back({.tag = 90, .data = {1, 2, 3}});
    m.unknown_tags.push_back({.tag = 1000, .data = {}});
    m.topics[0].unknown_tags.push_back({.tag = 7, .data = {0xff}});
    m.topics[0].partitions[0].unknown_tags.push_back({.tag = 55, .data = {9, 9}});
    require_round_trip(m, v);
  }
  for (int16_t v = 3; v <= msg::ApiVersionsResponse::kMaxVersion; ++v) {
    msg::ApiVersionsResponse m = make_api_versions_response(v);
    m.unknown_tags.push_back({.tag = 17, .data = {'z'}});
    m.api_keys[0].unknown_tags.push_back({.tag = 3, .data = {4, 5}});
    require_round_trip(m, v);
  }
  // Hand-made bytes: ApiVersionsRequest v3 with an unknown tag 5 carrying 2 bytes.
  const Bytes wire_bytes = {0x02, 'a', 0x02, '1', 0x01, 0x05, 0x02, 0xaa, 0xbb};
  msg::ApiVersionsRequest a;
  wire::Reader r(wire_bytes);
  REQUIRE(a.decode(r, 3));
  REQUIRE(a.unknown_tags.size() == 1);
  REQUIRE(a.unknown_tags[0].tag == 5);
  REQUIRE(a.unknown_tags[0].data == Bytes{0xaa, 0xbb});
  REQUIRE(encode(a, 3) == wire_bytes);
}
