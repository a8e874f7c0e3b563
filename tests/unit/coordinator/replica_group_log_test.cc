// ReplicaGroupLog over a real __consumer_offsets replica: the transactional batches of
// TxnOffsetCommit (written without sequence numbers, as Kafka's coordinator appends) take part
// in the partition's transactions, and replay hands their producer and markers to the
// coordinator.
#include "coordinator/group/replica_group_log.h"

#include <catch2/catch.hpp>

#include "replication/replica_manager.h"
#include "storage/log_manager.h"
#include "tests/unit/coordinator/coordinator_test_util.h"
#include "tests/unit/storage/storage_test_util.h"

using namespace kb;
using namespace kb::coordinator;
using namespace kb::coordinator::test;

namespace {

struct Replayed {
  int64_t offset;
  std::string key;
  int64_t producer;
  TxnMarker marker;
};

struct LoneReplica {
  storage::test::TempDir dir;
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<replication::ReplicaManager> replicas;
  std::shared_ptr<replication::Partition> partition;
  ManualLoop loop;
  std::unique_ptr<ReplicaGroupLog> log;

  LoneReplica() {
    storage::LogManagerOptions o;
    o.log_dirs = {dir.path};
    auto opened = storage::LogManager::open(o);
    REQUIRE(opened.ok());
    logs = std::move(opened.value());
    replicas = std::make_unique<replication::ReplicaManager>(*logs, 1);
    auto p = replicas->become_leader(TopicPartition{ReplicaGroupLog::kTopic, 0}, Uuid{},
                                     replication::PartitionState{1, 1, 0, {1}, {1}}, storage::LogConfig{}, 0);
    REQUIRE(p.ok());
    partition = p.value();
    log = std::make_unique<ReplicaGroupLog>(*replicas, loop);
  }
  ~LoneReplica() { logs->shutdown(); }

  Result<int64_t> append(std::vector<GroupRecord> records, std::optional<TxnProducer> txn) {
    std::optional<Result<int64_t>> out;
    log->append(0, records, txn, [&](Result<int64_t> r) { out = std::move(r); });
    loop.run();
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  std::vector<Replayed> replay() {
    std::vector<Replayed> out;
    REQUIRE(
        log->replay(0,
                    [&](const StoredGroupRecord& r) {
                      out.push_back({r.offset, std::string(r.key.value_or("")), r.txn_producer_id, r.marker});
                    })
            .ok());
    return out;
  }
};

}  // namespace

TEST_CASE("a transactional offset commit batch holds the last stable offset until its marker") {
  LoneReplica r;
  REQUIRE(r.append({{"plain", "v"}}, std::nullopt).ok());
  auto first = r.append({{"a", "v"}, {"b", "v"}}, TxnProducer{42, 3});
  REQUIRE(first.ok());
  CHECK(first.value() == 1);
  CHECK(r.partition->ongoing_txn_count() == 1);
  CHECK(r.partition->high_watermark().value() == 3);
  CHECK(r.partition->last_stable_offset().value() == 1);
  // A second write of the same transaction: no sequence, still accepted.
  REQUIRE(r.append({{"c", "v"}}, TxnProducer{42, 3}).ok());
  // An older epoch of the producer is fenced.
  CHECK(r.append({{"d", "v"}}, TxnProducer{42, 2}).code() == ErrorCode::INVALID_PRODUCER_EPOCH);

  auto marker = r.partition->append_txn_marker(42, 3, 0, true, 0);
  REQUIRE(marker.ok());
  CHECK(r.partition->ongoing_txn_count() == 0);
  CHECK(r.partition->last_stable_offset() == r.partition->high_watermark());
}

TEST_CASE("replay hands over transactional records with their producer, and the markers") {
  LoneReplica r;
  REQUIRE(r.append({{"plain", "v"}}, std::nullopt).ok());
  REQUIRE(r.append({{"committed", "v"}}, TxnProducer{42, 0}).ok());
  REQUIRE(r.append({{"aborted", "v"}}, TxnProducer{43, 0}).ok());
  REQUIRE(r.partition->append_txn_marker(42, 0, 0, true, 0).ok());
  REQUIRE(r.partition->append_txn_marker(43, 0, 0, false, 0).ok());
  auto seen = r.replay();
  REQUIRE(seen.size() == 5);
  CHECK(seen[0].key == "plain");
  CHECK(seen[0].producer == -1);
  CHECK(seen[0].marker == TxnMarker::None);
  CHECK(seen[1].producer == 42);
  CHECK(seen[2].producer == 43);
  CHECK(seen[2].marker == TxnMarker::None);
  CHECK(seen[3].producer == 42);
  CHECK(seen[3].marker == TxnMarker::Commit);
  CHECK(seen[4].producer == 43);
  CHECK(seen[4].marker == TxnMarker::Abort);
  CHECK(seen[4].offset == 4);
}
