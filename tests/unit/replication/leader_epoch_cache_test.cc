// The leader-epoch cache: Kafka's assign / endOffsetFor / truncation rules, the checkpoint
// file, its rebuild from the log, and the follower's truncation rule built on it.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "replica_test_util.h"
#include "replication/leader_epoch_cache.h"

using namespace kb;
using namespace kb::replication;
using namespace kb::replication::test;

namespace {

using Entries = std::vector<EpochEntry>;

std::unique_ptr<LeaderEpochCache> cache_of(const Entries& entries) {
  auto c = std::make_unique<LeaderEpochCache>();
  for (const auto& e : entries) c->assign(e.epoch, Offset(e.start_offset));
  REQUIRE(c->entries() == entries);
  return c;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("an epoch is assigned once, at its first offset") {
  LeaderEpochCache c;
  CHECK(c.latest_epoch() == kUndefinedEpoch);
  CHECK(c.assign(0, Offset(0)));
  CHECK(c.assign(1, Offset(10)));
  CHECK_FALSE(c.assign(1, Offset(15)));  // later batches of the same epoch change nothing
  CHECK(c.entries() == Entries{{0, 0}, {1, 10}});
  CHECK(c.latest_epoch() == 1);
  // The same epoch from an earlier offset moves its start back (Kafka's isUpdateNeeded).
  CHECK(c.assign(1, Offset(5)));
  CHECK(c.entries() == Entries{{0, 0}, {1, 5}});
  // Negative epochs and offsets are not recorded.
  CHECK_FALSE(c.assign(-1, Offset(20)));
  CHECK_FALSE(c.assign(3, Offset(-1)));
  CHECK(c.entries() == Entries{{0, 0}, {1, 5}});
}

TEST_CASE("assigning an older epoch or an earlier offset drops the entries it contradicts") {
  auto c = cache_of({{0, 0}, {2, 10}, {3, 20}});
  // Epoch 1 at 15: epochs 2 and 3 are at or above it, so they go (Kafka keeps both columns
  // increasing).
  CHECK(c->assign(1, Offset(15)));
  CHECK(c->entries() == Entries{{0, 0}, {1, 15}});
  // A newer epoch starting at or before an existing start replaces that entry.
  CHECK(c->assign(4, Offset(15)));
  CHECK(c->entries() == Entries{{0, 0}, {4, 15}});
  CHECK(c->assign(5, Offset(3)));
  CHECK(c->entries() == Entries{{0, 0}, {5, 3}});
}

TEST_CASE("end_offset_for answers as Kafka's endOffsetFor") {
  LeaderEpochCache empty;
  CHECK(empty.end_offset_for(0, Offset(100)) == EpochEndOffset{-1, -1});

  auto c = cache_of({{2, 5}, {4, 10}, {6, 20}});
  const Offset leo(30);
  CHECK(c->end_offset_for(kUndefinedEpoch, leo) == EpochEndOffset{-1, -1});
  // The latest epoch ends at the log end.
  CHECK(c->end_offset_for(6, leo) == EpochEndOffset{6, 30});
  // A known epoch ends where the next starts.
  CHECK(c->end_offset_for(4, leo) == EpochEndOffset{4, 20});
  CHECK(c->end_offset_for(2, leo) == EpochEndOffset{2, 10});
  // An unknown epoch between two known ones: the largest known below it, and its end.
  CHECK(c->end_offset_for(3, leo) == EpochEndOffset{2, 10});
  CHECK(c->end_offset_for(5, leo) == EpochEndOffset{4, 20});
  // Below the first known epoch: the requested epoch, ending where the first known starts.
  CHECK(c->end_offset_for(1, leo) == EpochEndOffset{1, 5});
  // Above every known epoch: undefined.
  CHECK(c->end_offset_for(7, leo) == EpochEndOffset{-1, -1});
}

TEST_CASE("truncation from the end drops epochs starting at or after the cut") {
  auto c = cache_of({{2, 6}, {3, 8}, {4, 11}});
  c->truncate_from_end(Offset(12));  // nothing starts at or after 12
  CHECK(c->entries() == Entries{{2, 6}, {3, 8}, {4, 11}});
  c->truncate_from_end(Offset(9));
  CHECK(c->entries() == Entries{{2, 6}, {3, 8}});
  c->truncate_from_end(Offset(8));
  CHECK(c->entries() == Entries{{2, 6}});
  CHECK(c->latest_epoch() == 2);
  c->truncate_from_end(Offset(0));
  CHECK(c->entries().empty());
  CHECK(c->latest_epoch() == kUndefinedEpoch);
}

TEST_CASE("truncation from the start keeps the epoch that covers the new start, starting there") {
  auto c = cache_of({{2, 6}, {3, 8}, {4, 11}});
  c->truncate_from_start(Offset(5));  // before every epoch: unchanged
  CHECK(c->entries() == Entries{{2, 6}, {3, 8}, {4, 11}});
  c->truncate_from_start(Offset(8));
  CHECK(c->entries() == Entries{{3, 8}, {4, 11}});
  c->truncate_from_start(Offset(9));
  CHECK(c->entries() == Entries{{3, 9}, {4, 11}});
  c->truncate_from_start(Offset(12));
  CHECK(c->entries() == Entries{{4, 12}});
}

TEST_CASE("the checkpoint is Kafka's text format and survives a reopen") {
  TempDir dir;
  auto log = open_log(dir.path / "t-0");
  {
    auto c = LeaderEpochCache::open(*log);
    CHECK(c->entries().empty());
    c->assign(0, Offset(0));
    c->assign(3, Offset(0));  // replaces epoch 0: nothing was written in it
    CHECK(read_text(dir.path / "t-0" / LeaderEpochCache::kFileName) == "0\n1\n3 0\n");
  }
  // Records of epoch 3 and 5 in the log, the cache told the same.
  auto b1 = batch_of(4);
  REQUIRE(log->append(b1, 3).ok());
  auto b2 = batch_of(2);
  REQUIRE(log->append(b2, 5).ok());
  {
    auto c = LeaderEpochCache::open(*log);
    c->assign(5, Offset(4));
    CHECK(read_text(dir.path / "t-0" / LeaderEpochCache::kFileName) == "0\n2\n3 0\n5 4\n");
  }
  auto c = LeaderEpochCache::open(*log);
  CHECK(c->entries() == Entries{{3, 0}, {5, 4}});
  CHECK(c->latest_epoch() == 5);
  CHECK_FALSE(fs::exists(dir.path / "t-0" / "leader-epoch-checkpoint.tmp"));
}

TEST_CASE("the checkpoint parser refuses what it cannot read") {
  CHECK(LeaderEpochCache::parse("0\n2\n1 0\n4 100\n").value() == Entries{{1, 0}, {4, 100}});
  CHECK(LeaderEpochCache::parse("0\n0\n").value().empty());
  CHECK_FALSE(LeaderEpochCache::parse("").ok());
  CHECK_FALSE(LeaderEpochCache::parse("1\n0\n").ok());           // unknown version
  CHECK_FALSE(LeaderEpochCache::parse("0\n2\n1 0\n").ok());      // fewer entries than counted
  CHECK_FALSE(LeaderEpochCache::parse("0\n1\n1 0\n2 5\n").ok());  // more
  CHECK_FALSE(LeaderEpochCache::parse("0\n1\n1,0\n").ok());
  CHECK_FALSE(LeaderEpochCache::parse("0\n1\n1 x\n").ok());
}

TEST_CASE("a missing, damaged or stale checkpoint is rebuilt from the batches' leader epochs") {
  TempDir dir;
  auto log = open_log(dir.path / "t-0");
  for (auto [n, epoch] : {std::pair{3, 0}, {2, 0}, {4, 2}, {1, 7}, {2, 7}}) {
    auto b = batch_of(n);
    REQUIRE(log->append(b, epoch).ok());
  }
  const Entries expected{{0, 0}, {2, 5}, {7, 9}};
  const fs::path file = dir.path / "t-0" / LeaderEpochCache::kFileName;

  SECTION("missing") {
    CHECK(LeaderEpochCache::open(*log)->entries() == expected);
    CHECK(read_text(file) == "0\n3\n0 0\n2 5\n7 9\n");  // and written for next time
  }
  SECTION("damaged") {
    std::ofstream(file) << "0\n3\n0 0\n";
    CHECK(LeaderEpochCache::open(*log)->entries() == expected);
  }
  SECTION("older than the log (its last epoch is not the last batch's)") {
    std::ofstream(file) << "0\n2\n0 0\n2 5\n";
    CHECK(LeaderEpochCache::open(*log)->entries() == expected);
  }
  SECTION("with entries past the log end (the log was cut after it was written)") {
    std::ofstream(file) << "0\n4\n0 0\n2 5\n7 9\n8 12\n";
    CHECK(LeaderEpochCache::open(*log)->entries() == expected);
  }
}

TEST_CASE("a follower truncates by Kafka's rule from its leader's epoch end offset") {
  // The follower's epochs: 1 from 0, 3 from 10, 5 from 20; its log ends at 30, HW 15.
  auto c = cache_of({{1, 0}, {3, 10}, {5, 20}});
  const Offset leo(30), hw(15);
  auto t = [&](int32_t epoch, int64_t end) { return follower_truncation(*c, {epoch, end}, leo, hw); };

  // Both know epoch 3: the smaller of the two ends.
  CHECK(t(3, 15).offset.value() == 15);
  CHECK(t(3, 15).complete);
  CHECK(t(3, 25).offset.value() == 20);
  // The leader's latest epoch is ours too: our end is our log end.
  CHECK(t(5, 28).offset.value() == 28);
  CHECK(t(5, 40).offset.value() == 30);
  // The leader answers with an epoch we do not have (4): cut to the end of our largest epoch
  // below it and ask again.
  auto u = t(4, 18);
  CHECK(u.offset.value() == 20);
  CHECK_FALSE(u.complete);
  // No end offset: back to the high watermark; no epoch: to the leader's end offset.
  CHECK(t(3, kUndefinedEpochOffset).offset.value() == 15);
  CHECK(t(kUndefinedEpoch, 12).offset.value() == 12);
  // An epoch below all of ours: we know nothing older, so the leader's end offset.
  CHECK(t(0, 7).offset.value() == 0);  // our "epoch 0" ends where epoch 1 starts
  LeaderEpochCache empty;
  CHECK(follower_truncation(empty, {2, 7}, Offset(9), Offset(3)).offset.value() == 7);
}
