// request_percentage's parts that need no sockets: which requests are charged, and how a
// throttle decided after the handler encoded its answer reaches the client.
#include <catch2/catch.hpp>

#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/metadata_response.h"
#include "protocol/messages/produce_response.h"
#include "server/request_quota.h"

using namespace kb;
using namespace kb::server;

namespace {

RequestContext request(int16_t api_key) {
  RequestContext ctx;
  ctx.api_key = api_key;
  return ctx;
}

template <class Msg>
int32_t throttle_of(Response& r, int16_t version) {
  Msg m;
  wire::Reader rd(std::span<const uint8_t>(r.body.buffer().data(), r.body.buffer().size()));
  REQUIRE(m.decode(rd, version));
  return m.throttle_time_ms;
}

}  // namespace

TEST_CASE("client requests are charged to request_percentage; cluster actions and handshakes are not") {
  CHECK(charged_to_request_quota(request(3), false));   // Metadata
  CHECK(charged_to_request_quota(request(2), false));   // ListOffsets
  CHECK_FALSE(charged_to_request_quota(request(3), true));  // on a controller listener
  CHECK_FALSE(charged_to_request_quota(request(18), false));  // ApiVersions
  CHECK_FALSE(charged_to_request_quota(request(17), false));  // SaslHandshake
  CHECK_FALSE(charged_to_request_quota(request(36), false));  // SaslAuthenticate
  CHECK_FALSE(charged_to_request_quota(request(58), false));  // Envelope
  CHECK_FALSE(charged_to_request_quota(request(63), false));  // BrokerHeartbeat
  CHECK_FALSE(charged_to_request_quota(request(52), false));  // Vote: controller-only
  auto own = request(3);
  own.from_this_broker = true;
  CHECK_FALSE(charged_to_request_quota(own, false));
}

TEST_CASE("a request throttle is written into throttle_time_ms, keeping the handler's when larger") {
  msg::MetadataResponse m;
  m.throttle_time_ms = 0;
  m.brokers.resize(1);
  m.brokers[0].host = "localhost";
  for (int16_t v : {int16_t{3}, int16_t{9}, int16_t{12}}) {
    INFO("Metadata v" << v);
    Response r;
    m.encode(r.body, v);
    apply_request_throttle(3, v, r, 250);
    CHECK(r.throttle_ms == 250);
    CHECK(throttle_of<msg::MetadataResponse>(r, v) == 250);
    apply_request_throttle(3, v, r, 100);  // a smaller one changes nothing
    CHECK(r.throttle_ms == 250);
    CHECK(throttle_of<msg::MetadataResponse>(r, v) == 250);
  }
  // Metadata v0-2 has no throttle_time_ms: the connection is muted all the same.
  Response old;
  m.encode(old.body, 2);
  const auto bytes = old.body.buffer();
  apply_request_throttle(3, 2, old, 250);
  CHECK(old.throttle_ms == 250);
  CHECK(old.body.buffer() == bytes);
  // ApiVersions' throttle_time_ms is not its first field: never written over.
  msg::ApiVersionsResponse av;
  Response a;
  av.encode(a.body, 3);
  const auto av_bytes = a.body.buffer();
  apply_request_throttle(18, 3, a, 250);
  CHECK(a.body.buffer() == av_bytes);
}

TEST_CASE("Produce's throttle_time_ms, its last field, takes a request throttle in every version") {
  msg::ProduceResponse m;
  m.throttle_time_ms = 5;
  auto& t = m.responses.emplace_back();
  t.name = "orders";
  t.partition_responses.emplace_back().base_offset = 42;
  for (int16_t v = 1; v <= msg::ProduceResponse::kMaxVersion; ++v) {
    INFO("Produce v" << v);
    Response r;
    m.encode(r.body, v);
    throttle_is_last_field(r, v >= msg::ProduceResponse::kFirstFlexibleVersion);
    apply_request_throttle(0, v, r, 300);
    CHECK(throttle_of<msg::ProduceResponse>(r, v) == 300);
    CHECK(r.throttle_ms == 300);
  }
  Response unknown;  // no throttle_at: muted only
  m.encode(unknown.body, 8);
  const auto bytes = unknown.body.buffer();
  apply_request_throttle(0, 8, unknown, 300);
  CHECK(unknown.body.buffer() == bytes);
}
