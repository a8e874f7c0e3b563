// Client quota enforcement without sockets or wall-clock time: Kafka's precedence of quota
// entities, the windowed rate and the throttle time it gives, the token bucket of
// controller_mutation_rate. Time is a number each test moves by hand.
#include <catch2/catch.hpp>

#include "server/client_quota_manager.h"

using namespace kb;
using namespace kb::server;
using kb::controller::ClientQuotaEntity;
using kb::controller::ClientQuotaMap;
using kb::controller::QuotaEntityPart;

namespace {

ClientQuotaEntity entity(std::optional<std::optional<std::string>> user, std::optional<std::optional<std::string>> client) {
  ClientQuotaEntity e;
  if (client) e.push_back({"client-id", *client});
  if (user) e.push_back({"user", *user});
  return e;
}
const std::optional<std::string> kDefault = std::nullopt;

}  // namespace

TEST_CASE("the quota of a (user, client-id) follows Kafka's precedence, and says whom it counts") {
  ClientQuotaMap q;
  auto set = [&](ClientQuotaEntity e, double v) { q[e]["producer_byte_rate"] = v; };
  set(entity("alice", "app"), 1);
  set(entity("alice", kDefault), 2);
  set(entity("alice", std::nullopt), 3);
  set(entity(kDefault, "app"), 4);
  set(entity(kDefault, kDefault), 5);
  set(entity(kDefault, std::nullopt), 6);
  set(entity(std::nullopt, "app"), 7);
  set(entity(std::nullopt, kDefault), 8);
  const std::vector<ClientQuotaEntity> order = {
      entity("alice", "app"),  entity("alice", kDefault),  entity("alice", std::nullopt),
      entity(kDefault, "app"), entity(kDefault, kDefault), entity(kDefault, std::nullopt),
      entity(std::nullopt, "app"), entity(std::nullopt, kDefault)};
  // Tags: a user-only entity counts all the user's clients together; defaults count each
  // user or client on its own.
  const std::vector<std::pair<std::string, std::string>> tags = {
      {"alice", "app"}, {"alice", "app"}, {"alice", ""}, {"alice", "app"},
      {"alice", "app"}, {"alice", ""},    {"", "app"},   {"", "app"}};
  for (size_t i = 0; i < order.size(); ++i) {
    INFO("level " << i + 1);
    auto found = find_quota(q, "producer_byte_rate", "alice", "app");
    REQUIRE(found);
    CHECK(found->bound == static_cast<double>(i + 1));
    CHECK(found->user_tag == tags[i].first);
    CHECK(found->client_tag == tags[i].second);
    CHECK_FALSE(find_quota(q, "consumer_byte_rate", "alice", "app"));
    q.erase(order[i]);
  }
  CHECK_FALSE(find_quota(q, "producer_byte_rate", "alice", "app"));
  CHECK(quota_user("User:alice") == "alice");
  CHECK(quota_user("User:ANONYMOUS") == "ANONYMOUS");
}

TEST_CASE("the windowed rate divides by at least samples-1 windows and forgets samples past the window") {
  WindowedRate r(11, 1000);
  r.record(1000, 0);
  CHECK(r.window_size_ms(0) == 10000);
  CHECK(r.rate_per_second(0) == Approx(100));
  r.record(500, 1500);
  CHECK(r.window_size_ms(1500) == 10500);  // 1.5 s elapsed, padded to samples-1 whole windows
  CHECK(r.rate_per_second(1500) == Approx(1500 / 10.5));
  // At 11.5 s the first sample (begun at 0) is 11 windows old: gone.
  CHECK(r.rate_per_second(11500) == Approx(500 / 10.0));
  r.unrecord(500, 11500);
  CHECK(r.rate_per_second(11500) == Approx(0));
}

TEST_CASE("a client over its byte rate is throttled for the time Kafka computes; others are not counted") {
  ClientQuotaManager m;
  CHECK_FALSE(m.enabled(QuotaKind::kProduce));
  CHECK(m.record_bytes(QuotaKind::kProduce, "alice", "app", 1e9, 0) == 0);  // no quota at all
  ClientQuotaMap q;
  q[entity(std::nullopt, "app")]["producer_byte_rate"] = 1000;
  m.update(q);
  CHECK(m.enabled(QuotaKind::kProduce));
  CHECK_FALSE(m.enabled(QuotaKind::kFetch));
  CHECK(m.record_bytes(QuotaKind::kProduce, "alice", "app", 5000, 0) == 0);  // 500 B/s over 10 s
  // 20000 B over the 10 s window: 2000 B/s, twice the bound: (2000-1000)/1000 * 10 s.
  CHECK(m.record_bytes(QuotaKind::kProduce, "alice", "app", 15000, 0) == 10000);
  CHECK(m.record_bytes(QuotaKind::kProduce, "alice", "other", 1e9, 0) == 0);
  CHECK(m.record_bytes(QuotaKind::kFetch, "alice", "app", 1e9, 0) == 0);
  auto samples = m.samples(0);
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].client_id == "app");
  CHECK(samples[0].user.empty());
  CHECK(samples[0].bound == 1000);
  CHECK(samples[0].throttled == 1);
  CHECK(samples[0].throttled_ms == 10000);
  // The quota removed: nothing is counted any more.
  m.update({});
  CHECK_FALSE(m.enabled(QuotaKind::kProduce));
  CHECK(m.samples(0).empty());
}

TEST_CASE("a producer sending ten times its quota and waiting out each throttle is held near the quota") {
  ClientQuotaManager m;
  ClientQuotaMap q;
  q[entity(std::nullopt, kDefault)]["producer_byte_rate"] = 10000;
  m.update(q);
  int64_t now = 0;
  double sent = 0;
  // 1000-byte requests every 10 ms (100 KB/s) unless told to wait.
  while (now < 60000) {
    sent += 1000;
    const int64_t wait = m.record_bytes(QuotaKind::kProduce, "ANONYMOUS", "fast", 1000, now);
    now += std::max<int64_t>(wait, 10);
  }
  const double rate = sent / (static_cast<double>(now) / 1000.0);
  CHECK(rate > 10000 * 0.8);
  CHECK(rate < 10000 * 1.2);
}

TEST_CASE("controller_mutation_rate: a token bucket with a burst of rate x windows; strict refuses once empty") {
  ClientQuotaManager m;
  ClientQuotaMap q;
  q[entity(std::nullopt, "admin")]["controller_mutation_rate"] = 1;
  m.update(q);
  CHECK(m.check_mutation("ANONYMOUS", "admin", 20, true, 0) == 0);  // 11 tokens: taken, now -9
  CHECK(m.check_mutation("ANONYMOUS", "admin", 1, true, 0) == 9000);  // refused until refilled
  CHECK(m.check_mutation("ANONYMOUS", "admin", 1, true, 4000) == 5000);
  CHECK(m.check_mutation("ANONYMOUS", "admin", 1, true, 9000) == 0);  // back at 0: allowed
  m.refund_mutation("ANONYMOUS", "admin", 1, 9000);
  CHECK(m.check_mutation("ANONYMOUS", "admin", 1, true, 9000) == 0);
  // Permissive (older versions): the mutation goes ahead and costs a throttle.
  CHECK(m.check_mutation("ANONYMOUS", "admin", 3, false, 9000) == 4000);
  CHECK(m.check_mutation("ANONYMOUS", "other", 100, true, 9000) == 0);  // no quota for it
}

TEST_CASE("request_percentage counts thread time in percent of one thread, throttles at most one window") {
  ClientQuotaManager m;
  ClientQuotaMap q;
  q[entity(std::nullopt, "busy")]["request_percentage"] = 10;  // a tenth of one thread
  m.update(q);
  CHECK(m.enabled(QuotaKind::kRequest));
  CHECK_FALSE(m.enabled(QuotaKind::kProduce));
  // 500 ms of thread time over the 10 s window: 5 percent, within the quota.
  CHECK(m.record_request_time("ANONYMOUS", "busy", 500'000'000, 0) == 0);
  // 1.5 s in all: 15 percent, half again the bound: (15-10)/10 * 10 s = 5 s, capped at the
  // one-second window Kafka caps request throttles at.
  CHECK(m.record_request_time("ANONYMOUS", "busy", 1'000'000'000, 0) == 1000);
  CHECK(m.record_request_time("ANONYMOUS", "idle", 5'000'000'000, 0) == 0);  // no quota for it
  auto samples = m.samples(0);
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].kind == QuotaKind::kRequest);
  CHECK(samples[0].rate == Approx(15.0));
  CHECK(samples[0].throttled == 1);
}

TEST_CASE("a client hammering a broker thread is held near its request_percentage") {
  ClientQuotaManager m;
  ClientQuotaMap q;
  q[entity(kDefault, std::nullopt)]["request_percentage"] = 20;
  m.update(q);
  int64_t now = 0;
  int64_t busy_ns = 0;
  // Each request takes 1 ms of thread time and the client sends the next one at once unless
  // throttled (a thread flat out: 100 percent).
  while (now < 60000) {
    busy_ns += 1'000'000;
    const int64_t wait = m.record_request_time("alice", "app", 1'000'000, now);
    now += std::max<int64_t>(wait, 1);
  }
  const double percent = static_cast<double>(busy_ns) / 1e9 / (static_cast<double>(now) / 1000.0) * 100.0;
  CHECK(percent > 20 * 0.8);
  CHECK(percent < 20 * 1.2);
}

TEST_CASE("the applied quota is resolved again when the quotas change") {
  ClientQuotaManager m;
  ClientQuotaMap q;
  q[entity("alice", std::nullopt)]["producer_byte_rate"] = 1000;
  m.update(q);
  CHECK(m.record_bytes(QuotaKind::kProduce, "alice", "app", 20000, 0) > 0);
  CHECK(m.record_bytes(QuotaKind::kProduce, "bob", "app", 1e9, 0) == 0);
  // A quota for bob, a higher one for alice: the cached answers for both are gone.
  q[entity("alice", std::nullopt)]["producer_byte_rate"] = 1e9;
  q[entity("bob", std::nullopt)]["producer_byte_rate"] = 1000;
  m.update(q);
  CHECK(m.record_bytes(QuotaKind::kProduce, "alice", "app", 20000, 0) == 0);
  CHECK(m.record_bytes(QuotaKind::kProduce, "bob", "app", 20000, 0) > 0);
  // A client-id per request must not matter for correctness however many there are.
  for (int i = 0; i < 12000; ++i) m.record_bytes(QuotaKind::kProduce, "carol", "c" + std::to_string(i), 1, 0);
  CHECK(m.record_bytes(QuotaKind::kProduce, "bob", "app", 1, 0) > 0);
  m.update({});
  CHECK(m.record_bytes(QuotaKind::kProduce, "bob", "app", 1e9, 0) == 0);
}
