// The network's limits without sockets: Kafka's connection quotas (max.connections,
// max.connections.per.ip and its overrides) and the accept loop's backoff.
#include <catch2/catch.hpp>

#include <cerrno>

#include "config/config.h"
#include "server/network_limits.h"

using namespace kb;
using namespace kb::server;

TEST_CASE("max.connections.per.ip refuses the connection over an address's limit; overrides win") {
  ConnectionLimits l;
  l.max_per_ip = 2;
  l.per_ip_overrides["10.0.0.9"] = 0;
  l.per_ip_overrides["10.0.0.5"] = 3;
  ConnectionQuotas q(l);
  int32_t limit = -1;
  CHECK(q.open("10.0.0.1", limit));
  CHECK(q.open("10.0.0.1", limit));
  CHECK_FALSE(q.open("10.0.0.1", limit));
  CHECK(limit == 2);
  CHECK(q.from("10.0.0.1") == 2);  // the refused one is not counted
  CHECK_FALSE(q.open("10.0.0.9", limit));
  CHECK(limit == 0);
  for (int i = 0; i < 3; ++i) CHECK(q.open("10.0.0.5", limit));
  CHECK_FALSE(q.open("10.0.0.5", limit));
  CHECK(q.total() == 5);
  // A closed connection gives its place back.
  q.close("10.0.0.1");
  CHECK(q.open("10.0.0.1", limit));
  CHECK(q.total() == 5);
}

TEST_CASE("max.connections: a listener has a slot while the broker is under it; protected ones always") {
  ConnectionLimits l;
  l.max_connections = 2;
  ConnectionQuotas q(l);
  int32_t limit;
  CHECK(q.slot_available(false));
  REQUIRE(q.open("127.0.0.1", limit));
  REQUIRE(q.open("127.0.0.2", limit));
  CHECK_FALSE(q.slot_available(false));
  CHECK(q.slot_available(true));
  // A dynamic change takes effect at once.
  l.max_connections = 3;
  q.set_limits(l);
  CHECK(q.slot_available(false));
  q.close("127.0.0.2");
  l.max_connections = 1;
  q.set_limits(l);
  CHECK_FALSE(q.slot_available(false));
  q.close("127.0.0.1");
  CHECK(q.slot_available(false));
  CHECK(q.total() == 0);
}

TEST_CASE("the limits come from Kafka's properties; host names in the overrides are resolved") {
  auto c = config::BrokerConfig::from_yaml(
      "node.id: 1\nmax.connections: 7\nmax.connections.per.ip: 3\n"
      "max.connections.per.ip.overrides: \"localhost:5,192.168.1.1:0,[::1]:9\"\n");
  auto l = ConnectionLimits::from_config(c);
  CHECK(l.max_connections == 7);
  CHECK(l.max_per_ip == 3);
  CHECK(l.per_ip_overrides.at("192.168.1.1") == 0);
  CHECK(l.per_ip_overrides.at("127.0.0.1") == 5);  // localhost
  CHECK(l.per_ip_overrides.count("::1") == 1);
  auto defaults = ConnectionLimits::from_config(config::BrokerConfig::from_yaml("node.id: 1\n"));
  CHECK(defaults.max_connections == INT32_MAX);
  CHECK(defaults.max_per_ip == INT32_MAX);
  CHECK(defaults.per_ip_overrides.empty());
}

TEST_CASE("a malformed max.connections.per.ip.overrides stops the start, naming the key") {
  for (const char* bad : {"host", "host:", "host:-1", "host:many", ":5", "a:1,b"}) {
    INFO(bad);
    CHECK_THROWS_WITH(config::BrokerConfig::from_yaml(std::string("node.id: 1\nmax.connections.per.ip.overrides: \"") +
                                                      bad + "\"\n"),
                      Catch::Contains("max.connections.per.ip.overrides"));
  }
}

TEST_CASE("accept failures from exhausted resources back off, doubling to a second; others retry at once") {
  AcceptBackoff b;
  CHECK(b.after_failure(ECONNABORTED) == 0);
  CHECK(b.after_failure(EMFILE) == AcceptBackoff::kFirstMs);
  CHECK(b.after_failure(ENFILE) == 2 * AcceptBackoff::kFirstMs);
  int64_t last = 0;
  for (int i = 0; i < 20; ++i) last = b.after_failure(EMFILE);
  CHECK(last == AcceptBackoff::kMaxMs);
  b.after_success();
  CHECK(b.after_failure(ENOBUFS) == AcceptBackoff::kFirstMs);
}

TEST_CASE("connection_creation_rate throttles a burst from one address; its own quota beats the default") {
  ConnectionQuotas q;  // 11 windows of 1 s: the rate divides by at least 10 s
  CHECK(q.creation_throttle_ms("10.0.0.1", 0) == 0);  // no ip quota: unlimited
  controller::ClientQuotaMap quotas;
  quotas[{{"ip", std::nullopt}}]["connection_creation_rate"] = 2;   // default: 20 per 10 s
  quotas[{{"ip", std::string("10.0.0.7")}}]["connection_creation_rate"] = 5;
  quotas[{{"user", std::string("alice")}}]["producer_byte_rate"] = 1;  // not an ip entity
  q.set_ip_rates(quotas);
  int accepted = 0;
  int64_t first_throttle = 0;
  for (int i = 0; i < 30; ++i) {
    const int64_t ms = q.creation_throttle_ms("10.0.0.1", 0);
    if (ms == 0) ++accepted;
    else if (!first_throttle) first_throttle = ms;
  }
  CHECK(accepted == 20);  // refused connections are not counted against the address
  CHECK(first_throttle > 0);
  CHECK(first_throttle <= 1000);  // at most one quota window
  int own = 0;
  for (int i = 0; i < 60; ++i) own += q.creation_throttle_ms("10.0.0.7", 0) == 0;
  CHECK(own == 50);
  CHECK(q.creation_throttle_ms("10.0.0.2", 0) == 0);  // each address has its own rate
  // Later the window moves on and the address may connect again.
  CHECK(q.creation_throttle_ms("10.0.0.1", 12000) == 0);
  // The quotas removed: unlimited again.
  q.set_ip_rates({});
  for (int i = 0; i < 100; ++i) CHECK(q.creation_throttle_ms("10.0.0.1", 12000) == 0);
}

TEST_CASE("max.connection.creation.rate makes the listener wait once the broker's rate is over it") {
  ConnectionLimits l;
  ConnectionQuotas unlimited(l);
  for (int i = 0; i < 1000; ++i) CHECK(unlimited.record_creation(0) == 0);
  l.max_creation_rate = 3;  // 30 over the first 10 s
  ConnectionQuotas q(l);
  for (int i = 0; i < 30; ++i) CHECK(q.record_creation(0) == 0);
  const int64_t wait = q.record_creation(0);
  CHECK(wait > 0);
  CHECK(wait <= 1000);
  CHECK(q.record_creation(20000) == 0);  // the window has moved on
}
