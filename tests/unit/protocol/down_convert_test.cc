// Fetch v0-3 down-conversion: v2 record batches rewritten as magic 0 / magic 1 message sets.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "protocol/compression.h"
#include "protocol/down_convert.h"
#include "protocol/legacy_messages.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

using namespace kb;

namespace {

// One message as an old client reads it; a compressed wrapper's inner messages in `inner`.
struct Msg {
  int64_t offset = 0;
  int magic = 0;
  int attributes = 0;
  int64_t timestamp = -1;
  std::optional<std::string> key, value;
  std::vector<Msg> inner;
};

std::vector<Msg> parse(std::span<const uint8_t> set) {
  std::vector<Msg> out;
  size_t pos = 0;
  while (pos < set.size()) {
    REQUIRE(set.size() - pos >= 12);
    wire::Reader h(set.subspan(pos, 12));
    Msg m;
    m.offset = h.read_int64();
    auto size = static_cast<size_t>(h.read_int32());
    REQUIRE(set.size() - pos - 12 >= size);
    wire::Reader r(set.subspan(pos + 12, size));
    pos += 12 + size;
    r.read_int32();  // CRC: checked by convert_legacy_message_set
    m.magic = r.read_int8();
    m.attributes = r.read_int8();
    if (m.magic == 1) m.timestamp = r.read_int64();
    for (auto* part : {&m.key, &m.value}) {
      int32_t n = r.read_int32();
      if (n >= 0) {
        auto b = r.read_raw(static_cast<size_t>(n));
        *part = std::string(b.begin(), b.end());
      }
    }
    REQUIRE(r.ok());
    REQUIRE(r.remaining() == 0);
    if (int codec = m.attributes & 0x07) {
      auto v = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(m.value->data()), m.value->size());
      auto plain = decompress(codec, v, 64 << 20);
      REQUIRE(plain.ok());
      m.inner = parse(*plain);
    }
    out.push_back(std::move(m));
  }
  return out;
}

// Every message's CRC-32, lengths and magic as the produce path's legacy decoder checks them.
bool valid_legacy_set(const std::vector<uint8_t>& set) { return convert_legacy_message_set(set, 64 << 20).ok(); }

std::string key_of(int i) { return "key-" + std::to_string(i); }
std::string value_of(int i) { return "value-" + std::to_string(i) + std::string(static_cast<size_t>(i % 7), 'x'); }

// `n` records from `base`, timestamps 1000 + i, a null key every 4th, headers on all.
std::vector<uint8_t> batch_of(int64_t base, int n, int codec = 0) {
  RecordBatchBuilder b(base);
  for (int i = 0; i < n; ++i) {
    int o = static_cast<int>(base) + i;
    b.add(o % 4 == 0 ? std::nullopt : std::optional<std::string_view>(key_of(o)), value_of(o), 1000 + o,
          {{"h", std::string("dropped")}});
  }
  auto plain = b.build();
  return codec == 0 ? plain : recompress_batch(plain, codec).value();
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void check_record(const Msg& m, int64_t offset, int magic) {
  INFO("offset " << offset);
  CHECK(m.offset == offset);
  CHECK(m.magic == magic);
  CHECK(m.key == (offset % 4 == 0 ? std::nullopt : std::optional<std::string>(key_of(static_cast<int>(offset)))));
  CHECK(m.value == value_of(static_cast<int>(offset)));
  if (magic == 1) CHECK(m.timestamp == 1000 + offset);
}

constexpr size_t kNoLimit = 1 << 30;

}  // namespace

TEST_CASE("Fetch v0-1 answer in magic 0, v2-3 in magic 1, v4 and later in record batches") {
  CHECK(fetch_response_magic(0) == 0);
  CHECK(fetch_response_magic(1) == 0);
  CHECK(fetch_response_magic(2) == 1);
  CHECK(fetch_response_magic(3) == 1);
  CHECK(fetch_response_magic(4) == 2);
  CHECK(fetch_response_magic(13) == 2);
}

TEST_CASE("an uncompressed batch becomes one message per record with its offset, key, value and timestamp") {
  auto batches = concat({batch_of(100, 10), batch_of(110, 5)});
  for (int magic : {0, 1}) {
    INFO("magic " << magic);
    auto c = down_convert(batches, magic, 100, kNoLimit, true);
    REQUIRE(c.ok());
    CHECK(c->records == 15);
    CHECK_FALSE(c->stopped_early);
    CHECK(valid_legacy_set(c->messages));
    auto msgs = parse(c->messages);
    REQUIRE(msgs.size() == 15);
    for (size_t i = 0; i < msgs.size(); ++i) {
      check_record(msgs[i], 100 + static_cast<int64_t>(i), magic);
      CHECK(msgs[i].attributes == 0);  // CreateTime, uncompressed
    }
    // Headers have no legacy form: each message is exactly overhead + key + value.
    CHECK(c->messages.size() == [&] {
      size_t n = 0;
      for (const auto& m : msgs) n += legacy_message_size(magic, m.key, m.value);
      return n;
    }());
  }
}

TEST_CASE("a compressed batch becomes one wrapper of the same codec holding every record") {
  for (int codec : {1, 2, 3}) {
    for (int magic : {0, 1}) {
      INFO(codec_name(codec) << " magic " << magic);
      auto c = down_convert(batch_of(500, 30, codec), magic, 500, kNoLimit, true);
      REQUIRE(c.ok());
      CHECK(c->records == 30);
      CHECK(valid_legacy_set(c->messages));
      auto msgs = parse(c->messages);
      REQUIRE(msgs.size() == 1);
      const Msg& w = msgs[0];
      CHECK(w.offset == 529);  // the wrapper carries the last offset
      CHECK(w.attributes == codec);
      CHECK_FALSE(w.key);
      if (magic == 1) CHECK(w.timestamp == 1000 + 529);  // the largest timestamp inside
      REQUIRE(w.inner.size() == 30);
      for (size_t i = 0; i < w.inner.size(); ++i) {
        Msg m = w.inner[i];
        CHECK(m.attributes == 0);
        // Magic 1 numbers inner messages from 0; magic 0 uses absolute offsets.
        CHECK(m.offset == (magic == 1 ? static_cast<int64_t>(i) : 500 + static_cast<int64_t>(i)));
        m.offset = 500 + static_cast<int64_t>(i);
        check_record(m, m.offset, magic);
      }
    }
  }
}

TEST_CASE("down-converted records convert back up to the same records (old producer and old consumer agree)") {
  for (int codec : {0, 1, 2, 3}) {
    for (int magic : {0, 1}) {
      INFO(codec_name(codec) << " magic " << magic);
      auto c = down_convert(batch_of(0, 25, codec), magic, 0, kNoLimit, true);
      REQUIRE(c.ok());
      auto up = convert_legacy_message_set(c->messages, 64 << 20);
      REQUIRE(up.ok());
      CHECK(up->codec == codec);
      CHECK(up->records == 25);
      auto plain = codec ? recompress_batch(up->batch, 0).value() : up->batch;
      int i = 0;
      REQUIRE(for_each_record(plain, [&](const RecordView& r) {
                CHECK(r.key == (i % 4 == 0 ? std::nullopt : std::optional<std::string_view>(key_of(i))));
                CHECK(r.value == value_of(i));
                CHECK(r.timestamp == (magic == 1 ? 1000 + i : -1));
                ++i;
              }).ok());
      CHECK(i == 25);
    }
  }
}

TEST_CASE("magic 0 lz4 wrappers carry the header checksum Kafka 0.8 computed, magic 1 the standard one") {
  for (int magic : {0, 1}) {
    auto c = down_convert(batch_of(0, 20, 3), magic, 0, kNoLimit, true);
    REQUIRE(c.ok());
    auto w = parse(c->messages).at(0);
    std::span<const uint8_t> frame(reinterpret_cast<const uint8_t*>(w.value->data()), w.value->size());
    REQUIRE(frame.size() > 7);
    REQUIRE((frame[4] & 0x09) == 0);  // no content size, no dictionary: the checksum is byte 6
    auto standard = static_cast<uint8_t>((xxh32(frame.subspan(4, 2), 0) >> 8) & 0xff);
    auto kafka08 = static_cast<uint8_t>((xxh32(frame.subspan(0, 6), 0) >> 8) & 0xff);
    CHECK(frame[6] == (magic == 0 ? kafka08 : standard));
  }
}

TEST_CASE("LogAppendTime batches give every message the broker's timestamp and the timestamp-type bit") {
  constexpr int64_t kAppendTime = 1'700'000'000'123;
  auto plain = batch_of(0, 3);
  set_log_append_time(plain.data(), kAppendTime);
  auto packed = batch_of(3, 3, 1);
  set_log_append_time(packed.data(), kAppendTime);
  auto batches = concat({plain, packed});

  auto v1 = down_convert(batches, 1, 0, kNoLimit, true);
  REQUIRE(v1.ok());
  CHECK(valid_legacy_set(v1->messages));
  auto msgs = parse(v1->messages);
  REQUIRE(msgs.size() == 4);
  for (int i = 0; i < 3; ++i) {
    CHECK(msgs[i].attributes == 0x08);
    CHECK(msgs[i].timestamp == kAppendTime);
  }
  CHECK(msgs[3].attributes == (0x08 | 1));
  CHECK(msgs[3].timestamp == kAppendTime);
  for (const auto& m : msgs[3].inner) {
    CHECK(m.attributes == 0x08);
    CHECK(m.timestamp == kAppendTime);
  }
  // Magic 0 has neither timestamps nor the bit.
  auto v0 = down_convert(batches, 0, 0, kNoLimit, true);
  REQUIRE(v0.ok());
  auto m0 = parse(v0->messages);
  REQUIRE(m0.size() == 4);
  CHECK(m0[0].attributes == 0);
  CHECK(m0[3].attributes == 1);
  CHECK(m0[3].inner.at(0).attributes == 0);
}

TEST_CASE("control batches are dropped and the records around them keep their offsets") {
  RecordBatchBuilder marker(5);
  std::string key("\0\0\0\1", 4), value("\0\0\0\0\0\0", 6);  // a COMMIT marker
  marker.add(key, value, 1005).control().transactional().producer(7, 0, -1);
  auto batches = concat({batch_of(0, 5), marker.build(), batch_of(6, 4, 2)});
  for (int magic : {0, 1}) {
    auto c = down_convert(batches, magic, 0, kNoLimit, true);
    REQUIRE(c.ok());
    CHECK(c->records == 9);
    auto msgs = parse(c->messages);
    REQUIRE(msgs.size() == 6);  // 5 plain messages and one wrapper
    for (int i = 0; i < 5; ++i) check_record(msgs[static_cast<size_t>(i)], i, magic);
    CHECK(msgs[5].offset == 9);
    CHECK(msgs[5].inner.size() == 4);
  }
  // A fetch that finds only the marker gets nothing to read, not an error.
  auto only = down_convert(marker.build(), 1, 5, kNoLimit, true);
  REQUIRE(only.ok());
  CHECK(only->messages.empty());
}

TEST_CASE("a fetch from the middle of a batch skips earlier uncompressed records, as Kafka does") {
  auto c = down_convert(batch_of(10, 10), 1, 14, kNoLimit, true);
  REQUIRE(c.ok());
  auto msgs = parse(c->messages);
  REQUIRE(msgs.size() == 6);
  CHECK(msgs.front().offset == 14);
  // A compressed batch stays whole: the client skips the inner messages before its offset.
  auto z = down_convert(batch_of(10, 10, 1), 1, 14, kNoLimit, true);
  REQUIRE(z.ok());
  CHECK(parse(z->messages).at(0).inner.size() == 10);
}

TEST_CASE("the output stays within max_bytes, cut between messages, but the first message always goes whole") {
  auto batches = concat({batch_of(0, 50), batch_of(50, 50, 1), batch_of(100, 50)});
  auto all = down_convert(batches, 1, 0, kNoLimit, true);
  REQUIRE(all.ok());
  auto plain_part = down_convert(batch_of(0, 50), 1, 0, kNoLimit, true);
  REQUIRE(plain_part.ok());
  const size_t plain_size = plain_part->messages.size();
  for (size_t limit : {size_t(1), size_t(100), size_t(1000), plain_size + 10, all->messages.size() - 1}) {
    INFO("limit " << limit);
    auto c = down_convert(batches, 1, 0, limit, true);
    REQUIRE(c.ok());
    CHECK(c->stopped_early);
    CHECK(valid_legacy_set(c->messages));
    auto msgs = parse(c->messages);
    REQUIRE(!msgs.empty());
    if (msgs.size() > 1) CHECK(c->messages.size() <= limit);
    // What was sent is a prefix of the whole conversion.
    REQUIRE(c->messages.size() < all->messages.size());
    CHECK(std::equal(c->messages.begin(), c->messages.end(), all->messages.begin()));
    // Not even one message fits: without at_least_one (a later partition) nothing is sent.
    if (limit == 1) {
      CHECK(msgs.size() == 1);
      auto none = down_convert(batches, 1, 0, limit, false);
      REQUIRE(none.ok());
      CHECK(none->messages.empty());
    }
  }
  // A compressed wrapper is never split: the first 50 plain messages fit, the wrapper of the
  // next 50 does not.
  auto c = down_convert(batches, 1, 0, plain_size + 10, true);
  REQUIRE(c.ok());
  CHECK(c->messages.size() == plain_size);
  CHECK(c->records == 50);
  // A big first wrapper goes whole.
  auto first_big = down_convert(batch_of(0, 200, 1), 0, 0, 10, true);
  REQUIRE(first_big.ok());
  CHECK(parse(first_big->messages).at(0).inner.size() == 200);
  // An incomplete batch at the end of the input (a cut read) is ignored.
  auto cut = batches;
  cut.resize(cut.size() - 5);
  auto partial = down_convert(cut, 1, 0, kNoLimit, true);
  REQUIRE(partial.ok());
  CHECK(partial->records == 100);
}

TEST_CASE("zstd cannot be down-converted: UNSUPPORTED_COMPRESSION_TYPE when it comes first") {
  auto zstd = batch_of(5, 5, 4);
  for (int magic : {0, 1}) {
    CHECK(down_convert(zstd, magic, 5, kNoLimit, true).code() == ErrorCode::UNSUPPORTED_COMPRESSION_TYPE);
    // After convertible records, the conversion stops before it; the next fetch gets the error.
    auto c = down_convert(concat({batch_of(0, 5), zstd}), magic, 0, kNoLimit, true);
    REQUIRE(c.ok());
    CHECK(c->stopped_early);
    CHECK(c->records == 5);
  }
}

TEST_CASE("a damaged batch is CORRUPT_MESSAGE") {
  auto b = batch_of(0, 5);
  b[batch::kMagic] = 7;
  CHECK(down_convert(b, 1, 0, kNoLimit, true).code() == ErrorCode::CORRUPT_MESSAGE);
  auto z = batch_of(0, 5, 1);
  z[z.size() - 3] ^= 0xff;  // inside the gzip stream's trailer
  CHECK(down_convert(z, 1, 0, kNoLimit, true).code() == ErrorCode::CORRUPT_MESSAGE);
}
