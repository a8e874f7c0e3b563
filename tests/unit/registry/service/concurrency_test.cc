// Several registries (brokers) writing to one _schemas log at once, interleaved
// deterministically: ids and versions stay unique, every view ends up the same, the writer
// reads its own writes; failures of the log become Confluent's 50001/50002.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "registry_test_util.h"

using namespace kb::registry;
using namespace kb::registry::test;

namespace {

using Slot = std::shared_ptr<std::optional<HttpResponse>>;

// Three brokers' registries on one deferred log.
struct Cluster {
  MemorySchemaLog log{MemorySchemaLog::Delivery::kDeferred};
  std::vector<std::unique_ptr<Node>> nodes;
  explicit Cluster(int n, RegistryOptions options = {}) {
    for (int i = 0; i < n; ++i) nodes.push_back(std::make_unique<Node>(log, options));
    log.run_all_in_order();
  }
  Rest& rest(size_t i) { return nodes[i % nodes.size()]->rest; }
};

std::string numbered_schema(int i) { return schema_body(avro_record("r" + std::to_string(i), {"f"})); }

}  // namespace

TEST_CASE("200 concurrent registrations through 3 registries: distinct ids, no duplicate versions",
          "[registry][concurrency]") {
  const uint32_t seed = GENERATE(1u, 2u, 3u);
  Cluster c(3);
  // Different records under shared subjects race for versions too; NONE lets them all in.
  auto none = send(c.rest(0), "PUT", "/config", R"({"compatibility":"NONE"})");
  c.log.run_all(seed);
  REQUIRE(none->has_value());

  std::vector<Slot> slots;
  for (int i = 0; i < 200; ++i) {
    slots.push_back(send(c.rest(i), "POST", "/subjects/subject-" + std::to_string(i % 7) + "/versions",
                         numbered_schema(i)));
  }
  c.log.run_all(seed);

  std::set<int> ids;
  std::map<std::string, std::set<int>> versions;
  for (int i = 0; i < 200; ++i) {
    REQUIRE(slots[i]->has_value());
    const auto& r = **slots[i];
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto j = body_of(r);
    CHECK(ids.insert(j["id"].get<int>()).second);
    CHECK(versions["subject-" + std::to_string(i % 7)].insert(j["version"].get<int>()).second);
  }
  CHECK(ids.size() == 200);
  CHECK(*ids.rbegin() == 200);  // max id + 1 each time: 1..200
  for (const auto& [subject, vs] : versions)
    CHECK(*vs.rbegin() == static_cast<int>(vs.size()));  // 1..n, no gap

  // Races happened and were retried.
  int64_t conflicts = 0;
  for (auto& n : c.nodes) conflicts += n->registry.stats().write_conflicts;
  CHECK(conflicts > 0);

  // Every broker answers the same.
  for (int s = 0; s < 7; ++s) {
    const std::string target = "/subjects/subject-" + std::to_string(s) + "/versions";
    auto first = call(c.rest(0), "GET", target);
    for (size_t n = 1; n < 3; ++n) CHECK(call(c.rest(n), "GET", target).body == first.body);
  }
  for (int id : {1, 100, 200}) {
    auto first = call(c.rest(0), "GET", "/schemas/ids/" + std::to_string(id) + "/versions");
    for (size_t n = 1; n < 3; ++n)
      CHECK(call(c.rest(n), "GET", "/schemas/ids/" + std::to_string(id) + "/versions").body == first.body);
  }
}

TEST_CASE("the same schema through two registries at once: one id, one version", "[registry][concurrency]") {
  const uint32_t seed = GENERATE(7u, 8u, 9u, 10u);
  Cluster c(2);
  auto a = send(c.rest(0), "POST", "/subjects/s/versions", numbered_schema(1));
  auto b = send(c.rest(1), "POST", "/subjects/s/versions", numbered_schema(1));
  auto other = send(c.rest(1), "POST", "/subjects/t/versions", numbered_schema(1));
  c.log.run_all(seed);
  REQUIRE(a->has_value());
  REQUIRE(b->has_value());
  REQUIRE(other->has_value());
  CHECK(body_of(**a) == body_of(**b));
  CHECK(body_of(**a)["version"] == 1);
  CHECK(body_of(**other)["id"] == body_of(**a)["id"]);
  CHECK(c.log.end_offset() == 2);  // one record per subject
}

TEST_CASE("the writer reads its own write before other registries see it", "[registry][concurrency]") {
  Cluster c(2);
  auto reg = send(c.rest(0), "POST", "/subjects/s/versions", numbered_schema(1));
  // Deliver only what the writer needs: its append, then its own read of the new record.
  while (!reg->has_value()) c.log.run(0);
  CHECK((**reg).status == 200);
  CHECK(call(c.rest(0), "GET", "/subjects/s/versions").body == "[1]");
  // The other registry answers from its view, which has not read the record yet...
  CHECK(error_code(call(c.rest(1), "GET", "/subjects/s/versions")) == 40401);
  // ...and has it once its read is delivered.
  c.log.run_all_in_order();
  CHECK(call(c.rest(1), "GET", "/subjects/s/versions").body == "[1]");
}

TEST_CASE("a registry answers only once its view caught up with the log", "[registry][concurrency]") {
  MemorySchemaLog log(MemorySchemaLog::Delivery::kDeferred);
  // Written earlier by a Confluent registry.
  log.put(LogRecord{
      R"({"keytype":"SCHEMA","subject":"old","version":1,"magic":1})",
      std::string(R"({"subject":"old","version":1,"id":7,"schema":"\"string\"","deleted":false})")});
  log.put(LogRecord{R"({"keytype":"NOOP","magic":0})", std::string("")});
  Node node(log);
  auto early = send(node.rest, "GET", "/subjects");
  CHECK_FALSE(early->has_value());
  CHECK_FALSE(node.registry.ready());
  log.run_all_in_order();
  REQUIRE(early->has_value());
  CHECK((**early).body == R"(["old"])");
  // Ids continue after the largest one found.
  auto reg = send(node.rest, "POST", "/subjects/new/versions", numbered_schema(1));
  log.run_all_in_order();
  REQUIRE(reg->has_value());
  CHECK(body_of(**reg)["id"] == 8);
}

TEST_CASE("a write that keeps losing the race answers 50001", "[registry][concurrency]") {
  RegistryOptions options;
  options.max_write_attempts = 2;
  Cluster c(1, options);
  auto reg = send(c.rest(0), "POST", "/subjects/s/versions", numbered_schema(1));
  for (int round = 0; round < 2; ++round) {
    c.log.put(LogRecord{encode_key(RecordKey::noop()), std::string("")});  // another writer got there first
    c.log.run(0);                                                          // our append arrives: conflict
    if (round == 0) c.log.run(0);  // our view reads the other record; the write is planned again
  }
  c.log.run_all_in_order();
  REQUIRE(reg->has_value());
  CHECK((**reg).status == 500);
  CHECK(error_code(**reg) == 50001);
  CHECK(c.nodes[0]->registry.stats().write_conflicts == 2);
  // The next write goes through.
  auto next = send(c.rest(0), "POST", "/subjects/s/versions", numbered_schema(1));
  c.log.run_all_in_order();
  REQUIRE(next->has_value());
  CHECK((**next).status == 200);
}

TEST_CASE("append failures are 50001, timeouts 50002", "[registry][concurrency]") {
  MemorySchemaLog log;
  Node node(log);
  log.fail_next_appends(1, AppendResult::Status::kError);
  auto failed = call(node.rest, "POST", "/subjects/s/versions", numbered_schema(1));
  CHECK(failed.status == 500);
  CHECK(error_code(failed) == 50001);
  log.fail_next_appends(1, AppendResult::Status::kTimeout);
  auto timed_out = call(node.rest, "POST", "/subjects/s/versions", numbered_schema(1));
  CHECK(error_code(timed_out) == 50002);
  // The timed-out record did land; registering again finds it rather than writing it twice.
  auto again = call(node.rest, "POST", "/subjects/s/versions", numbered_schema(1));
  CHECK(again.status == 200);
  CHECK(body_of(again)["version"] == 1);
  CHECK(log.end_offset() == 1);
}

TEST_CASE("operations still waiting after timeout_ms answer 50002 once", "[registry][concurrency]") {
  int64_t clock = 0;
  RegistryOptions options;
  options.timeout_ms = 1000;
  options.now_ms = [&clock] { return clock; };
  MemorySchemaLog log(MemorySchemaLog::Delivery::kDeferred);
  Node node(log, options);
  log.run_all_in_order();
  auto first = send(node.rest, "POST", "/subjects/s/versions", numbered_schema(1));
  auto queued = send(node.rest, "POST", "/subjects/t/versions", numbered_schema(2));
  clock = 999;
  node.registry.tick();
  CHECK_FALSE(first->has_value());
  clock = 1000;
  node.registry.tick();
  REQUIRE(first->has_value());
  REQUIRE(queued->has_value());
  CHECK(error_code(**first) == 50002);
  CHECK(error_code(**queued) == 50002);
  // The append in flight still lands; nobody is answered twice (send() asserts it).
  log.run_all_in_order();
  CHECK(call(node.rest, "GET", "/subjects").body == R"(["s"])");
}
