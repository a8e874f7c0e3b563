// Byte-exact encodings written out by hand from Kafka's protocol description, and malformed
// inputs a client (or an attacker) could send.
#include <catch2/catch.hpp>

#include "tests/unit/protocol/codec_test_util.h"
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"

using namespace kb;
using namespace kb::msg;
using Bytes = std::vector<uint8_t>;

namespace {

using kb::test::encode;

template <class M>
bool decodes(const Bytes& b, int16_t v, M* out = nullptr) {
  M m;
  wire::Reader r(b);
  bool ok = m.decode(r, v) && r.remaining() == 0;
  if (out) *out = std::move(m);
  return ok;
}

}  // namespace

TEST_CASE("MetadataRequest v1 with one topic is a count and a string") {
  MetadataRequest m;
  m.topics.emplace().push_back({});
  (*m.topics)[0].name = "t1";
  Bytes v1 = {0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 't', '1'};
  REQUIRE(encode(m, 1) == v1);
  // v4 adds allow_auto_topic_creation (default true).
  Bytes v4 = v1;
  v4.push_back(0x01);
  REQUIRE(encode(m, 4) == v4);
  // v9 is flexible: compact array and string, a tagged section per struct, and two more bools.
  REQUIRE(encode(m, 9) == Bytes{0x02, 0x03, 't', '1', 0x00, 0x01, 0x00, 0x00, 0x00});

  MetadataRequest back;
  REQUIRE(decodes(v1, 1, &back));
  REQUIRE(back.topics->size() == 1);
  REQUIRE((*back.topics)[0].name == "t1");
}

TEST_CASE("MetadataRequest null topics means all topics from v1, but is malformed in v0") {
  Bytes null_topics = {0xff, 0xff, 0xff, 0xff};
  MetadataRequest m;
  REQUIRE(decodes(null_topics, 1, &m));
  REQUIRE_FALSE(m.topics.has_value());
  REQUIRE(encode(m, 1) == null_topics);
  REQUIRE_FALSE(decodes<MetadataRequest>(null_topics, 0));
}

TEST_CASE("request header v2 keeps a classic client id and adds a tagged section") {
  RequestHeader h;
  h.request_api_key = 3;
  h.request_api_version = 12;
  h.correlation_id = 0x01020304;
  h.client_id = "rdkafka";
  Bytes v2 = {0x00, 0x03, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04, 0x00, 0x07,
              'r',  'd',  'k',  'a',  'f',  'k',  'a',  0x00};
  REQUIRE(encode(h, 2) == v2);
  RequestHeader back;
  REQUIRE(decodes(v2, 2, &back));
  REQUIRE(back.client_id == "rdkafka");
  REQUIRE(back.correlation_id == 0x01020304);

  h.client_id = std::nullopt;  // null client id: length -1
  REQUIRE(encode(h, 1) == Bytes{0x00, 0x03, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff});
  REQUIRE(encode(h, 0) == Bytes{0x00, 0x03, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04});

  ResponseHeader rh;
  rh.correlation_id = 9;
  REQUIRE(encode(rh, 0) == Bytes{0, 0, 0, 9});
  REQUIRE(encode(rh, 1) == Bytes{0, 0, 0, 9, 0});
}

TEST_CASE("ApiVersionsRequest v3 carries the client software name and version") {
  ApiVersionsRequest a;
  a.client_software_name = "librdkafka";
  a.client_software_version = "2.0.2";
  Bytes v3 = {0x0b, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a',
              0x06, '2', '.', '0', '.', '2', 0x00};
  REQUIRE(encode(a, 3) == v3);
  REQUIRE(encode(a, 2).empty());  // v0-v2 have no body
  ApiVersionsRequest back;
  REQUIRE(decodes(v3, 3, &back));
  REQUIRE(back.client_software_name == "librdkafka");
  REQUIRE(back.client_software_version == "2.0.2");
}

TEST_CASE("ApiVersionsResponse v3 writes tagged fields only when they differ from the default") {
  ApiVersionsResponse r;
  r.api_keys.push_back({});
  r.api_keys[0].api_key = 0;
  r.api_keys[0].min_version = 0;
  r.api_keys[0].max_version = 11;
  Bytes plain = {0x00, 0x00,                    // error_code
                 0x02,                          // one api key
                 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x00,
                 0x00, 0x00, 0x00, 0x00,        // throttle_time_ms
                 0x00};                         // no tagged fields
  REQUIRE(encode(r, 3) == plain);
  r.finalized_features_epoch = 5;  // tag 1, default -1
  Bytes tagged = plain;
  tagged.pop_back();
  Bytes section = {0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 5};
  tagged.insert(tagged.end(), section.begin(), section.end());
  REQUIRE(encode(r, 3) == tagged);
  ApiVersionsResponse back;
  REQUIRE(decodes(tagged, 3, &back));
  REQUIRE(back.finalized_features_epoch == 5);
  REQUIRE(back.unknown_tags.empty());
  // v0 has no throttle time and no tags.
  REQUIRE(encode(r, 0) == Bytes{0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b});
}

TEST_CASE("ProduceRequest v3 records are borrowed from the request bytes") {
  Bytes frame = {0xff, 0xff,                    // transactional_id null
                 0x00, 0x01,                    // acks 1
                 0x00, 0x00, 0x03, 0xe8,        // timeout 1000
                 0x00, 0x00, 0x00, 0x01,        // one topic
                 0x00, 0x01, 't',
                 0x00, 0x00, 0x00, 0x01,        // one partition
                 0x00, 0x00, 0x00, 0x02,        // index 2
                 0x00, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc};
  ProduceRequest p;
  wire::Reader r(frame);
  REQUIRE(p.decode(r, 3));
  REQUIRE(r.remaining() == 0);
  REQUIRE_FALSE(p.transactional_id.has_value());
  REQUIRE(p.acks == 1);
  REQUIRE(p.timeout_ms == 1000);
  const auto& recs = p.topic_data.at(0).partition_data.at(0).records;
  REQUIRE(p.topic_data[0].partition_data[0].index == 2);
  REQUIRE(recs.bytes.size() == 3);
  REQUIRE(recs.bytes.data() == frame.data() + frame.size() - 3);
  REQUIRE(encode(p, 3) == frame);
}

TEST_CASE("a tagged field the version does not know is kept as an unknown tag") {
  // ProduceResponse v9 partition: current_leader (tag 0) exists only from v10.
  ProduceResponse r;
  auto& t = r.responses.emplace_back();
  t.name = std::string(1, 't');  // not = "t": GCC 12 -Wrestrict false positive
  auto& p = t.partition_responses.emplace_back();
  p.current_leader.leader_id = 4;
  p.current_leader.leader_epoch = 2;
  Bytes v10 = encode(r, 10);
  ProduceResponse as_v9;
  wire::Reader rd(v10);
  REQUIRE(as_v9.decode(rd, 9));
  auto& p9 = as_v9.responses.at(0).partition_responses.at(0);
  REQUIRE(p9.current_leader.leader_id == -1);
  REQUIRE(p9.unknown_tags.size() == 1);
  REQUIRE(p9.unknown_tags[0].tag == 0);
  REQUIRE(encode(as_v9, 9) == v10);  // written back unchanged
}

TEST_CASE("tagged fields go out in tag order, unknown ones included") {
  ApiVersionsResponse r;
  r.finalized_features_epoch = 1;  // tag 1
  r.zk_migration_ready = true;     // tag 3
  r.unknown_tags = {{0x04, {}}, {0x09, {0x01, 0x02}}};
  Bytes b = encode(r, 3);
  Bytes expected_tail = {0x04,                                   // four tagged fields
                         0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 1,     // finalized_features_epoch
                         0x03, 0x01, 0x01,                       // zk_migration_ready
                         0x04, 0x00,                             // unknown 4, empty
                         0x09, 0x02, 0x01, 0x02};                // unknown 9
  REQUIRE(b.size() > expected_tail.size());
  REQUIRE(Bytes(b.end() - static_cast<long>(expected_tail.size()), b.end()) == expected_tail);
  ApiVersionsResponse back;
  REQUIRE(decodes(b, 3, &back));
  REQUIRE(back == r);
}

TEST_CASE("malformed messages are refused without crashing") {
  // FetchResponse v4 claiming 2^31-1 topics in a few bytes.
  Bytes huge = {0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x01};
  REQUIRE_FALSE(decodes<FetchResponse>(huge, 4));
  // The same in compact form (v12): uvarint 2^31 = count + 1.
  Bytes huge_compact = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                        0x80, 0x80, 0x80, 0x80, 0x08, 0x00};
  REQUIRE_FALSE(decodes<FetchResponse>(huge_compact, 12));

  // ProduceRequest v3 with a records length of -2.
  Bytes bad_records = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x01,
                       0x00, 0x01, 't',  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
                       0xff, 0xff, 0xff, 0xfe};
  REQUIRE_FALSE(decodes<ProduceRequest>(bad_records, 3));
  // ... and with a topic name of length -3.
  Bytes bad_name = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x01,
                    0xff, 0xfd};
  REQUIRE_FALSE(decodes<ProduceRequest>(bad_name, 3));
  // A null topic array where the version does not allow null.
  Bytes null_topics = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0xff, 0xff, 0xff, 0xff};
  REQUIRE_FALSE(decodes<ProduceRequest>(null_topics, 3));

  // A known tagged field whose bytes are too short for its type (int64 in 2 bytes).
  Bytes short_tag = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x05};
  REQUIRE_FALSE(decodes<ApiVersionsResponse>(short_tag, 3));
  // A tagged section that claims more fields than it has.
  Bytes missing_tag = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0x07, 0x00};
  REQUIRE_FALSE(decodes<ApiVersionsResponse>(missing_tag, 3));

  // Random garbage of every length up to 64 bytes never crashes any decoder version.
  uint32_t x = 12345;
  for (size_t n = 0; n < 64; ++n) {
    Bytes junk(n);
    for (auto& b : junk) {
      x = x * 1103515245u + 12345u;
      b = static_cast<uint8_t>(x >> 16);
    }
    for (int16_t v = 0; v <= FetchResponse::kMaxVersion; ++v) {
      FetchResponse f;
      wire::Reader r(junk);
      (void)f.decode(r, v);
    }
    for (int16_t v = 0; v <= ProduceRequest::kMaxVersion; ++v) {
      ProduceRequest p;
      wire::Reader r(junk);
      (void)p.decode(r, v);
    }
  }
}
