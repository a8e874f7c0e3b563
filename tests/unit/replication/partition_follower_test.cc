// A replica as follower (appending the leader's batches as they are, its high watermark,
// truncation) and the leader's side of follower fetches (diverging epochs, fencing), on real
// logs. Replication is driven by hand: the leader's read_for_replica, the follower's
// append_as_follower, exactly what the fetch handler and the fetcher call.
#include <catch2/catch.hpp>

#include "replica_test_util.h"

using namespace kb;
using namespace kb::replication;
using namespace kb::replication::test;

namespace {

PartitionState led_by(int32_t leader, int32_t epoch, std::vector<int32_t> isr = {1, 2}) {
  return PartitionState{leader, epoch, 0, {1, 2}, std::move(isr)};
}



}  // namespace

TEST_CASE("a follower stores the leader's batches as they are, with their offsets and epochs") {
  TempDir dir;
  auto leader = replica(dir.path / "1", 1, led_by(1, 3));
  auto follower = replica(dir.path / "2", 2, led_by(1, 3));
  CHECK(leader->is_leader());
  CHECK_FALSE(follower->is_leader());
  produce(*leader, 5);
  produce(*leader, 3);
  CHECK(leader->high_watermark().value() == 0);  // follower 2 is in the ISR and has nothing

  auto r = fetch_once(*leader, *follower, 100);
  CHECK(r.error == ErrorCode::NONE);
  CHECK(follower->log_end_offset().value() == 8);
  CHECK(log_bytes(follower->log()) == log_bytes(leader->log()));
  CHECK(follower->epochs().entries() == std::vector<EpochEntry>{{3, 0}});
  // The fetch at 0 did not move the leader's HW; the next one (at 8) does, and the follower
  // learns it from the answer after that.
  CHECK(follower->high_watermark().value() == 0);
  r = fetch_once(*leader, *follower, 200);
  CHECK(r.high_watermark_moved);
  CHECK(leader->high_watermark().value() == 8);
  CHECK(follower->high_watermark().value() == 8);
  CHECK(leader->follower_log_end(2).value() == 8);
}

TEST_CASE("a follower's high watermark never passes its own log end") {
  TempDir dir;
  auto follower = replica(dir.path / "2", 2, led_by(1, 0));
  auto b = batch_of(4);
  patch_leader_epoch(b.data(), 0);
  REQUIRE(follower->append_as_follower(b, 0).ok());
  follower->update_follower_high_watermark(Offset(100));
  CHECK(follower->high_watermark().value() == 4);
  follower->update_follower_high_watermark(Offset(2));
  CHECK(follower->high_watermark().value() == 2);
}

TEST_CASE("a follower refuses batches that are not its leader's next ones") {
  TempDir dir;
  auto follower = replica(dir.path / "2", 2, led_by(1, 4));
  auto b = batch_of(3);
  patch_leader_epoch(b.data(), 4);

  SECTION("fetched at an older epoch") {
    CHECK(follower->append_as_follower(b, 3).code() == ErrorCode::FENCED_LEADER_EPOCH);
  }
  SECTION("on a leader") {
    auto leader = replica(dir.path / "1", 1, led_by(1, 4));
    CHECK(leader->append_as_follower(b, 4).code() == ErrorCode::NOT_LEADER_OR_FOLLOWER);
  }
  SECTION("damaged on the way") {
    b.back() ^= 0x01;
    CHECK(follower->append_as_follower(b, 4).code() == ErrorCode::CORRUPT_MESSAGE);
    CHECK(follower->log_end_offset().value() == 0);
  }
  SECTION("before the log end") {
    REQUIRE(follower->append_as_follower(b, 4).ok());
    CHECK(follower->append_as_follower(b, 4).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
    CHECK(follower->log_end_offset().value() == 3);
  }
  SECTION("after a gap (a compacted leader): accepted where it says") {
    patch_base_offset(b.data(), 10);
    auto info = follower->append_as_follower(b, 4);
    REQUIRE(info.ok());
    CHECK(info->first_offset.value() == 10);
    CHECK(follower->log_end_offset().value() == 13);
  }
  // A follower does not take clients' records.
  auto p = batch_of(1);
  CHECK(follower->append_as_leader(p).code() == ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

TEST_CASE("after a leader change the old leader's divergent tail is cut and replaced") {
  TempDir dir;
  // Broker 1 leads at epoch 1; broker 2 copies the first 10 records.
  auto a = replica(dir.path / "1", 1, led_by(1, 1));
  auto b = replica(dir.path / "2", 2, led_by(1, 1));
  produce(*a, 10, "x");
  catch_up(*a, *b);
  CHECK(b->log_end_offset().value() == 10);
  // 1 writes 5 more that 2 never sees (acks=1), then loses leadership: 2 leads at epoch 2 and
  // writes 3 of its own at 10..12.
  produce(*a, 5, "lost");
  REQUIRE(b->become_leader(led_by(2, 2, {2}), 1000));
  REQUIRE(a->become_follower(led_by(2, 2, {2})));
  CHECK(b->epochs().entries() == std::vector<EpochEntry>{{1, 0}, {2, 10}});
  produce(*b, 3, "new");

  // 1 fetches at 15 with last epoch 1: epoch 1 ends at 10 on the new leader.
  auto r = b->read_for_replica(1, a->log_end_offset(), 2, a->latest_epoch(), 1 << 20, true, 0);
  REQUIRE(r.error == ErrorCode::NONE);
  REQUIRE(r.diverging);
  CHECK(*r.diverging == EpochEndOffset{1, 10});
  CHECK_FALSE(r.slice);

  catch_up(*b, *a);
  CHECK(a->log_end_offset().value() == 13);
  CHECK(log_bytes(a->log()) == log_bytes(b->log()));
  CHECK(a->epochs().entries() == std::vector<EpochEntry>{{1, 0}, {2, 10}});
}

TEST_CASE("a follower with an epoch its leader never had asks again after a partial truncation") {
  TempDir dir;
  // Leader history: epoch 1 at 0, epoch 3 at 4. Follower: epoch 1 at 0, epoch 2 at 2 (a leader
  // of epoch 2 that wrote at 2..5 and then died before anyone copied it).
  auto leader = replica(dir.path / "1", 1, led_by(1, 1));
  auto follower = replica(dir.path / "2", 2, led_by(1, 1));
  produce(*leader, 2);
  catch_up(*leader, *follower);
  auto e2 = batch_of(4);
  patch_base_offset(e2.data(), 2);
  patch_leader_epoch(e2.data(), 2);
  REQUIRE(follower->become_follower(led_by(9, 2)));
  REQUIRE(follower->append_as_follower(e2, 2).ok());
  produce(*leader, 2);
  REQUIRE(leader->become_leader(led_by(1, 3, {1}), 0));
  produce(*leader, 3);
  REQUIRE(follower->become_follower(led_by(1, 3)));
  CHECK(follower->log_end_offset().value() == 6);
  CHECK(follower->epochs().entries() == std::vector<EpochEntry>{{1, 0}, {2, 2}});

  // Last fetched epoch 2: the leader knows epoch 1 ending at 4 as the largest at or below 2.
  auto r = leader->read_for_replica(2, Offset(6), 3, 2, 1 << 20, true, 0);
  REQUIRE(r.diverging);
  CHECK(*r.diverging == EpochEndOffset{1, 4});
  // The follower's epoch 1 ends at 2 (where its epoch 2 started): truncation to 2, complete.
  auto t = follower_truncation(follower->epochs(), *r.diverging, follower->log_end_offset(),
                               follower->high_watermark());
  CHECK(t.offset.value() == 2);
  CHECK(t.complete);
  catch_up(*leader, *follower);
  CHECK(log_bytes(follower->log()) == log_bytes(leader->log()));
  CHECK(follower->epochs().entries() == std::vector<EpochEntry>{{1, 0}, {3, 4}});
}

TEST_CASE("a leader serves only its replicas, at its own epoch") {
  TempDir dir;
  auto leader = replica(dir.path / "1", 1, led_by(1, 5));
  produce(*leader, 2);
  auto read = [&](int32_t replica_id, int32_t current_epoch, int64_t offset = 0, int32_t last_epoch = -1) {
    return leader->read_for_replica(replica_id, Offset(offset), current_epoch, last_epoch, 1 << 20, true, 0);
  };
  CHECK(read(2, 5).error == ErrorCode::NONE);
  CHECK(read(2, -1).error == ErrorCode::NONE);  // no epoch given: not checked
  CHECK(read(3, 5).error == ErrorCode::NOT_LEADER_OR_FOLLOWER);  // not a replica
  CHECK(read(1, 5).error == ErrorCode::NOT_LEADER_OR_FOLLOWER);  // itself
  CHECK(read(2, 4).error == ErrorCode::FENCED_LEADER_EPOCH);
  CHECK(read(2, 6).error == ErrorCode::UNKNOWN_LEADER_EPOCH);
  CHECK(read(2, 5, 3).error == ErrorCode::OFFSET_OUT_OF_RANGE);  // past the log end
  // A last fetched epoch newer than any this leader knows cannot be placed.
  CHECK(read(2, 5, 2, 6).error == ErrorCode::OFFSET_OUT_OF_RANGE);

  auto follower = replica(dir.path / "2", 2, led_by(1, 5));
  CHECK(follower->read_for_replica(1, Offset(0), 5, -1, 100, true, 0).error == ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

TEST_CASE("OffsetsForLeaderEpoch answers from the leader's epoch cache") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, led_by(1, 2, {1}));
  produce(*p, 4);
  REQUIRE(p->become_leader(led_by(1, 5, {1}), 0));
  produce(*p, 3);
  auto lookup = [&](int32_t current, int32_t epoch) { return p->last_offset_for_leader_epoch(current, epoch, true); };
  CHECK(lookup(5, 5).end == EpochEndOffset{5, 7});
  CHECK(lookup(5, 2).end == EpochEndOffset{2, 4});
  CHECK(lookup(-1, 3).end == EpochEndOffset{2, 4});
  CHECK(lookup(-1, 1).end == EpochEndOffset{1, 0});
  CHECK(lookup(-1, 9).end == EpochEndOffset{-1, -1});
  CHECK(lookup(4, 2).error == ErrorCode::FENCED_LEADER_EPOCH);
  CHECK(lookup(6, 2).error == ErrorCode::UNKNOWN_LEADER_EPOCH);
  REQUIRE(p->become_follower(led_by(2, 6)));
  CHECK(lookup(6, 2).error == ErrorCode::NOT_LEADER_OR_FOLLOWER);
  CHECK(p->last_offset_for_leader_epoch(6, 2, false).end == EpochEndOffset{2, 4});
}

TEST_CASE("a new leader keeps its high watermark until the ISR has fetched") {
  TempDir dir;
  auto a = replica(dir.path / "1", 1, led_by(1, 1));
  auto b = replica(dir.path / "2", 2, led_by(1, 1));
  produce(*a, 6);
  catch_up(*a, *b);
  CHECK(b->high_watermark().value() == 6);
  produce(*a, 4);
  fetch_once(*a, *b);  // b has 10, knows HW 6
  CHECK(b->high_watermark().value() == 6);

  REQUIRE(b->become_leader(led_by(2, 2), 5000));
  REQUIRE(a->become_follower(led_by(2, 2)));
  CHECK(b->high_watermark().value() == 6);  // 1 is in the ISR and has not fetched yet
  CHECK(b->lagging_in_sync(5000 + 1000, 30000).empty());  // ISR members count as caught up now
  fetch_once(*b, *a);
  CHECK(b->high_watermark().value() == 10);
}

TEST_CASE("truncation cuts log, epochs and high watermark; an emptied log restarts at the leader's start") {
  TempDir dir;
  auto a = replica(dir.path / "1", 1, led_by(1, 1));
  auto b = replica(dir.path / "2", 2, led_by(1, 1));
  produce(*a, 5);
  REQUIRE(a->become_leader(led_by(1, 2), 0));
  REQUIRE(b->become_follower(led_by(1, 2)));
  produce(*a, 5);
  catch_up(*a, *b);
  CHECK(b->high_watermark().value() == 10);
  auto end = b->truncate_to(Offset(5));
  REQUIRE(end.ok());
  CHECK(end->value() == 5);
  CHECK(b->high_watermark().value() == 5);
  CHECK(b->epochs().entries() == std::vector<EpochEntry>{{1, 0}});
  CHECK(a->truncate_to(Offset(0)).code() == ErrorCode::NOT_LEADER_OR_FOLLOWER);

  REQUIRE(b->truncate_fully_and_start_at(Offset(42)).ok());
  CHECK(b->log_start_offset().value() == 42);
  CHECK(b->log_end_offset().value() == 42);
  CHECK(b->high_watermark().value() == 42);
  CHECK(b->epochs().entries().empty());
}

TEST_CASE("a replica's epochs survive a restart") {
  TempDir dir;
  {
    auto p = replica(dir.path / "1", 1, led_by(1, 3, {1}));
    produce(*p, 2);
    REQUIRE(p->become_leader(led_by(1, 4, {1}), 0));
    produce(*p, 2);
  }
  auto p = replica(dir.path / "1", 1, led_by(1, 4, {1}));
  CHECK(p->epochs().entries() == std::vector<EpochEntry>{{3, 0}, {4, 2}});
  CHECK(p->last_offset_for_leader_epoch(4, 3, true).end == EpochEndOffset{3, 2});
}
