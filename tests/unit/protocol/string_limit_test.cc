// Kafka's 32767-byte string limit: long free text is cut to fit at a UTF-8 boundary instead
// of being written with a wrapped int16 length, and a compact string over the limit makes a
// request malformed, as in Kafka's generated codecs.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "protocol/messages/create_topics_response.h"
#include "protocol/messages/describe_configs_response.h"
#include "protocol/messages/join_group_request.h"
#include "protocol/messages/list_groups_response.h"
#include "protocol/wire.h"
#include "tests/unit/protocol/codec_test_util.h"

using namespace kb;
using kb::test::encode;

namespace {

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// A compact string field's bytes, written by hand (the Writer would never write this length).
void raw_compact_string(wire::Writer& w, size_t n, char c) {
  w.write_uvarint(n + 1);
  w.write_raw(std::string(n, c));
}

}  // namespace

TEST_CASE("an error message over 32767 bytes is cut to fit, not written with a wrapped length") {
  msg::CreateTopicsResponse resp;
  auto& t = resp.topics.emplace_back();
  t.name = "t";
  t.error_code = 17;
  t.error_message = std::string(32848, 'x');    // the CreateTopics v4 answer from issue 13
  for (int16_t v : {int16_t{4}, int16_t{5}}) {  // classic int16 and compact lengths
    INFO("version " << v);
    wire::Writer w;
    resp.encode(w, v);
    REQUIRE(w.truncated_text() == 1);
    REQUIRE(w.oversized_names() == 0);
    msg::CreateTopicsResponse back;
    wire::Reader r(w.buffer());
    REQUIRE(back.decode(r, v));
    REQUIRE(r.remaining() == 0);
    REQUIRE(back.topics.size() == 1);
    REQUIRE(back.topics[0].error_code == 17);
    REQUIRE(back.topics[0].error_message == std::string(32767, 'x'));
  }
}

TEST_CASE("a cut never splits a UTF-8 character") {
  std::string two_byte;  // "é" x 20000 = 40000 bytes; 32767 is odd, so the cut falls mid-character
  for (int i = 0; i < 20000; ++i) two_byte += "\xC3\xA9";
  std::string four_byte = "a";  // one ASCII byte shifts the 4-byte characters off the boundary
  for (int i = 0; i < 10000; ++i) four_byte += "\xF0\x9F\x98\x80";
  for (const std::string& s : {two_byte, four_byte}) {
    auto cut = wire::utf8_prefix(s, wire::kMaxStringBytes);
    REQUIRE(cut.size() <= wire::kMaxStringBytes);
    REQUIRE(cut.size() > wire::kMaxStringBytes - 4);
    REQUIRE(valid_utf8(cut));
    REQUIRE(s.compare(0, cut.size(), cut) == 0);
  }
  REQUIRE(wire::utf8_prefix("short", wire::kMaxStringBytes) == "short");
}

TEST_CASE("DescribeConfigs documentation is free text and is cut like an error message") {
  msg::DescribeConfigsResponse resp;
  auto& res = resp.results.emplace_back();
  auto& c = res.configs.emplace_back();
  c.name = "x";
  c.documentation = std::string(40000, 'd');
  wire::Writer w;
  resp.encode(w, 4);
  REQUIRE(w.truncated_text() == 1);
  msg::DescribeConfigsResponse back;
  wire::Reader r(w.buffer());
  REQUIRE(back.decode(r, 4));
  REQUIRE(back.results[0].configs[0].documentation->size() == wire::kMaxStringBytes);
}

TEST_CASE("ListGroups v0 stays well-formed around the 32767-byte limit") {
  // A group id that fits is written whole. A longer one cannot arrive (see below), so reaching
  // the encoder is a bug: debug builds assert, release builds cut it and count it for the log.
  std::vector<size_t> lengths = {wire::kMaxStringBytes};
#ifdef NDEBUG
  lengths.push_back(1'000'000);
#endif
  for (size_t n : lengths) {
    INFO("length " << n);
    msg::ListGroupsResponse resp;
    resp.groups.emplace_back().group_id = std::string(n, 'g');
    resp.groups.emplace_back().group_id = "after";
    wire::Writer w;
    resp.encode(w, 0);
    REQUIRE(w.oversized_names() == (n > wire::kMaxStringBytes ? 1 : 0));
    msg::ListGroupsResponse back;
    wire::Reader r(w.buffer());
    REQUIRE(back.decode(r, 0));
    REQUIRE(r.remaining() == 0);
    REQUIRE(back.groups.size() == 2);
    REQUIRE(back.groups[0].group_id.size() == wire::kMaxStringBytes);
    REQUIRE(back.groups[1].group_id == "after");
  }
}

TEST_CASE("a compact string over 32767 bytes is malformed, as Kafka's decoder says") {
  for (size_t n : {wire::kMaxStringBytes, wire::kMaxStringBytes + 1, size_t{1'000'000}}) {
    INFO("length " << n);
    wire::Writer w;
    raw_compact_string(w, n, 'g');
    wire::Reader r(w.buffer());
    auto s = r.read_compact_nullable_string();
    REQUIRE(r.ok() == (n <= wire::kMaxStringBytes));
    REQUIRE(s.has_value() == (n <= wire::kMaxStringBytes));
  }
}

TEST_CASE("a JoinGroup v9 with a 1,000,000-byte group id does not decode") {
  auto request = [](size_t group_id_length) {
    wire::Writer w;
    raw_compact_string(w, group_id_length, 'g');  // group_id
    w.write_int32(10000);                         // session_timeout_ms
    w.write_int32(30000);                         // rebalance_timeout_ms
    raw_compact_string(w, 0, 'm');                // member_id
    w.write_uvarint(0);                           // group_instance_id: null
    raw_compact_string(w, 8, 'c');                // protocol_type
    w.write_uvarint(1);                           // protocols: none
    w.write_uvarint(0);                           // reason: null
    w.write_uvarint(0);                           // tagged fields
    return w.buffer();
  };
  msg::JoinGroupRequest ok;
  auto fits = request(wire::kMaxStringBytes);
  wire::Reader r1(fits);
  REQUIRE(ok.decode(r1, 9));
  REQUIRE(ok.group_id.size() == wire::kMaxStringBytes);
  msg::JoinGroupRequest refused;
  auto too_long = request(1'000'000);
  wire::Reader r2(too_long);
  REQUIRE_FALSE(refused.decode(r2, 9));
}
