// The Schema Registry's log over the wire, against an in-process broker: BrokerSchemaLog's
// append, read and end_offset, and the Produce handler's conditional append
// (expected_end_offset) they rely on: an append at the wrong end writes nothing and answers
// the end the leader has.
#include "server/broker_schema_log.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "running_broker.h"
#include "runtime/loop_thread.h"
#include "server/broker.h"

using namespace kb;
using namespace kb::server;
using namespace std::chrono_literals;
using registry::AppendResult;

namespace {

struct LogOnBroker : test::RunningBroker {
  runtime::LoopThread timers{"kb-test-timers"};
  std::unique_ptr<BrokerSchemaLog> log;

  LogOnBroker() : RunningBroker("/tmp/kb-schemalog-XXXXXX") {
    REQUIRE(broker->auto_create_topics({"sl"}).at(0).error == ErrorCode::NONE);
    // Created through the controller, off this thread (as in a cluster): wait until it leads here.
    std::shared_ptr<replication::Partition> led;
    for (int i = 0; i < 1000; ++i) {
      led = broker->replicas().get(TopicPartition{"sl", 0});
      if (led && led->is_leader()) break;
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE((led && led->is_leader()));
    BrokerSchemaLogOptions o;
    o.topic = "sl";
    o.append_timeout_ms = 5000;
    o.fetch_max_wait_ms = 50;
    log = std::make_unique<BrokerSchemaLog>(
        o,
        [this]() -> std::optional<SchemaLogLeader> {
          const controller::PartitionInfo* p = broker->image()->partition("sl", 0);
          if (!p || p->leader < 0) return std::nullopt;
          return SchemaLogLeader{p->leader, address(), p->leader_epoch};
        },
        timers);
  }
  ~LogOnBroker() { log->stop(); }

  AppendResult append(std::vector<registry::LogRecord> records, int64_t expected) {
    std::promise<AppendResult> p;
    log->append(std::move(records), expected, [&](AppendResult r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    return f.get();
  }
  registry::ReadResult read(int64_t offset) {
    std::promise<registry::ReadResult> p;
    log->read(offset, [&](registry::ReadResult r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    return f.get();
  }
  std::optional<int64_t> end() {
    std::promise<std::optional<int64_t>> p;
    log->end_offset([&](std::optional<int64_t> e) { p.set_value(e); });
    auto f = p.get_future();
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    return f.get();
  }
};

}  // namespace

TEST_CASE("BrokerSchemaLog appends only at the expected end and reads back what it wrote") {
  LogOnBroker b;
  REQUIRE(b.end() == std::optional<int64_t>(0));

  auto first = b.append({{"k1", "v1"}, {"k2", std::nullopt}}, 0);
  REQUIRE(first.status == AppendResult::Status::kOk);
  CHECK(first.base_offset == 0);
  CHECK(b.end() == std::optional<int64_t>(2));

  // A writer that planned against an older end loses: nothing is written, the end is told.
  auto stale = b.append({{"k3", "v3"}}, 0);
  REQUIRE(stale.status == AppendResult::Status::kConflict);
  CHECK(stale.end_offset == 2);
  CHECK(b.end() == std::optional<int64_t>(2));

  auto second = b.append({{"k3", "v3"}}, 2);
  REQUIRE(second.status == AppendResult::Status::kOk);
  CHECK(second.base_offset == 2);

  auto all = b.read(0);
  REQUIRE(all.ok);
  REQUIRE(all.records.size() == 3);
  CHECK(all.records[0].offset == 0);
  CHECK(all.records[0].record == registry::LogRecord{"k1", "v1"});
  CHECK(all.records[1].record == registry::LogRecord{"k2", std::nullopt});
  CHECK(all.records[2].record == registry::LogRecord{"k3", "v3"});
  CHECK(all.next_offset == 3);
  CHECK(all.end_offset == 3);

  // From the middle of a batch: only what lies at or after the offset asked for.
  auto tail = b.read(1);
  REQUIRE(tail.ok);
  REQUIRE(tail.records.size() == 2);
  CHECK(tail.records[0].offset == 1);

  // At the end: the long poll ends empty, positioned at the end.
  auto at_end = b.read(3);
  REQUIRE(at_end.ok);
  CHECK(at_end.records.empty());
  CHECK(at_end.next_offset == 3);
}

TEST_CASE("BrokerSchemaLog: of two appends planned at one end, exactly one lands") {
  LogOnBroker b;
  std::promise<AppendResult> p1, p2;
  b.log->append({{"a", "1"}}, 0, [&](AppendResult r) { p1.set_value(std::move(r)); });
  b.log->append({{"b", "2"}}, 0, [&](AppendResult r) { p2.set_value(std::move(r)); });
  auto f1 = p1.get_future(), f2 = p2.get_future();
  REQUIRE(f1.wait_for(20s) == std::future_status::ready);
  REQUIRE(f2.wait_for(20s) == std::future_status::ready);
  auto r1 = f1.get(), r2 = f2.get();
  const int ok = (r1.status == AppendResult::Status::kOk) + (r2.status == AppendResult::Status::kOk);
  const int lost =
      (r1.status == AppendResult::Status::kConflict) + (r2.status == AppendResult::Status::kConflict);
  CHECK(ok == 1);
  CHECK(lost == 1);
  CHECK(b.end() == std::optional<int64_t>(1));
}
