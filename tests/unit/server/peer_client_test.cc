// The broker-to-broker client against a real in-process broker and against peers that
// refuse or never answer.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"
#include "running_broker.h"
#include "runtime/peer_client.h"
#include "server/broker.h"

using namespace kb;
using namespace kb::server;
using namespace kb::runtime;
using kb::server::test::RunningBroker;

namespace {


template <class T>
T wait_for(std::future<T>& f) {
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  return f.get();
}

// A port with a listening socket that accepts connections (through the backlog) and never
// answers.
struct SilentPeer {
  int fd = -1;
  uint16_t port = 0;
  SilentPeer() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~SilentPeer() { ::close(fd); }
};

}  // namespace

TEST_CASE("requests to a broker are answered, pipelined, each to its own caller") {
  RunningBroker b;
  PeerClient client("peer-test");
  std::promise<Result<msg::ApiVersionsResponse>> versions;
  auto vf = versions.get_future();
  msg::ApiVersionsRequest av;
  av.client_software_name = "kbroker";
  av.client_software_version = "test";
  client.call<msg::ApiVersionsRequest, msg::ApiVersionsResponse>(
      1, b.address(), av, 3, 5000, [&](Result<msg::ApiVersionsResponse> r) { versions.set_value(std::move(r)); });
  auto v = wait_for(vf);
  INFO((v.ok() ? std::string() : v.error().message));
  REQUIRE(v.ok());
  CHECK(v->error_code == 0);
  CHECK(!v->api_keys.empty());

  // Many requests in flight on one connection: every caller gets its own answer.
  constexpr int kRequests = 200;
  std::atomic<int> answered{0}, good{0};
  std::promise<void> all;
  auto af = all.get_future();
  for (int i = 0; i < kRequests; ++i) {
    msg::MetadataRequest req;
    req.topics = std::vector<msg::MetadataRequest::MetadataRequestTopic>{};
    int16_t version = static_cast<int16_t>(i % 13);  // flexible and classic headers alike
    if (version < 1) req.topics.reset();
    client.call<msg::MetadataRequest, msg::MetadataResponse>(1, b.address(), req, version, 5000,
                                                             [&, version](Result<msg::MetadataResponse> r) {
                                                               if (r.ok() && r->brokers.size() == 1 &&
                                                                   r->brokers[0].node_id == 1)
                                                                 ++good;
                                                               if (++answered == kRequests) all.set_value();
                                                               (void)version;
                                                             });
  }
  REQUIRE(af.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(good == kRequests);
}

TEST_CASE("a refused connection and a silent peer fail their requests, and the client recovers") {
  PeerClient client("peer-test");
  SilentPeer silent;
  int refused_port;
  {
    SilentPeer closed;  // bound then closed: nothing listens there any more
    refused_port = closed.port;
  }
  std::promise<Result<std::vector<uint8_t>>> refused;
  auto rf = refused.get_future();
  client.send(2, {"127.0.0.1", static_cast<uint16_t>(refused_port)}, 18, 0, {}, 5000,
              [&](Result<std::vector<uint8_t>> r) { refused.set_value(std::move(r)); });
  CHECK(wait_for(rf).code() == ErrorCode::NETWORK_EXCEPTION);

  std::promise<Result<std::vector<uint8_t>>> timed_out;
  auto tf = timed_out.get_future();
  client.send(3, {"127.0.0.1", silent.port}, 18, 0, {}, 200,
              [&](Result<std::vector<uint8_t>> r) { timed_out.set_value(std::move(r)); });
  CHECK(wait_for(tf).code() == ErrorCode::REQUEST_TIMED_OUT);

  // The same node id at a working address: the client reconnects there.
  RunningBroker b;
  std::promise<Result<std::vector<uint8_t>>> ok;
  auto of = ok.get_future();
  client.send(3, b.address(), 18, 0, {}, 5000, [&](Result<std::vector<uint8_t>> r) { ok.set_value(std::move(r)); });
  auto body = wait_for(of);
  REQUIRE(body.ok());
  CHECK(body->size() > 2);
  CHECK((*body)[0] == 0);  // error_code NONE
  CHECK((*body)[1] == 0);
}
