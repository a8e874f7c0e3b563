// replication-offset-checkpoint: a replica created again after a restart starts from the high
// watermark it had (not from its log end), so records never known to be committed stay
// invisible to consumers until the ISR has them again.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "replica_test_util.h"
#include "replication/replica_manager.h"
#include "storage/log_manager.h"

using namespace kb;
using namespace kb::replication;
using namespace kb::replication::test;

namespace {

std::unique_ptr<storage::LogManager> open_logs(const fs::path& dir) {
  storage::LogManagerOptions o;
  o.log_dirs = {dir};
  auto logs = storage::LogManager::open(o);
  REQUIRE(logs.ok());
  return std::move(logs.value());
}

const TopicPartition kTp{"t", 0};
const PartitionState kFollowing{1, 3, 0, {1, 2}, {1, 2}};  // broker 2 follows leader 1

}  // namespace

TEST_CASE("a follower's high watermark survives a restart through replication-offset-checkpoint") {
  TempDir t;
  {
    auto logs = open_logs(t.path);
    ReplicaManager replicas(*logs, 2);
    auto p = replicas.become_follower(kTp, Uuid{}, kFollowing, storage::LogConfig{});
    REQUIRE(p.ok());
    auto bytes = batch_of(5);
    REQUIRE((*p)->append_as_follower(bytes, 3).ok());
    (*p)->update_follower_high_watermark(Offset(3));  // the leader has committed 3 of the 5
    REQUIRE((*p)->high_watermark().value() == 3);
    REQUIRE(replicas.checkpoint_high_watermarks().ok());
    std::ifstream in(t.path / "replication-offset-checkpoint");
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str() == "0\n1\nt 0 3\n");
    logs->shutdown();
  }
  {
    auto logs = open_logs(t.path);
    ReplicaManager replicas(*logs, 2);
    // Nothing hosted yet (the broker waits for the metadata): a checkpoint keeps the value.
    REQUIRE(replicas.checkpoint_high_watermarks().ok());
    auto p = replicas.become_follower(kTp, Uuid{}, kFollowing, storage::LogConfig{});
    REQUIRE(p.ok());
    CHECK((*p)->log_end_offset().value() == 5);
    CHECK((*p)->high_watermark().value() == 3);  // not 5: two records were never known committed

    // Leading with a follower in the ISR, the high watermark moves only as that follower fetches.
    auto led = replicas.become_leader(kTp, Uuid{}, PartitionState{2, 4, 1, {1, 2}, {1, 2}}, storage::LogConfig{}, 0);
    REQUIRE(led.ok());
    CHECK((*led)->high_watermark().value() == 3);
    logs->shutdown();
  }
}

TEST_CASE("a lone leader's log is all committed, and a deleted replica's checkpoint goes with it") {
  TempDir t;
  {
    auto logs = open_logs(t.path);
    ReplicaManager replicas(*logs, 1);
    auto p = replicas.become_follower(kTp, Uuid{}, PartitionState{2, 1, 0, {1, 2}, {1, 2}}, storage::LogConfig{});
    REQUIRE(p.ok());
    auto bytes = batch_of(4);
    REQUIRE((*p)->append_as_follower(bytes, 1).ok());
    (*p)->update_follower_high_watermark(Offset(1));
    REQUIRE(replicas.checkpoint_high_watermarks().ok());
    logs->shutdown();
  }
  {
    auto logs = open_logs(t.path);
    ReplicaManager replicas(*logs, 1);
    auto p = replicas.become_leader(kTp, Uuid{}, PartitionState{1, 2, 1, {1}, {1}}, storage::LogConfig{}, 0);
    REQUIRE(p.ok());
    CHECK((*p)->high_watermark().value() == 4);
    REQUIRE(replicas.remove(kTp, true).ok());
    REQUIRE(replicas.checkpoint_high_watermarks().ok());
    std::ifstream in(t.path / "replication-offset-checkpoint");
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str() == "0\n0\n");
    // A stray log (never hosted) is deleted through remove too.
    REQUIRE(logs->get_or_create(TopicPartition{"stray", 0}, storage::LogConfig{}).ok());
    REQUIRE(replicas.remove(TopicPartition{"stray", 0}, true).ok());
    CHECK_FALSE(fs::exists(t.path / "stray-0"));
    logs->shutdown();
  }
}
