// The transaction coordinator's state machine on a hand-driven loop, an in-memory
// __transaction_state and a marker sender the test answers.
#include <catch2/catch.hpp>

#include "../coordinator/coordinator_test_util.h"
#include "coordinator/txn/transaction_coordinator.h"
#include "coordinator/txn/txn_records.h"

namespace kb::coordinator {
namespace {

using test::Answer;
using test::ManualLoop;
using test::MemoryGroupLog;

constexpr int32_t kPartitions = 50;

// Keeps every marker round for the test to answer.
class FakeMarkers final : public TxnMarkerSender {
 public:
  struct Call {
    Marker marker;
    std::function<void(Outcome)> done;
  };
  void send(Marker marker, std::function<void(Outcome)> done) override {
    calls.push_back({std::move(marker), std::move(done)});
  }
  // Answers the oldest unanswered round with `e` for every partition.
  void answer_all(ErrorCode e = ErrorCode::NONE) {
    REQUIRE(answered < calls.size());
    Outcome o;
    for (const auto& tp : calls[answered].marker.partitions) o[tp] = e;
    calls[answered++].done(o);
  }
  std::vector<Call> calls;
  size_t answered = 0;
};

struct Fixture {
  ManualLoop loop;
  MemoryGroupLog log{loop};
  FakeMarkers markers;
  int64_t next_pid = 1000;
  TxnConfig config = [] {
    TxnConfig c;
    c.abort_timed_out_interval_ms = 1000;
    c.remove_expired_interval_ms = 60000;
    c.id_expiration_ms = 3600000;
    return c;
  }();
  std::unique_ptr<TransactionCoordinator> tc = make();

  // A new coordinator on the same log and loop, as on another broker after a failover.
  void restart() {
    tc->stop([] {});
    loop.run();
    tc = make();
  }

  std::unique_ptr<TransactionCoordinator> make() {
    return std::make_unique<TransactionCoordinator>(config, loop, log, markers,
                                                    [this](std::function<void(Result<int64_t>)> done) {
                                                      done(next_pid++);
                                                    });
  }

  // Leads every partition of __transaction_state at `epoch`.
  void lead_all(int32_t epoch = 1) {
    for (int32_t p = 0; p < kPartitions; ++p) tc->became_leader(p, kPartitions, epoch);
    loop.run();
  }

  ProducerIdAndEpoch init(const std::string& id, int32_t timeout_ms = 60000, ProducerIdAndEpoch expected = {}) {
    auto r = init_result(id, timeout_ms, expected);
    REQUIRE(r.ok());
    return r.value();
  }
  Result<ProducerIdAndEpoch> init_result(const std::string& id, int32_t timeout_ms = 60000,
                                         ProducerIdAndEpoch expected = {}) {
    std::optional<Result<ProducerIdAndEpoch>> out;
    tc->init_producer_id(id, timeout_ms, expected, [&](Result<ProducerIdAndEpoch> r) { out = std::move(r); });
    loop.run();
    REQUIRE(out.has_value());
    return *out;
  }
  ErrorCode add(const std::string& id, ProducerIdAndEpoch p, std::vector<TopicPartition> tps) {
    Answer<ErrorCode> a;
    tc->add_partitions(id, p.producer_id, p.producer_epoch, std::move(tps), a.callback());
    loop.run();
    REQUIRE(a.ready());
    return *a;
  }
  ErrorCode end(const std::string& id, ProducerIdAndEpoch p, bool commit) {
    Answer<ErrorCode> a;
    tc->end_txn(id, p.producer_id, p.producer_epoch, commit, a.callback());
    loop.run();
    REQUIRE(a.ready());
    return *a;
  }
  DescribedTxn describe(const std::string& id) {
    Answer<std::vector<DescribedTxn>> a;
    tc->describe({id}, a.callback());
    loop.run();
    REQUIRE(a.ready());
    return a->front();
  }
  TxnCoordinatorSample sample() {
    Answer<TxnCoordinatorSample> a;
    tc->sample(a.callback());
    loop.run();
    REQUIRE(a.ready());
    return *a;
  }
  std::map<TopicPartition, ErrorCode> verify(const std::string& id, ProducerIdAndEpoch p,
                                             std::vector<TopicPartition> tps) {
    Answer<std::map<TopicPartition, ErrorCode>> a;
    tc->verify_partitions(id, p.producer_id, p.producer_epoch, std::move(tps), a.callback());
    loop.run();
    REQUIRE(a.ready());
    return *a;
  }
  ListedTxns list(std::vector<std::string> states = {}, std::vector<int64_t> pids = {}, int64_t duration = -1) {
    Answer<ListedTxns> a;
    tc->list(std::move(states), std::move(pids), duration, a.callback());
    loop.run();
    REQUIRE(a.ready());
    return *a;
  }
};

const TopicPartition kA{"orders", 0}, kB{"orders", 1}, kC{"audit", 3};

TEST_CASE("a new transactional id gets a producer id at epoch 0, then a bumped epoch", "[txn]") {
  Fixture f;
  f.lead_all();
  auto first = f.init("app-1");
  CHECK(first.producer_id == 1000);
  CHECK(first.producer_epoch == 0);
  auto second = f.init("app-1");
  CHECK(second.producer_id == 1000);
  CHECK(second.producer_epoch == 1);
  // Stored in __transaction_state under the id's partition, readable as Kafka's records.
  int32_t p = GroupCoordinator::partition_for("app-1", kPartitions);
  const auto& recs = f.log.records(p);
  REQUIRE(recs.size() == 2);
  CHECK(decode_txn_key(recs.back().key) == "app-1");
  auto v = decode_txn_value(*recs.back().value);
  REQUIRE(v);
  CHECK(v->producer_epoch == 1);
  CHECK(v->transaction_status == static_cast<int8_t>(TxnState::Empty));
}

TEST_CASE("a committed transaction writes markers to every partition, then completes", "[txn]") {
  Fixture f;
  f.lead_all(7);
  auto p = f.init("app");
  CHECK(f.add("app", p, {kA, kB}) == ErrorCode::NONE);
  CHECK(f.add("app", p, {kC}) == ErrorCode::NONE);
  CHECK(f.describe("app").state == TxnState::Ongoing);
  CHECK(f.describe("app").topics.at("orders") == std::vector<int32_t>{0, 1});
  CHECK(f.end("app", p, true) == ErrorCode::NONE);
  CHECK(f.describe("app").state == TxnState::PrepareCommit);
  REQUIRE(f.markers.calls.size() == 1);
  const auto& m = f.markers.calls[0].marker;
  CHECK(m.commit);
  CHECK(m.producer_id == p.producer_id);
  CHECK(m.producer_epoch == p.producer_epoch);
  CHECK(m.coordinator_epoch == 7);
  CHECK(m.partitions.size() == 3);
  // While the markers are out, the id is busy.
  CHECK(f.add("app", p, {kA}) == ErrorCode::CONCURRENT_TRANSACTIONS);
  CHECK(f.end("app", p, true) == ErrorCode::CONCURRENT_TRANSACTIONS);
  CHECK(f.end("app", p, false) == ErrorCode::INVALID_TXN_STATE);
  f.markers.answer_all();
  f.loop.run();
  CHECK(f.describe("app").state == TxnState::CompleteCommit);
  CHECK(f.describe("app").topics.empty());
  // A retried EndTxn whose answer was lost is answered the same.
  CHECK(f.end("app", p, true) == ErrorCode::NONE);
  CHECK(f.end("app", p, false) == ErrorCode::INVALID_TXN_STATE);
  CHECK(f.sample().commits == 1);
  // The next transaction starts from CompleteCommit.
  CHECK(f.add("app", p, {kA}) == ErrorCode::NONE);
  CHECK(f.end("app", p, false) == ErrorCode::NONE);
  REQUIRE(f.markers.calls.size() == 2);
  CHECK_FALSE(f.markers.calls[1].marker.commit);
  CHECK(f.markers.calls[1].marker.partitions == std::vector<TopicPartition>{kA});
}

TEST_CASE("markers that fail are retried after the backoff until written", "[txn]") {
  Fixture f;
  f.lead_all();
  auto p = f.init("app");
  REQUIRE(f.add("app", p, {kA, kB}) == ErrorCode::NONE);
  REQUIRE(f.end("app", p, true) == ErrorCode::NONE);
  // kA written, kB's leader moved.
  f.markers.calls[0].done({{kA, ErrorCode::NONE}, {kB, ErrorCode::NOT_LEADER_OR_FOLLOWER}});
  f.markers.answered = 1;
  f.loop.run();
  CHECK(f.markers.calls.size() == 1);
  f.loop.advance(f.config.marker_retry_backoff_ms);
  REQUIRE(f.markers.calls.size() == 2);
  CHECK(f.markers.calls[1].marker.partitions == std::vector<TopicPartition>{kB});
  CHECK(f.describe("app").state == TxnState::PrepareCommit);
  f.markers.answer_all();
  f.loop.run();
  CHECK(f.describe("app").state == TxnState::CompleteCommit);
}

TEST_CASE("verify-only answers whether each partition is in the ongoing transaction (KIP-890)", "[txn]") {
  Fixture f;
  f.lead_all();
  auto p = f.init("app");
  using Codes = std::map<TopicPartition, ErrorCode>;
  CHECK(f.verify("app", p, {kA}) == Codes{{kA, ErrorCode::INVALID_TXN_STATE}});  // nothing begun
  CHECK(f.add("app", p, {kA}) == ErrorCode::NONE);
  CHECK(f.verify("app", p, {kA, kB}) == Codes{{kA, ErrorCode::NONE}, {kB, ErrorCode::INVALID_TXN_STATE}});
  // A producer the id does not name, a fenced epoch, an id nobody has.
  CHECK(f.verify("app", {p.producer_id + 1, p.producer_epoch}, {kA}) ==
        Codes{{kA, ErrorCode::INVALID_PRODUCER_ID_MAPPING}});
  CHECK(f.verify("app", {p.producer_id, static_cast<int16_t>(p.producer_epoch - 1)}, {kA}) ==
        Codes{{kA, ErrorCode::PRODUCER_FENCED}});
  CHECK(f.verify("nobody", p, {kA}) == Codes{{kA, ErrorCode::INVALID_PRODUCER_ID_MAPPING}});
  // Being ended: no new batches yet (retriable); once ended, the partition is out.
  CHECK(f.end("app", p, false) == ErrorCode::NONE);
  CHECK(f.verify("app", p, {kA}) == Codes{{kA, ErrorCode::CONCURRENT_TRANSACTIONS}});
  f.markers.answer_all();
  f.loop.run();
  CHECK(f.verify("app", p, {kA}) == Codes{{kA, ErrorCode::INVALID_TXN_STATE}});
}

TEST_CASE("a new producer with the same id fences the old one", "[txn]") {
  Fixture f;
  f.lead_all();
  auto old = f.init("app");
  REQUIRE(f.add("app", old, {kA}) == ErrorCode::NONE);
  // The new instance: the open transaction is aborted at epoch + 1; it must retry.
  CHECK(f.init_result("app").code() == ErrorCode::CONCURRENT_TRANSACTIONS);
  REQUIRE(f.markers.calls.size() == 1);
  CHECK_FALSE(f.markers.calls[0].marker.commit);
  CHECK(f.markers.calls[0].marker.producer_epoch == old.producer_epoch + 1);
  CHECK(f.init_result("app").code() == ErrorCode::CONCURRENT_TRANSACTIONS);  // markers still out
  f.markers.answer_all();
  f.loop.run();
  CHECK(f.describe("app").state == TxnState::CompleteAbort);
  auto fresh = f.init("app");
  CHECK(fresh.producer_id == old.producer_id);
  CHECK(fresh.producer_epoch == old.producer_epoch + 2);
  // The zombie can neither add partitions nor end a transaction.
  CHECK(f.add("app", old, {kB}) == ErrorCode::PRODUCER_FENCED);
  CHECK(f.end("app", old, true) == ErrorCode::PRODUCER_FENCED);
  CHECK(f.add("app", ProducerIdAndEpoch{old.producer_id + 1, fresh.producer_epoch}, {kB}) ==
        ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  CHECK(f.add("app", fresh, {kB}) == ErrorCode::NONE);
}

TEST_CASE("a transaction older than its timeout is aborted and its producer fenced", "[txn]") {
  Fixture f;
  f.lead_all();
  auto p = f.init("slow", 3000);
  REQUIRE(f.add("slow", p, {kA}) == ErrorCode::NONE);
  f.loop.advance(2000);
  CHECK(f.markers.calls.empty());
  f.loop.advance(2000);
  REQUIRE(f.markers.calls.size() == 1);
  CHECK_FALSE(f.markers.calls[0].marker.commit);
  CHECK(f.markers.calls[0].marker.producer_epoch == p.producer_epoch + 1);
  f.markers.answer_all();
  f.loop.run();
  CHECK(f.describe("slow").state == TxnState::CompleteAbort);
  CHECK(f.end("slow", p, true) == ErrorCode::PRODUCER_FENCED);
  CHECK(f.sample().aborts == 1);
}

TEST_CASE("a new coordinator completes the transactions it finds prepared", "[txn]") {
  Fixture f;
  f.lead_all(1);
  auto p = f.init("app");
  REQUIRE(f.add("app", p, {kA, kC}) == ErrorCode::NONE);
  REQUIRE(f.end("app", p, true) == ErrorCode::NONE);
  REQUIRE(f.markers.calls.size() == 1);
  // This broker loses the partition before the markers are answered.
  int32_t part = GroupCoordinator::partition_for("app", kPartitions);
  f.tc->resigned(part);
  f.loop.run();
  f.markers.answer_all();
  f.loop.run();
  CHECK(f.describe("app").error == ErrorCode::NOT_COORDINATOR);
  // Another coordinator (same log, as a new leader has it) loads and finishes the commit.
  f.restart();
  f.tc->became_leader(part, kPartitions, 2);
  CHECK(f.describe("app").error == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  f.loop.run();
  REQUIRE(f.markers.calls.size() == 2);
  CHECK(f.markers.calls[1].marker.commit);
  CHECK(f.markers.calls[1].marker.coordinator_epoch == 2);
  CHECK(f.markers.calls[1].marker.partitions.size() == 2);
  f.markers.answer_all();
  f.loop.run();
  auto d = f.describe("app");
  CHECK(d.state == TxnState::CompleteCommit);
  CHECK(d.producer_id == p.producer_id);
  // The producer carries on with its id and epoch.
  CHECK(f.add("app", p, {kB}) == ErrorCode::NONE);
}

TEST_CASE("records of __transaction_state that cannot be read are skipped; the partition still loads", "[txn]") {
  Fixture f;
  f.lead_all();
  auto p = f.init("app");
  REQUIRE(f.add("app", p, {kA}) == ErrorCode::NONE);
  const int32_t part = GroupCoordinator::partition_for("app", kPartitions);
  // A key of no known version, and a known key whose value does not decode.
  f.log.write_raw(part, "junk", std::string("junk"));
  f.log.write_raw(part, encode_txn_key("other"), std::string("\x00\x09junk", 6));
  f.restart();
  f.lead_all(2);
  CHECK(f.tc->skipped_records() == 2);
  // The readable state loaded: the transaction is still open with its partition.
  auto d = f.describe("app");
  CHECK(d.error == ErrorCode::NONE);
  CHECK(d.state == TxnState::Ongoing);
  CHECK(d.producer_id == p.producer_id);
}

TEST_CASE("requests the coordinator refuses", "[txn]") {
  Fixture f;
  CHECK(f.init_result("app").code() == ErrorCode::NOT_COORDINATOR);
  f.lead_all();
  CHECK(f.init_result("app", 0).code() == ErrorCode::INVALID_TRANSACTION_TIMEOUT);
  CHECK(f.init_result("app", f.config.max_timeout_ms + 1).code() == ErrorCode::INVALID_TRANSACTION_TIMEOUT);
  CHECK(f.add("nobody", {1, 0}, {kA}) == ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  auto p = f.init("app");
  CHECK(f.end("app", p, true) == ErrorCode::INVALID_TXN_STATE);  // nothing open
  CHECK(f.describe("nobody").error == ErrorCode::TRANSACTIONAL_ID_NOT_FOUND);
  // A write that fails leaves the state as it was.
  f.log.fail_appends_with(ErrorCode::NOT_COORDINATOR);
  CHECK(f.add("app", p, {kA}) == ErrorCode::NOT_COORDINATOR);
  f.log.fail_appends_with(ErrorCode::NONE);
  CHECK(f.describe("app").state == TxnState::Empty);
  // KIP-360: a producer naming an id and epoch that are not the current ones is fenced,
  // unless they are the ones just bumped from (its retried request).
  auto bumped = f.init("app", 60000, p);
  CHECK(bumped.producer_epoch == p.producer_epoch + 1);
  auto again = f.init("app", 60000, p);
  CHECK(again.producer_epoch == bumped.producer_epoch);
  CHECK(f.init_result("app", 60000, {p.producer_id, 77}).code() == ErrorCode::PRODUCER_FENCED);
}

TEST_CASE("ListTransactions filters by state, producer id and duration", "[txn]") {
  Fixture f;
  f.lead_all();
  auto a = f.init("a");
  auto b = f.init("b");
  REQUIRE(f.add("a", a, {kA}) == ErrorCode::NONE);
  f.loop.advance(5000);
  CHECK(f.list().transactions.size() == 2);
  auto ongoing = f.list({"Ongoing", "Bogus"});
  REQUIRE(ongoing.transactions.size() == 1);
  CHECK(ongoing.transactions[0].transactional_id == "a");
  CHECK(ongoing.unknown_state_filters == std::vector<std::string>{"Bogus"});
  CHECK(f.list({}, {b.producer_id}).transactions.at(0).transactional_id == "b");
  CHECK(f.list({}, {}, 4000).transactions.size() == 1);
  CHECK(f.list({}, {}, 6000).transactions.empty());
}

TEST_CASE("idle transactional ids expire after transactional.id.expiration.ms", "[txn]") {
  Fixture f;
  f.config.id_expiration_ms = 120000;
  f.tc = f.make();
  f.lead_all();
  auto p = f.init("idle");
  auto busy = f.init("busy", 600000);
  REQUIRE(f.add("busy", busy, {kA}) == ErrorCode::NONE);
  f.loop.advance(180000);
  CHECK(f.describe("idle").error == ErrorCode::TRANSACTIONAL_ID_NOT_FOUND);
  CHECK(f.describe("busy").state == TxnState::Ongoing);
  // Forgotten in the log too: a new coordinator does not bring it back.
  int32_t part = GroupCoordinator::partition_for("idle", kPartitions);
  CHECK_FALSE(f.log.records(part).back().value.has_value());
  f.restart();
  f.lead_all(2);
  CHECK(f.describe("idle").error == ErrorCode::TRANSACTIONAL_ID_NOT_FOUND);
  CHECK(f.init("idle").producer_id != p.producer_id);
}

}  // namespace
}  // namespace kb::coordinator

namespace kb::coordinator {
namespace {

TEST_CASE("an exhausted epoch gives the transactional id a new producer id", "[txn]") {
  Fixture f;
  // A stored id at the last epoch Kafka bumps to.
  int32_t part = GroupCoordinator::partition_for("old", kPartitions);
  rec::TransactionLogValue v;
  v.producer_id = 42;
  v.producer_epoch = 32766;
  v.transaction_timeout_ms = 60000;
  v.transaction_status = static_cast<int8_t>(TxnState::CompleteCommit);
  v.transaction_partitions = std::vector<rec::TransactionLogValue::PartitionsSchema>{};
  f.log.append(part, {{encode_txn_key("old"), encode_txn_value(v)}}, std::nullopt, [](Result<int64_t>) {});
  f.loop.run();
  f.lead_all();
  auto d = f.describe("old");
  CHECK(d.producer_id == 42);
  CHECK(d.producer_epoch == 32766);
  auto p = f.init("old");
  CHECK(p.producer_id == 1000);
  CHECK(p.producer_epoch == 0);
  // The producer that asked before the bump gets the same answer again (KIP-360 retry).
  auto again = f.init("old", 60000, ProducerIdAndEpoch{42, 32766});
  CHECK(again.producer_id == 1000);
  CHECK(again.producer_epoch == 0);
}

}  // namespace
}  // namespace kb::coordinator
