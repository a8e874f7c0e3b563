// Transactions on a partition replica: open transactions hold the last stable offset back
// until their marker is on the ISR, ABORT markers fill the aborted-transaction index on leader
// and followers, producers inside a transaction and stale markers are refused, and the state
// survives truncation, a reopen (log scan) and a snapshot.
#include <catch2/catch.hpp>

#include "replica_test_util.h"
#include "replication/producer_state.h"

using namespace kb;
using namespace kb::replication;
using namespace kb::replication::test;

namespace {

PartitionState led_by(int32_t leader, int32_t epoch, std::vector<int32_t> isr = {1, 2}) {
  return PartitionState{leader, epoch, 0, {1, 2}, std::move(isr)};
}

PartitionState alone(int32_t epoch = 1) { return PartitionState{1, epoch, 0, {1}, {1}}; }

std::vector<uint8_t> producer_batch(int64_t pid, int16_t epoch, int32_t seq, int n, bool transactional) {
  RecordBatchBuilder b;
  b.producer(pid, epoch, seq).transactional(transactional);
  for (int i = 0; i < n; ++i) b.add("k", "v" + std::to_string(seq + i), 1000 + i);
  return b.build();
}

// Appends as leader; returns the first offset (or -1) and the error.
std::pair<int64_t, ErrorCode> send(Partition& p, int64_t pid, int16_t epoch, int32_t seq, int n,
                                   bool transactional = true) {
  auto bytes = producer_batch(pid, epoch, seq, n, transactional);
  auto r = p.append_as_leader(bytes);
  return {r.ok() ? r->first_offset.value() : -1, r.code()};
}

int64_t end_txn(Partition& p, int64_t pid, int16_t epoch, bool commit, int32_t coordinator_epoch = 0) {
  auto r = p.append_txn_marker(pid, epoch, coordinator_epoch, commit, 5000);
  REQUIRE(r.ok());
  return r->first_offset.value();
}


}  // namespace

TEST_CASE("an open transaction holds the last stable offset at its first offset until its marker") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  produce(*p, 2);
  CHECK(p->last_stable_offset() == Offset(2));
  CHECK(send(*p, 7, 0, 0, 3).first == 2);  // offsets 2..4
  produce(*p, 1);                          // 5: another producer's record waits too
  CHECK(p->high_watermark() == Offset(6));
  CHECK(p->last_stable_offset() == Offset(2));
  CHECK(p->ongoing_txn_count() == 1);
  CHECK(p->producer_state(7)->current_txn_first_offset == 2);
  CHECK(end_txn(*p, 7, 0, true) == 6);
  CHECK(p->last_stable_offset() == Offset(7));
  CHECK(p->ongoing_txn_count() == 0);
  CHECK(p->log().collect_aborted_txns(Offset(0), Offset(7)).empty());  // a commit is not indexed
}

TEST_CASE("an ABORT marker puts the transaction in the aborted-transaction index") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  CHECK(send(*p, 7, 0, 0, 2).first == 0);  // 0..1
  CHECK(send(*p, 8, 0, 0, 1).first == 2);  // 2, another transaction
  CHECK(end_txn(*p, 7, 0, false) == 3);
  // 8 is still open: the last stable offset the entry records is its first offset.
  CHECK(p->log().collect_aborted_txns(Offset(0), Offset(4)) == std::vector<storage::AbortedTxn>{{7, 0, 3, 2}});
  CHECK(p->last_stable_offset() == Offset(2));
  CHECK(end_txn(*p, 8, 0, false) == 4);
  CHECK(p->log().collect_aborted_txns(Offset(3), Offset(5)) == std::vector<storage::AbortedTxn>{{7, 0, 3, 2}, {8, 2, 4, 5}});
  // A marker of a producer with nothing open here writes a marker and indexes nothing.
  CHECK(end_txn(*p, 9, 0, false) == 5);
  CHECK(p->log().collect_aborted_txns(Offset(0), Offset(6)).size() == 2);
  CHECK(p->last_stable_offset() == Offset(6));
}

TEST_CASE("a plain batch inside a transaction and stale markers are refused") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  CHECK(send(*p, 7, 0, 0, 2).second == ErrorCode::NONE);
  CHECK(send(*p, 7, 0, 2, 1, false).second == ErrorCode::INVALID_TXN_STATE);
  end_txn(*p, 7, 0, true, 3);
  CHECK(send(*p, 7, 0, 2, 1, false).second == ErrorCode::NONE);  // no transaction any more
  CHECK(p->append_txn_marker(7, 0, 2, true, 0).code() == ErrorCode::TRANSACTION_COORDINATOR_FENCED);
  CHECK(send(*p, 7, 1, 0, 1).second == ErrorCode::NONE);  // a new epoch
  CHECK(p->append_txn_marker(7, 0, 3, false, 0).code() == ErrorCode::INVALID_PRODUCER_EPOCH);
  CHECK(p->append_txn_marker(7, 1, 3, false, 0).ok());
  CHECK(p->producer_state(7)->coordinator_epoch == 3);
}

TEST_CASE("the last stable offset waits for the marker to reach the ISR, and followers index aborts") {
  TempDir dir;
  auto leader = replica(dir.path / "1", 1, led_by(1, 1));
  auto follower = replica(dir.path / "2", 2, led_by(1, 1));
  CHECK(send(*leader, 7, 0, 0, 2).first == 0);
  catch_up(*leader, *follower);
  CHECK(follower->ongoing_txn_count() == 1);
  CHECK(end_txn(*leader, 7, 0, false) == 2);
  // The high watermark is below the marker: the transaction is not stable yet.
  CHECK(leader->high_watermark() == Offset(2));
  CHECK(leader->last_stable_offset() == Offset(0));
  catch_up(*leader, *follower);
  CHECK(leader->high_watermark() == Offset(3));
  CHECK(leader->last_stable_offset() == Offset(3));
  CHECK(follower->ongoing_txn_count() == 0);
  CHECK(follower->log().collect_aborted_txns(Offset(0), Offset(3)) ==
        leader->log().collect_aborted_txns(Offset(0), Offset(3)));
  CHECK(follower->log().collect_aborted_txns(Offset(0), Offset(3)).size() == 1);

  // A new open transaction replicated, then the follower leads: it holds the LSO back.
  CHECK(send(*leader, 7, 0, 2, 1).first == 3);
  catch_up(*leader, *follower);
  REQUIRE(follower->become_leader(led_by(2, 2, {2}), 0));
  CHECK(follower->last_stable_offset() == Offset(3));
  CHECK(end_txn(*follower, 7, 0, true) == 4);
  CHECK(follower->last_stable_offset() == Offset(5));
}

TEST_CASE("truncating a marker away reopens its transaction and drops its index entry") {
  TempDir dir;
  auto leader = replica(dir.path / "1", 1, led_by(1, 1));
  auto follower = replica(dir.path / "2", 2, led_by(1, 1));
  CHECK(send(*leader, 7, 0, 0, 2).first == 0);
  CHECK(end_txn(*leader, 7, 0, false) == 2);
  produce(*leader, 1);  // 3
  catch_up(*leader, *follower);
  REQUIRE(follower->become_follower(led_by(1, 2)));
  CHECK(follower->ongoing_txn_count() == 0);
  REQUIRE(follower->truncate_to(Offset(2)).ok());
  CHECK(follower->ongoing_txn_count() == 1);
  CHECK(follower->producer_state(7)->current_txn_first_offset == 0);
  CHECK(follower->log().collect_aborted_txns(Offset(0), Offset(4)).empty());
  CHECK(follower->last_stable_offset() == Offset(0));
  // Cut below the transaction's data: nothing open any more.
  REQUIRE(follower->truncate_to(Offset(0)).ok());
  CHECK(follower->ongoing_txn_count() == 0);
}

TEST_CASE("open transactions and the aborted-transaction index survive a reopen and a snapshot") {
  TempDir dir;
  const auto pdir = dir.path / "1";
  {
    auto p = replica(pdir, 1, alone());
    CHECK(send(*p, 7, 0, 0, 2).first == 0);
    CHECK(end_txn(*p, 7, 0, false, 4) == 2);
    CHECK(send(*p, 8, 0, 0, 1).first == 3);  // open
    produce(*p, 1);                          // 4
  }
  for (bool snapshot : {false, true}) {
    INFO("snapshot " << snapshot);
    auto p = replica(pdir, 1, alone());
    CHECK(p->ongoing_txn_count() == 1);
    CHECK(p->last_stable_offset() == Offset(3));
    CHECK(p->producer_state(7)->coordinator_epoch == 4);
    CHECK(p->producer_state(7)->batches.size() == 1);
    CHECK(p->log().collect_aborted_txns(Offset(0), Offset(5)) == std::vector<storage::AbortedTxn>{{7, 0, 2, 3}});
    if (!snapshot) REQUIRE(p->write_producer_snapshot().ok());
  }
  // A recovery (no clean shutdown) rebuilds a lost index entry from the log.
  std::filesystem::remove(pdir / "00000000000000000000.txnindex");
  for (const auto& e : std::filesystem::directory_iterator(pdir))
    if (e.path().extension() == ".snapshot") std::filesystem::remove(e.path());
  storage::LogOpenOptions o;
  o.recover = true;
  auto log = storage::Log::open(pdir, storage::LogConfig{}, o);
  REQUIRE(log.ok());
  Partition p(TopicPartition{"t", 0}, Uuid{}, std::shared_ptr<storage::Log>(std::move(log.value())), 1, alone());
  CHECK(p.log().collect_aborted_txns(Offset(0), Offset(5)) == std::vector<storage::AbortedTxn>{{7, 0, 2, 3}});
  CHECK(p.last_stable_offset() == Offset(3));
}

TEST_CASE("a producer known only from its markers round-trips through the snapshot") {
  std::map<int64_t, ProducerStateEntry> state;
  ProducerStateEntry e;
  e.epoch = 2;
  e.coordinator_epoch = 9;
  e.marker_timestamp = 1234;
  state[5] = e;
  state[6] = ProducerStateEntry{0, {{0, 1, 10, 11, 77}}, 3, 10};
  auto decoded = ProducerStateManager::decode_snapshot(ProducerStateManager::encode_snapshot(state));
  REQUIRE(decoded);
  CHECK(*decoded == state);
}

namespace {

// A transactional append with transaction.partition.verification.enable on, bringing `guard`.
ErrorCode send_verified(Partition& p, int64_t pid, int32_t seq, uint64_t guard) {
  auto bytes = producer_batch(pid, 0, seq, 1, true);
  return p.append_as_leader(bytes, nullptr, AppendOrigin::Client, TxnVerification{true, guard}).code();
}

}  // namespace

TEST_CASE("with verification, only a verified batch opens a transaction, and a marker spends the guard") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  // Never verified: refused, nothing written, no transaction holds the LSO back.
  CHECK(send_verified(*p, 7, 0, 0) == ErrorCode::INVALID_TXN_STATE);
  CHECK(p->log_end_offset() == Offset(0));
  CHECK(p->ongoing_txn_count() == 0);

  const uint64_t guard = p->start_txn_verification(7, 1000).value();
  REQUIRE(guard != 0);
  CHECK(p->start_txn_verification(7, 1001).value() == guard);  // pending: the same guard
  CHECK(send_verified(*p, 7, 0, guard + 1) == ErrorCode::INVALID_TXN_STATE);  // another one's
  CHECK(send_verified(*p, 7, 0, guard) == ErrorCode::NONE);
  REQUIRE(p->oldest_open_txn().has_value());
  CHECK(p->oldest_open_txn()->producer_id == 7);
  CHECK(p->oldest_open_txn()->first_offset == 0);
  CHECK(p->oldest_open_txn()->last_timestamp == 1000);  // the batch's max timestamp
  // The transaction is open now: later batches need no guard, and none is handed out.
  CHECK(p->start_txn_verification(7, 1002).value() == 0);
  CHECK(send_verified(*p, 7, 1, 0) == ErrorCode::NONE);

  // A verification answered after the transaction's ABORT marker admits nothing: the marker
  // spent the guard, and the next transaction needs a new verification.
  end_txn(*p, 7, 0, false);
  const uint64_t next = p->start_txn_verification(7, 1003).value();
  CHECK(next != guard);
  end_txn(*p, 7, 0, false);  // a marker racing with that verification
  CHECK(send_verified(*p, 7, 2, next) == ErrorCode::INVALID_TXN_STATE);
  CHECK(p->ongoing_txn_count() == 0);
  CHECK(p->last_stable_offset() == p->high_watermark());

  // Without verification (the setting off) the old rule stays: a transactional batch opens one.
  CHECK(send(*p, 8, 0, 0, 1).second == ErrorCode::NONE);
  CHECK(p->ongoing_txn_count() == 1);
}

TEST_CASE("verification guards are per replica leader and expire with the producer ids") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  const uint64_t guard = p->start_txn_verification(7, 1000).value();
  CHECK(p->remove_expired_producers(1000 + 500, 1000) == 0);
  CHECK(send_verified(*p, 7, 0, guard) == ErrorCode::NONE);  // not expired yet
  const uint64_t other = p->start_txn_verification(9, 1000).value();
  p->remove_expired_producers(1000 + 1000, 1000);
  CHECK(send_verified(*p, 9, 0, other) == ErrorCode::INVALID_TXN_STATE);  // expired

  auto follower = replica(dir.path / "2", 2, led_by(1, 1));
  CHECK(follower->start_txn_verification(7, 1000).code() == ErrorCode::NOT_LEADER_OR_FOLLOWER);
}
