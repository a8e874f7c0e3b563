// The four codecs: round trips, Kafka's framings, and the bounds that stop decompression
// bombs and lying batches.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "protocol/compression.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

using namespace kb;

namespace {

std::vector<uint8_t> text(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  static const char* words[] = {"kafka ", "broker ", "record ", "batch ", "offset ", "partition "};
  std::vector<uint8_t> out;
  while (out.size() < n) {
    const char* w = words[rng() % 6];
    out.insert(out.end(), w, w + std::strlen(w));
    if (rng() % 7 == 0) out.push_back(static_cast<uint8_t>(rng()));
  }
  out.resize(n);
  return out;
}

// A v2 batch whose records section is compressed with `codec` (what a producer sends).
std::vector<uint8_t> compressed_batch(int codec, int records, int32_t claimed_count = -1) {
  RecordBatchBuilder b;
  for (int i = 0; i < records; ++i) b.add("key-" + std::to_string(i), std::string(200, 'a' + i % 26), 1000 + i);
  auto plain = b.build();
  auto packed = compress(codec, std::span<const uint8_t>(plain).subspan(batch::kHeaderSize));
  REQUIRE(packed.ok());
  // Sized first and filled with copies (GCC 12 warns, wrongly, on insert after a 61-byte copy).
  std::vector<uint8_t> out(batch::kHeaderSize + packed->size());
  std::copy(plain.begin(), plain.begin() + batch::kHeaderSize, out.begin());
  std::copy(packed->begin(), packed->end(), out.begin() + batch::kHeaderSize);
  wire::store_be32(out.data() + batch::kBatchLength, static_cast<uint32_t>(out.size() - batch::kLogOverhead));
  wire::store_be16(out.data() + batch::kAttributes, static_cast<uint16_t>(codec));
  if (claimed_count >= 0) {
    wire::store_be32(out.data() + batch::kRecordsCount, static_cast<uint32_t>(claimed_count));
    wire::store_be32(out.data() + batch::kLastOffsetDelta, static_cast<uint32_t>(claimed_count - 1));
  }
  wire::store_be32(out.data() + batch::kCrc, compute_batch_crc(out));
  return out;
}

}  // namespace

TEST_CASE("every codec round-trips, empty and large inputs alike") {
  for (int codec = 1; codec <= 4; ++codec) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{3} << 20}) {
      INFO(codec_name(codec) << " " << n << " bytes");
      auto in = text(n, n + codec);
      auto packed = compress(codec, in);
      REQUIRE(packed.ok());
      auto back = decompress(codec, *packed, kMaxDecompressedBatchBytes);
      INFO((back.ok() ? std::string() : back.error().message));
      REQUIRE(back.ok());
      CHECK(*back == in);
    }
  }
}

TEST_CASE("snappy in the xerial framing of the Java client and kafka-python is read") {
  auto in = text(100000, 5);
  std::vector<uint8_t> framed = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  for (size_t at = 0; at < in.size(); at += 32768) {  // xerial writes 32 KiB blocks
    auto block = compress(2, std::span<const uint8_t>(in).subspan(at, std::min<size_t>(32768, in.size() - at)));
    REQUIRE(block.ok());
    wire::Writer w;
    w.write_int32(static_cast<int32_t>(block->size()));
    framed.insert(framed.end(), w.buffer().begin(), w.buffer().end());
    framed.insert(framed.end(), block->begin(), block->end());
  }
  auto back = decompress(2, framed, kMaxDecompressedBatchBytes);
  REQUIRE(back.ok());
  CHECK(*back == in);
  framed.resize(framed.size() - 10);
  CHECK(decompress(2, framed, kMaxDecompressedBatchBytes).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("a decompression bomb is CORRUPT_MESSAGE, not an allocation") {
  std::vector<uint8_t> zeros(8u << 20, 0);
  for (int codec = 1; codec <= 4; ++codec) {
    INFO(codec_name(codec));
    auto packed = compress(codec, zeros);
    REQUIRE(packed.ok());
    CHECK(packed->size() < zeros.size() / 20);
    CHECK(decompress(codec, *packed, 1u << 20).code() == ErrorCode::CORRUPT_MESSAGE);
    // Exactly at the bound is fine.
    CHECK(decompress(codec, *packed, zeros.size()).ok());
  }
}

TEST_CASE("damaged and truncated streams are CORRUPT_MESSAGE") {
  auto in = text(50000, 9);
  for (int codec = 1; codec <= 4; ++codec) {
    INFO(codec_name(codec));
    auto packed = compress(codec, in).value();
    auto cut = packed;
    cut.resize(cut.size() / 2);
    CHECK(decompress(codec, cut, kMaxDecompressedBatchBytes).code() == ErrorCode::CORRUPT_MESSAGE);
    std::vector<uint8_t> garbage(100, 0x5a);
    CHECK(decompress(codec, garbage, kMaxDecompressedBatchBytes).code() == ErrorCode::CORRUPT_MESSAGE);
  }
}

TEST_CASE("compressed batches are validated record by record") {
  for (int codec = 1; codec <= 4; ++codec) {
    INFO(codec_name(codec));
    auto good = compressed_batch(codec, 50);
    auto v = validate_batches(good, 1 << 20);
    INFO((v.ok() ? std::string() : v.error().message));
    REQUIRE(v.ok());
    CHECK(v->records == 50);
    CHECK(v->batches[0].compression == codec);
    CHECK(v->max_timestamp == 1049);  // from the records, not just the header
    CHECK(v->min_timestamp == 1000);
    // A count that does not match the records inside: refused.
    CHECK(validate_batches(compressed_batch(codec, 50, 51), 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
    CHECK(validate_batches(compressed_batch(codec, 50, 49), 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);
  }
}

TEST_CASE("a batch is recompressed into a topic's codec with its records and header fields intact") {
  RecordBatchBuilder builder;
  for (int i = 0; i < 20; ++i) builder.add("k" + std::to_string(i), std::string(100, 'v'), 5000 + i);
  builder.producer(77, 2, 40);
  auto plain = builder.build();
  std::vector<std::string> want;
  REQUIRE(for_each_record(plain, [&](const RecordView& r) { want.emplace_back(*r.key); }).ok());
  for (int from = 0; from <= 4; ++from) {
    auto source = from == 0 ? plain : recompress_batch(plain, from).value();
    for (int to = 0; to <= 4; ++to) {
      INFO(codec_name(from) << " -> " << codec_name(to));
      auto out = recompress_batch(source, to);
      REQUIRE(out.ok());
      auto v = validate_batches(*out, 1 << 20);
      INFO((v.ok() ? std::string() : v.error().message));
      REQUIRE(v.ok());
      CHECK(v->batches[0].compression == to);
      CHECK(v->records == 20);
      auto h = read_batch_header(*out).value();
      CHECK(h.producer_id == 77);
      CHECK(h.base_sequence == 40);
      CHECK(h.max_timestamp == 5019);
      auto back = recompress_batch(*out, 0).value();
      std::vector<std::string> keys;
      REQUIRE(for_each_record(back, [&](const RecordView& r) { keys.emplace_back(*r.key); }).ok());
      CHECK(keys == want);
    }
  }
}

TEST_CASE("xxHash32 matches the reference values") {
  auto bytes = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  CHECK(xxh32(bytes(""), 0) == 0x02CC5D05u);
  CHECK(xxh32(bytes("a"), 0) == 0x550D7456u);
  CHECK(xxh32(bytes("abc"), 0) == 0x32D153FFu);
  CHECK(xxh32(bytes("Nobody inspects the spammish repetition"), 0) == 0xE2293B2Fu);
}

TEST_CASE("an LZ4 frame with Kafka 0.8's wrong header checksum is read, other damage is not") {
  auto in = text(20000, 3);
  auto frame = compress(3, in).value();
  // Kafka 0.8 computed the header checksum over the magic number too.
  uint8_t flg = frame[4];
  size_t hc = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
  auto broken = frame;
  broken[hc] = static_cast<uint8_t>((xxh32(std::span<const uint8_t>(frame).subspan(0, hc), 0) >> 8) & 0xff);
  REQUIRE(broken[hc] != frame[hc]);
  auto back = decompress(3, broken, kMaxDecompressedBatchBytes);
  REQUIRE(back.ok());
  CHECK(*back == in);
  auto wrong = frame;
  wrong[hc] ^= 0x5a;
  if (wrong[hc] != broken[hc]) CHECK(decompress(3, wrong, kMaxDecompressedBatchBytes).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("lz4 output is a frame of independent 64 KiB blocks, the only kind Java clients read") {
  auto in = text(300000, 7);  // several blocks
  auto packed = compress(3, in);
  REQUIRE(packed.ok());
  REQUIRE(packed->size() > 6);
  const std::vector<uint8_t> magic = {0x04, 0x22, 0x4d, 0x18};
  CHECK(std::vector<uint8_t>(packed->begin(), packed->begin() + 4) == magic);
  const uint8_t flg = (*packed)[4];
  const uint8_t bd = (*packed)[5];
  CHECK((flg & 0x20) != 0);           // block independence
  CHECK(((bd >> 4) & 0x07) == 4);     // block maximum size 64 KiB
  auto back = decompress(3, *packed, in.size());
  REQUIRE(back.ok());
  CHECK(*back == in);
}
