// Primitive codecs: exact bytes of Kafka's integer, varint, string and array forms, the sticky
// failure of the Reader, and the Writer's file-slice parts used for sendfile.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "protocol/records.h"
#include "protocol/wire.h"

using namespace kb;
using Bytes = std::vector<uint8_t>;

namespace {

template <class F>
Bytes written(F&& f) {
  wire::Writer w;
  f(w);
  return w.buffer();
}

}  // namespace

TEST_CASE("fixed-size integers are big-endian") {
  auto b = written([](wire::Writer& w) {
    w.write_int8(-2);
    w.write_int16(0x0102);
    w.write_int32(-2);
    w.write_int64(0x0102030405060708);
    w.write_uint16(0xfffe);
    w.write_uint32(0x80000001u);
    w.write_bool(true);
  });
  REQUIRE(b == Bytes{0xfe, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05,
                     0x06, 0x07, 0x08, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x01, 0x01});
  wire::Reader r(b);
  REQUIRE(r.read_int8() == -2);
  REQUIRE(r.read_int16() == 0x0102);
  REQUIRE(r.read_int32() == -2);
  REQUIRE(r.read_int64() == 0x0102030405060708);
  REQUIRE(r.read_uint16() == 0xfffe);
  REQUIRE(r.read_uint32() == 0x80000001u);
  REQUIRE(r.read_bool());
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);

  uint8_t buf[8];
  wire::store_be64(buf, 0x1122334455667788ull);
  REQUIRE(buf[0] == 0x11);
  REQUIRE(buf[7] == 0x88);
  REQUIRE(wire::load_be64(buf) == 0x1122334455667788ull);
  REQUIRE(wire::load_be32(buf + 4) == 0x55667788u);
  REQUIRE(wire::load_be16(buf + 6) == 0x7788);
}

TEST_CASE("float64 and uuid keep every bit") {
  const double values[] = {0.0, -0.0, 1.5, -1e300, std::numeric_limits<double>::infinity()};
  Uuid u;
  for (int i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(i * 17);
  auto b = written([&](wire::Writer& w) {
    for (double d : values) w.write_float64(d);
    w.write_uuid(u);
  });
  REQUIRE(b.size() == 5 * 8 + 16);
  REQUIRE(Bytes(b.begin() + 16, b.begin() + 24) == Bytes{0x3f, 0xf8, 0, 0, 0, 0, 0, 0});  // 1.5
  wire::Reader r(b);
  for (double d : values) {
    double got = r.read_float64();
    REQUIRE(got == d);
    REQUIRE(std::signbit(got) == std::signbit(d));
  }
  REQUIRE(r.read_uuid() == u);
  REQUIRE(r.ok());
}

TEST_CASE("unsigned varints use seven bits per byte, low group first") {
  REQUIRE(written([](wire::Writer& w) { w.write_uvarint(0); }) == Bytes{0x00});
  REQUIRE(written([](wire::Writer& w) { w.write_uvarint(127); }) == Bytes{0x7f});
  REQUIRE(written([](wire::Writer& w) { w.write_uvarint(128); }) == Bytes{0x80, 0x01});
  REQUIRE(written([](wire::Writer& w) { w.write_uvarint(300); }) == Bytes{0xac, 0x02});
  REQUIRE(written([](wire::Writer& w) { w.write_uvarint(UINT32_MAX); }) ==
          Bytes{0xff, 0xff, 0xff, 0xff, 0x0f});
  Bytes max64 = written([](wire::Writer& w) { w.write_uvarint(UINT64_MAX); });
  REQUIRE(max64.size() == 10);
  wire::Reader r(max64);
  REQUIRE(r.read_uvarlong() == UINT64_MAX);
  REQUIRE(r.ok());
}

TEST_CASE("zigzag varints map small negative numbers to short encodings") {
  REQUIRE(written([](wire::Writer& w) { w.write_varint(0); }) == Bytes{0x00});
  REQUIRE(written([](wire::Writer& w) { w.write_varint(-1); }) == Bytes{0x01});
  REQUIRE(written([](wire::Writer& w) { w.write_varint(1); }) == Bytes{0x02});
  REQUIRE(written([](wire::Writer& w) { w.write_varint(-64); }) == Bytes{0x7f});
  REQUIRE(written([](wire::Writer& w) { w.write_varint(64); }) == Bytes{0x80, 0x01});
  REQUIRE(written([](wire::Writer& w) { w.write_varint(INT32_MAX); }) ==
          Bytes{0xfe, 0xff, 0xff, 0xff, 0x0f});
  REQUIRE(written([](wire::Writer& w) { w.write_varint(INT32_MIN); }) ==
          Bytes{0xff, 0xff, 0xff, 0xff, 0x0f});
  REQUIRE(written([](wire::Writer& w) { w.write_varlong(-1); }) == Bytes{0x01});

  const int32_t ints[] = {0, 1, -1, 63, -64, 64, -65, 8191, -8192, INT32_MAX, INT32_MIN};
  const int64_t longs[] = {0, -1, INT64_MAX, INT64_MIN, int64_t(INT32_MAX) + 1, int64_t(INT32_MIN) - 1};
  auto b = written([&](wire::Writer& w) {
    for (auto x : ints) w.write_varint(x);
    for (auto x : longs) w.write_varlong(x);
  });
  wire::Reader r(b);
  for (auto x : ints) REQUIRE(r.read_varint() == x);
  for (auto x : longs) REQUIRE(r.read_varlong() == x);
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
}

TEST_CASE("over-long or overflowing varints are refused") {
  const uint8_t six_bytes[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  wire::Reader r1(six_bytes);
  r1.read_uvarint();
  REQUIRE_FALSE(r1.ok());

  const uint8_t over_32_bits[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
  wire::Reader r2(over_32_bits);
  REQUIRE(r2.read_uvarint() == 0);
  REQUIRE_FALSE(r2.ok());

  const uint8_t eleven_bytes[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  wire::Reader r3(eleven_bytes);
  r3.read_varlong();
  REQUIRE_FALSE(r3.ok());

  const uint8_t unterminated[] = {0x80};
  wire::Reader r4(unterminated);
  r4.read_varint();
  REQUIRE_FALSE(r4.ok());
}

TEST_CASE("strings and bytes in classic and compact forms, with nulls") {
  auto b = written([](wire::Writer& w) {
    w.write_string("ab");
    w.write_nullable_string(std::nullopt);
    w.write_compact_string("ab");
    w.write_compact_nullable_string(std::nullopt);
    w.write_bytes(Bytes{1, 2});
    w.write_nullable_bytes(std::nullopt);
    w.write_compact_bytes(Bytes{});
    w.write_compact_nullable_bytes(std::nullopt);
  });
  REQUIRE(b == Bytes{0x00, 0x02, 'a', 'b', 0xff, 0xff, 0x03, 'a', 'b', 0x00, 0x00, 0x00, 0x00,
                     0x02, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00});
  wire::Reader r(b);
  REQUIRE(r.read_string() == "ab");
  REQUIRE(r.read_nullable_string() == std::nullopt);
  REQUIRE(r.read_compact_string() == "ab");
  REQUIRE(r.read_compact_nullable_string() == std::nullopt);
  REQUIRE(r.read_bytes() == Bytes{1, 2});
  REQUIRE(r.read_nullable_bytes() == std::nullopt);
  REQUIRE(r.read_compact_bytes().empty());
  REQUIRE(r.read_compact_nullable_bytes() == std::nullopt);
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
}

TEST_CASE("a null where a value is required fails the reader") {
  const uint8_t null_string[] = {0xff, 0xff};
  wire::Reader r1(null_string);
  REQUIRE(r1.read_string().empty());
  REQUIRE_FALSE(r1.ok());

  const uint8_t null_compact[] = {0x00};
  wire::Reader r2(null_compact);
  r2.read_compact_bytes();
  REQUIRE_FALSE(r2.ok());
}

TEST_CASE("negative lengths other than -1 are malformed") {
  const uint8_t string_minus_2[] = {0xff, 0xfe, 'a'};
  wire::Reader r1(string_minus_2);
  REQUIRE(r1.read_nullable_string() == std::nullopt);
  REQUIRE_FALSE(r1.ok());

  const uint8_t bytes_minus_5[] = {0xff, 0xff, 0xff, 0xfb};
  wire::Reader r2(bytes_minus_5);
  r2.read_nullable_bytes();
  REQUIRE_FALSE(r2.ok());

  const uint8_t array_minus_2[] = {0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0};
  wire::Reader r3(array_minus_2);
  REQUIRE(r3.read_array_length() == -1);
  REQUIRE_FALSE(r3.ok());

  const uint8_t array_null[] = {0xff, 0xff, 0xff, 0xff};
  wire::Reader r4(array_null);
  REQUIRE(r4.read_array_length() == -1);
  REQUIRE(r4.ok());  // null itself is legal; the message decoder decides if it is allowed
}

TEST_CASE("array counts the remaining bytes cannot hold are refused before any allocation") {
  const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 1, 2, 3};
  wire::Reader r1(huge);
  REQUIRE(r1.read_array_length() == -1);
  REQUIRE_FALSE(r1.ok());

  // Three int32 elements need 12 bytes; 8 remain.
  const uint8_t three_ints_short[] = {0x00, 0x00, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2};
  wire::Reader r2(three_ints_short);
  REQUIRE(r2.read_array_length(4) == -1);
  REQUIRE_FALSE(r2.ok());
  wire::Reader r3(three_ints_short);
  REQUIRE(r3.read_array_length(1) == 3);  // one byte each would fit
  REQUIRE(r3.ok());

  const uint8_t compact_two[] = {0x03, 0, 0, 0, 1, 0, 0, 0, 2};
  wire::Reader r4(compact_two);
  REQUIRE(r4.read_compact_array_length(4) == 2);
  REQUIRE(r4.ok());
  const uint8_t compact_null[] = {0x00};
  wire::Reader r5(compact_null);
  REQUIRE(r5.read_compact_array_length(4) == -1);
  REQUIRE(r5.ok());
}

TEST_CASE("after the first error every read returns zero and the reader stays failed") {
  const uint8_t bytes[] = {0x00, 0x05, 'a', 'b', 0x01, 0x02, 0x03, 0x04};
  wire::Reader r(bytes);
  REQUIRE(r.read_string().size() == 5);
  REQUIRE(r.ok());
  REQUIRE(r.read_int32() == 0);  // one byte left
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.remaining() == 0);
  REQUIRE(r.read_int8() == 0);
  REQUIRE(r.read_uvarint() == 0);
  REQUIRE(r.read_raw(0).empty());
  REQUIRE_FALSE(r.ok());
}

TEST_CASE("raw reads borrow the input and track the position") {
  const uint8_t bytes[] = {1, 2, 3, 4, 5};
  wire::Reader r(bytes);
  auto first = r.read_raw(2);
  REQUIRE(first.data() == bytes);
  REQUIRE(r.position() == 2);
  REQUIRE(r.rest().size() == 3);
  REQUIRE(r.rest().data() == bytes + 2);
  REQUIRE(r.read_raw(4).empty());
  REQUIRE_FALSE(r.ok());
}

TEST_CASE("tagged-field sections hand each field its own bytes") {
  // Two fields: tag 0 = int32 7, tag 5 = two raw bytes.
  const uint8_t bytes[] = {0x02, 0x00, 0x04, 0, 0, 0, 7, 0x05, 0x02, 0xaa, 0xbb, 0x99};
  wire::Reader r(bytes);
  std::vector<std::pair<uint32_t, size_t>> seen;
  int32_t value = 0;
  REQUIRE(r.read_tagged_fields([&](uint32_t tag, wire::Reader& f) {
    seen.push_back({tag, f.remaining()});
    if (tag == 0) value = f.read_int32();
    return true;
  }));
  REQUIRE(seen == std::vector<std::pair<uint32_t, size_t>>{{0, 4}, {5, 2}});
  REQUIRE(value == 7);
  REQUIRE(r.remaining() == 1);  // the section ends where it says

  // A field that reads past its own size fails the outer reader.
  wire::Reader r2(bytes);
  REQUIRE_FALSE(r2.read_tagged_fields([](uint32_t, wire::Reader& f) {
    f.read_int64();
    return true;
  }));
  REQUIRE_FALSE(r2.ok());

  // A size beyond the input fails.
  const uint8_t truncated[] = {0x01, 0x00, 0x09, 0x00};
  wire::Reader r3(truncated);
  REQUIRE_FALSE(r3.read_tagged_fields([](uint32_t, wire::Reader&) { return true; }));
}

TEST_CASE("a size prefix can be reserved and filled in afterwards") {
  wire::Writer w;
  size_t at = w.reserve_int32();
  w.write_int16(5);
  w.write_string("xyz");
  w.patch_int32(at, static_cast<int32_t>(w.buffer().size() - 4));
  REQUIRE(w.buffer() == Bytes{0, 0, 0, 7, 0, 5, 0, 3, 'x', 'y', 'z'});
}

TEST_CASE("file slices are sent in place, between the bytes around them") {
  FileSlice a{nullptr, 10, 100, 4096};
  FileSlice b{nullptr, 11, 0, 10};
  wire::Writer w;
  w.write_int32(1);
  w.write_file_slice(a);
  w.write_file_slice(b);
  w.write_int16(2);
  REQUIRE(w.buffer().size() == 6);
  REQUIRE(w.total_size() == 6 + 4096 + 10);
  auto parts = w.parts();
  REQUIRE(parts.size() == 4);
  REQUIRE(parts[0].file == nullptr);
  REQUIRE(parts[0].bytes.size() == 4);
  REQUIRE(parts[1].file != nullptr);
  REQUIRE(parts[1].file->fd == 10);
  REQUIRE(parts[1].file->size == 4096);
  REQUIRE(parts[2].file->fd == 11);
  REQUIRE(parts[3].file == nullptr);
  REQUIRE(parts[3].bytes.size() == 2);
  REQUIRE(parts[3].bytes[1] == 2);
}

TEST_CASE("a records field counts its bytes and file slices in the length") {
  const uint8_t head[] = {9, 9, 9};
  Records recs;
  recs.bytes = head;
  recs.files.push_back(FileSlice{nullptr, 3, 0, 1000});
  REQUIRE(recs.size() == 1003);
  wire::Writer w;
  recs.encode(w, false);
  REQUIRE(w.buffer() == Bytes{0x00, 0x00, 0x03, 0xeb, 9, 9, 9});
  REQUIRE(w.total_size() == 7 + 1000);
  REQUIRE(w.parts().size() == 2);

  wire::Writer compact;
  Records null_recs;
  null_recs.is_null = true;
  null_recs.encode(compact, true);
  REQUIRE(compact.buffer() == Bytes{0x00});

  Records owned;
  owned.owned = {1, 2};
  owned.bytes = head;  // ignored: owned storage wins
  wire::Writer wo;
  owned.encode(wo, true);
  REQUIRE(wo.buffer() == Bytes{0x03, 1, 2});
}

TEST_CASE("decoded records borrow the frame, and the broker may patch them in place") {
  uint8_t frame[] = {0x00, 0x00, 0x00, 0x02, 0x11, 0x22, 0x33};
  wire::Reader r(frame);
  Records recs;
  recs.decode(r, false, false);
  REQUIRE(r.ok());
  REQUIRE(recs.bytes.data() == frame + 4);
  REQUIRE(recs.size() == 2);
  recs.mutable_bytes()[0] = 0x55;
  REQUIRE(frame[4] == 0x55);
  REQUIRE(r.remaining() == 1);

  const uint8_t null_frame[] = {0xff, 0xff, 0xff, 0xff};
  wire::Reader rn(null_frame);
  Records n;
  n.decode(rn, false, true);
  REQUIRE(rn.ok());
  REQUIRE(n.is_null);
  wire::Reader rn2(null_frame);
  Records n2;
  n2.decode(rn2, false, false);  // not nullable in this version
  REQUIRE_FALSE(rn2.ok());

  const uint8_t too_long[] = {0x00, 0x00, 0x10, 0x00, 0x01};
  wire::Reader rl(too_long);
  Records l;
  l.decode(rl, false, true);
  REQUIRE_FALSE(rl.ok());
}
