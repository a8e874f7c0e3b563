// Produce v0-2 message sets (magic 0 and 1) converted to record batches.
#include <catch2/catch.hpp>

#include "protocol/compression.h"
#include "protocol/legacy_messages.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

using namespace kb;

namespace {

using Records = std::vector<std::tuple<std::optional<std::string>, std::optional<std::string>, int64_t>>;

Records sample(int n) {
  Records r;
  for (int i = 0; i < n; ++i)
    r.emplace_back(i % 3 == 0 ? std::nullopt : std::optional<std::string>("k" + std::to_string(i)),
                   i % 5 == 4 ? std::nullopt : std::optional<std::string>(std::string(50, 'a' + i % 26)), 7000 + i);
  return r;
}

// The records of a v2 batch, decompressed if needed.
Records records_of(const std::vector<uint8_t>& batch) {
  auto plain = read_batch_header(batch).value().compression() ? recompress_batch(batch, 0).value() : batch;
  Records out;
  REQUIRE(for_each_record(plain, [&](const RecordView& r) {
            out.emplace_back(r.key ? std::optional<std::string>(std::string(*r.key)) : std::nullopt,
                             r.value ? std::optional<std::string>(std::string(*r.value)) : std::nullopt, r.timestamp);
          }).ok());
  return out;
}

}  // namespace

TEST_CASE("magic 0 and 1 message sets, plain and compressed, become one v2 batch with the same records") {
  auto want = sample(40);
  for (int magic : {0, 1}) {
    for (int codec = 0; codec <= 3; ++codec) {
      INFO("magic " << magic << " " << codec_name(codec));
      auto set = build_legacy_message_set(magic, codec, want);
      auto c = convert_legacy_message_set(set, kMaxDecompressedBatchBytes);
      INFO((c.ok() ? std::string() : c.error().message));
      REQUIRE(c.ok());
      CHECK(c->magic == magic);
      CHECK(c->codec == codec);
      CHECK(c->records == 40);
      auto v = validate_batches(c->batch, 1 << 20);
      REQUIRE(v.ok());
      CHECK(v->batches[0].compression == codec);
      auto got = records_of(c->batch);
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(std::get<0>(got[i]) == std::get<0>(want[i]));
        CHECK(std::get<1>(got[i]) == std::get<1>(want[i]));
        // Magic 0 has no timestamps: Kafka converts them to -1.
        CHECK(std::get<2>(got[i]) == (magic == 1 ? std::get<2>(want[i]) : -1));
      }
    }
  }
}

TEST_CASE("damaged legacy message sets are CORRUPT_MESSAGE; record batches need Produce v3") {
  auto set = build_legacy_message_set(1, 0, sample(3));
  auto bad_crc = set;
  bad_crc.back() ^= 1;
  CHECK(convert_legacy_message_set(bad_crc, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  auto cut = set;
  cut.resize(cut.size() - 3);
  CHECK(convert_legacy_message_set(cut, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  CHECK(convert_legacy_message_set({}, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  // A v2 batch sent as a v0-2 message set.
  RecordBatchBuilder b;
  b.add("k", "v", 1);
  CHECK(convert_legacy_message_set(b.build(), 1 << 20).code() == ErrorCode::INVALID_RECORD);
  // A compressed wrapper that expands past the bound.
  Records big = {{std::nullopt, std::string(4 << 20, 'z'), 1}};
  auto bomb = build_legacy_message_set(1, 1, big);
  CHECK(convert_legacy_message_set(bomb, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  CHECK(convert_legacy_message_set(bomb, 8 << 20).ok());
}
