// ReplicaGroupLog over a real __consumer_offsets replica: the transactional batches of
// TxnOffsetCommit (written without sequence numbers, as Kafka's coordinator appends) take part
// in the partition's transactions, and replay hands their producer and markers to the
// coordinator.
#include "coordinator/group/replica_group_log.h"

#include <catch2/catch.hpp>

#include "tests/unit/coordinator/lone_replica.h"

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

struct LoneReplica : LoneOffsetsReplica {
  std::vector<Replayed> replay() {
    std::vector<Replayed> out;
    SkippedRecords skipped;
    REQUIRE(
        log->replay(
               0,
               [&](const StoredGroupRecord& r) {
                 out.push_back({r.offset, std::string(r.key.value_or("")), r.txn_producer_id, r.marker});
               },
               skipped)
            .ok());
    CHECK(skipped.count == 0);
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
