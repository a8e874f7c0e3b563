// The active controller of a cluster: registration and sessions, fencing and controlled
// shutdown moving leaderships, AlterPartition's checks, clean and preferred elections.
// A synchronous stand-in for the Raft log delivers each append to apply_committed, as the
// quorum does once a batch commits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

struct Cluster {
  std::unique_ptr<Controller> ctl;
  std::map<int32_t, int64_t> epochs;
  int64_t now = 1'000'000;

  explicit Cluster(const std::string& extra = "") {
    auto cfg = config::BrokerConfig::from_yaml(
        "node.id: 1\nlog.dirs: /tmp/unused\nlisteners: PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
        "controller.listener.names: CONTROLLER\n"
        "controller.quorum.voters: 1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097\n"
        "broker.session.timeout.ms: 9000\n" +
        extra);
    auto log = std::make_unique<CommittingLog>();
    CommittingLog* raw = log.get();
    auto c = Controller::open(cfg, std::move(log), "cluster-x");
    REQUIRE(c.ok());
    ctl = std::move(c.value());
    raw->controller = ctl.get();
  }

  int64_t join(int32_t id) {
    BrokerRegistration r;
    r.id = id;
    r.incarnation_id = Uuid::random();
    r.endpoints = {{"PLAINTEXT", "127.0.0.1", static_cast<uint16_t>(9090 + id)}};
    r.security_protocols = {0};
    auto epoch = ctl->register_broker(r);
    REQUIRE(epoch.ok());
    epochs[id] = epoch.value();
    auto hb = ctl->heartbeat(id, epoch.value(), ctl->image()->offset(), false, false);
    REQUIRE(hb.error == ErrorCode::NONE);
    CHECK_FALSE(hb.fenced);
    return epoch.value();
  }

  const PartitionInfo& partition(const std::string& topic, int32_t p) {
    return ctl->image()->topic(topic)->partitions[static_cast<size_t>(p)];
  }

  void create(const std::string& name, std::map<int32_t, std::vector<int32_t>> assignments) {
    CreateTopicSpec s;
    s.name = name;
    s.assignments = std::move(assignments);
    auto r = ctl->create_topics({s}, false);
    REQUIRE(r.front().error == ErrorCode::NONE);
  }
};

std::vector<int32_t> sorted(std::vector<int32_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("a standby controller refuses writes with NOT_CONTROLLER until the quorum makes it active") {
  Cluster c;
  BrokerRegistration r;
  r.id = 2;
  r.incarnation_id = Uuid::random();
  CHECK(c.ctl->register_broker(r).code() == ErrorCode::NOT_CONTROLLER);
  CHECK(c.ctl->heartbeat(2, 0, 0, false, false).error == ErrorCode::NOT_CONTROLLER);
  CreateTopicSpec s;
  s.name = "t";
  CHECK(c.ctl->create_topics({s}, false).front().error == ErrorCode::NOT_CONTROLLER);
  c.ctl->set_active(true);
  c.join(1);
  CHECK(c.ctl->create_topics({s}, false).front().error == ErrorCode::NONE);
  c.ctl->set_active(false);
  CHECK(c.ctl->heartbeat(1, c.epochs[1], 0, false, false).error == ErrorCode::NOT_CONTROLLER);
}

TEST_CASE("a broker registers fenced and is unfenced once its metadata offset reaches its registration") {
  Cluster c;
  c.ctl->set_active(true);
  BrokerRegistration r;
  r.id = 2;
  r.incarnation_id = Uuid::random();
  r.endpoints = {{"PLAINTEXT", "h", 9092}};
  r.security_protocols = {0};
  auto epoch = c.ctl->register_broker(r);
  REQUIRE(epoch.ok());
  CHECK(c.ctl->image()->broker(2)->fenced);
  CHECK(c.ctl->image()->broker(2)->endpoints == std::vector<Endpoint>{{"PLAINTEXT", "h", 9092}});
  // A retried registration of the same process keeps its epoch.
  CHECK(c.ctl->register_broker(r).value() == epoch.value());

  auto behind = c.ctl->heartbeat(2, epoch.value(), epoch.value() - 1, false, false);
  CHECK(behind.error == ErrorCode::NONE);
  CHECK_FALSE(behind.caught_up);
  CHECK(behind.fenced);
  auto caught_up = c.ctl->heartbeat(2, epoch.value(), epoch.value(), false, false);
  CHECK(caught_up.caught_up);
  CHECK_FALSE(caught_up.fenced);
  CHECK_FALSE(c.ctl->image()->broker(2)->fenced);

  CHECK(c.ctl->heartbeat(2, epoch.value() + 7, 100, false, false).error == ErrorCode::STALE_BROKER_EPOCH);
  CHECK(c.ctl->heartbeat(9, 0, 100, false, false).error == ErrorCode::BROKER_ID_NOT_REGISTERED);

  // A restart is a new incarnation: a new epoch, fenced again until it catches up (what it led
  // moved away: see the next test).
  r.incarnation_id = Uuid::random();
  auto again = c.ctl->register_broker(r);
  REQUIRE(again.ok());
  CHECK(again.value() > epoch.value());
  CHECK(c.ctl->image()->broker(2)->fenced);
  CHECK(c.ctl->heartbeat(2, epoch.value(), 100, false, false).error == ErrorCode::STALE_BROKER_EPOCH);
}

TEST_CASE("a silent broker is fenced after broker.session.timeout.ms and its leaderships move to in-sync replicas") {
  Cluster c;
  c.ctl->set_active(true);
  for (int32_t id : {1, 2, 3}) c.join(id);
  c.create("t", {{0, {1, 2, 3}}, {1, {2, 3, 1}}});
  c.create("solo", {{0, {1}}});
  c.ctl->maintain(c.now);  // the sessions start now
  // Brokers 2 and 3 keep heartbeating; 1 goes silent.
  c.ctl->maintain(c.now + 8000);
  CHECK_FALSE(c.ctl->image()->broker(1)->fenced);
  for (int32_t id : {2, 3}) c.ctl->heartbeat(id, c.epochs[id], c.ctl->image()->offset(), false, false);
  c.ctl->maintain(c.now + 9500);
  CHECK(c.ctl->image()->broker(1)->fenced);
  const auto& p0 = c.partition("t", 0);
  CHECK(p0.leader == 2);  // the next replica in the ISR
  CHECK(sorted(p0.isr) == std::vector<int32_t>{2, 3});
  CHECK(p0.leader_epoch == 1);
  const auto& p1 = c.partition("t", 1);
  CHECK(p1.leader == 2);  // unchanged leader, broker 1 out of the ISR
  CHECK(sorted(p1.isr) == std::vector<int32_t>{2, 3});
  CHECK(p1.leader_epoch == 0);
  // The only in-sync replica stays in the ISR; the partition has no leader (no unclean election).
  const auto& p2 = c.partition("solo", 0);
  CHECK(p2.leader == -1);
  CHECK(p2.isr == std::vector<int32_t>{1});

  // Back, caught up: unfenced, and the leaderless partition elects it.
  auto hb = c.ctl->heartbeat(1, c.epochs[1], c.ctl->image()->offset(), false, false);
  CHECK_FALSE(hb.fenced);
  CHECK(c.partition("solo", 0).leader == 1);
  CHECK(c.partition("t", 0).leader == 2);  // no preferred election without auto rebalance time
}

TEST_CASE("controlled shutdown moves leaderships and ISR membership away, then lets the broker stop") {
  Cluster c;
  c.ctl->set_active(true);
  for (int32_t id : {1, 2, 3}) c.join(id);
  c.create("t", {{0, {3, 1, 2}}, {1, {1, 3, 2}}});
  c.create("solo", {{0, {3}}});
  auto r = c.ctl->heartbeat(3, c.epochs[3], c.ctl->image()->offset(), false, true);
  CHECK(r.error == ErrorCode::NONE);
  CHECK(r.should_shut_down);
  CHECK(c.ctl->image()->broker(3)->fenced);
  CHECK(c.ctl->image()->broker(3)->in_controlled_shutdown);
  CHECK(c.partition("t", 0).leader == 1);
  CHECK(sorted(c.partition("t", 0).isr) == std::vector<int32_t>{1, 2});
  CHECK(c.partition("t", 1).leader == 1);
  CHECK(sorted(c.partition("t", 1).isr) == std::vector<int32_t>{1, 2});
  CHECK(c.partition("solo", 0).leader == -1);
  // It is not elected while shutting down, and a repeated shutdown heartbeat changes nothing.
  int64_t offset = c.ctl->image()->offset();
  CHECK(c.ctl->heartbeat(3, c.epochs[3], offset, false, true).should_shut_down);
  CHECK(c.ctl->image()->offset() == offset);
  c.ctl->maintain(c.now);
  CHECK(c.partition("solo", 0).leader == -1);
  // New topics are not placed on it.
  CreateTopicSpec s;
  s.name = "u";
  s.num_partitions = 6;
  s.replication_factor = 2;
  REQUIRE(c.ctl->create_topics({s}, false).front().error == ErrorCode::NONE);
  for (const auto& p : c.ctl->image()->topic("u")->partitions) CHECK(sorted(p.replicas) == std::vector<int32_t>{1, 2});
}

TEST_CASE("AlterPartition: only the current leader, at the current epochs, with live new members") {
  Cluster c;
  c.ctl->set_active(true);
  for (int32_t id : {1, 2, 3}) c.join(id);
  c.create("t", {{0, {1, 2, 3}}});
  Uuid id = c.ctl->image()->topic("t")->id;
  auto change = [&](int32_t broker, int32_t leader_epoch, int32_t partition_epoch, std::vector<int32_t> isr) {
    auto r = c.ctl->alter_partition(broker, c.epochs[broker], {IsrChange{id, 0, leader_epoch, partition_epoch, isr}});
    REQUIRE(r.ok());
    return r.value().front();
  };
  CHECK(change(2, 0, 0, {2, 3}).error == ErrorCode::NOT_LEADER_OR_FOLLOWER);
  CHECK(change(1, 5, 0, {1, 2}).error == ErrorCode::FENCED_LEADER_EPOCH);
  CHECK(change(1, 0, 3, {1, 2}).error == ErrorCode::INVALID_UPDATE_VERSION);
  CHECK(change(1, 0, 0, {2, 3}).error == ErrorCode::INVALID_REQUEST);  // without the leader
  CHECK(change(1, 0, 0, {1, 4}).error == ErrorCode::INVALID_REQUEST);  // not a replica
  auto shrunk = change(1, 0, 0, {1, 2});
  CHECK(shrunk.error == ErrorCode::NONE);
  CHECK(shrunk.isr == std::vector<int32_t>{1, 2});
  CHECK(shrunk.partition_epoch == 1);
  CHECK(c.partition("t", 0).isr == std::vector<int32_t>{1, 2});
  CHECK(c.partition("t", 0).partition_epoch == 1);
  CHECK(c.partition("t", 0).leader_epoch == 0);

  // A fenced broker may not join the ISR.
  c.ctl->maintain(c.now);
  for (int32_t b : {1, 2}) c.ctl->heartbeat(b, c.epochs[b], c.ctl->image()->offset(), false, false);
  c.ctl->maintain(c.now + 10000);
  REQUIRE(c.ctl->image()->broker(3)->fenced);
  CHECK(change(1, 0, 1, {1, 2, 3}).error == ErrorCode::INELIGIBLE_REPLICA);

  auto stale = c.ctl->alter_partition(1, c.epochs[1] + 1, {IsrChange{id, 0, 0, 1, {1}}});
  CHECK(stale.code() == ErrorCode::STALE_BROKER_EPOCH);
  auto unknown = c.ctl->alter_partition(1, c.epochs[1], {IsrChange{Uuid::random(), 0, 0, 0, {1}}});
  REQUIRE(unknown.ok());
  CHECK(unknown.value().front().error == ErrorCode::UNKNOWN_TOPIC_ID);
}

TEST_CASE("auto.leader.rebalance.enable returns leadership to the preferred replica once it is in sync") {
  Cluster c("auto.leader.rebalance.enable: true\nleader.imbalance.check.interval.seconds: 1\n");
  c.ctl->set_active(true);
  for (int32_t id : {1, 2, 3}) c.join(id);
  c.create("t", {{0, {1, 2, 3}}});
  // Broker 1 shuts down and comes back as a new incarnation.
  REQUIRE(c.ctl->heartbeat(1, c.epochs[1], c.ctl->image()->offset(), false, true).should_shut_down);
  REQUIRE(c.partition("t", 0).leader == 2);
  c.join(1);
  c.ctl->maintain(c.now);
  CHECK(c.partition("t", 0).leader == 2);  // not in the ISR yet
  Uuid id = c.ctl->image()->topic("t")->id;
  const auto& p = c.partition("t", 0);
  REQUIRE(c.ctl->alter_partition(2, c.epochs[2], {IsrChange{id, 0, p.leader_epoch, p.partition_epoch, {2, 3, 1}}})
              .ok());
  c.ctl->maintain(c.now + 500);
  CHECK(c.partition("t", 0).leader == 2);  // not yet time
  c.ctl->maintain(c.now + 1500);
  CHECK(c.partition("t", 0).leader == 1);
}

TEST_CASE("CreatePartitions grows a topic with its replication factor, or on given replicas, with Kafka's errors") {
  Cluster c;
  c.ctl->set_active(true);
  for (int32_t id : {1, 2, 3}) c.join(id);
  c.create("t", {{0, {1, 2}}, {1, {2, 3}}});
  CHECK(c.ctl->create_partitions("t", 4, std::nullopt, true).ok());
  CHECK(c.ctl->image()->topic("t")->partitions.size() == 2);  // validate_only
  REQUIRE(c.ctl->create_partitions("t", 4, std::nullopt, false).ok());
  const TopicInfo* t = c.ctl->image()->topic("t");
  REQUIRE(t->partitions.size() == 4);
  for (const auto& p : t->partitions) {
    CHECK(p.replicas.size() == 2);
    CHECK(p.isr == p.replicas);
    CHECK(p.leader == p.replicas.front());
  }
  REQUIRE(c.ctl->create_partitions("t", 5, std::vector<std::vector<int32_t>>{{3, 1}}, false).ok());
  CHECK(c.partition("t", 4).replicas == std::vector<int32_t>{3, 1});
  CHECK(c.partition("t", 4).leader == 3);

  auto error = [&](Status s) {
    return std::make_pair(s.code(), s.ok() ? std::string() : s.error().message);
  };
  CHECK(error(c.ctl->create_partitions("t", 3, std::nullopt, false)) ==
        std::make_pair(ErrorCode::INVALID_PARTITIONS,
                       std::string("The topic t currently has 5 partition(s); 3 would not be an increase.")));
  CHECK(error(c.ctl->create_partitions("t", 5, std::nullopt, false)).first == ErrorCode::INVALID_PARTITIONS);
  CHECK(error(c.ctl->create_partitions("nope", 9, std::nullopt, false)).first == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  CHECK(error(c.ctl->create_partitions("t", 7, std::vector<std::vector<int32_t>>{{1, 2}}, false)).first ==
        ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(error(c.ctl->create_partitions("t", 6, std::vector<std::vector<int32_t>>{{1, 2, 3}}, false)).first ==
        ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(error(c.ctl->create_partitions("t", 6, std::vector<std::vector<int32_t>>{{1, 9}}, false)).first ==
        ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(error(c.ctl->create_partitions("t", 6, std::vector<std::vector<int32_t>>{{2, 2}}, false)).first ==
        ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(c.ctl->image()->topic("t")->partitions.size() == 5);
  c.ctl->set_active(false);
  CHECK(c.ctl->create_partitions("t", 9, std::nullopt, false).code() == ErrorCode::NOT_CONTROLLER);
}

TEST_CASE("replicas of a partition go to different racks when brokers have racks") {
  Cluster c;
  c.ctl->set_active(true);
  // Racks a: 1, 2; b: 3, 4; c: 5, 6 — registered in an order unlike the racks.
  std::map<int32_t, std::string> rack = {{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "c"}, {6, "c"}};
  for (int32_t id = 1; id <= 6; ++id) {
    BrokerRegistration r;
    r.id = id;
    r.incarnation_id = Uuid::random();
    r.endpoints = {{"PLAINTEXT", "h", static_cast<uint16_t>(9090 + id)}};
    r.security_protocols = {0};
    r.rack = rack[id];
    auto epoch = c.ctl->register_broker(r);
    REQUIRE(epoch.ok());
    REQUIRE_FALSE(c.ctl->heartbeat(id, epoch.value(), c.ctl->image()->offset(), false, false).fenced);
  }
  CreateTopicSpec s;
  s.name = "spread";
  s.num_partitions = 12;
  s.replication_factor = 3;
  REQUIRE(c.ctl->create_topics({s}, false).front().error == ErrorCode::NONE);
  std::map<int32_t, int> leaders;
  for (const auto& p : c.ctl->image()->topic("spread")->partitions) {
    std::set<std::string> racks;
    for (int32_t b : p.replicas) racks.insert(rack[b]);
    CHECK(racks.size() == 3);
    ++leaders[p.leader];
  }
  CHECK(leaders.size() == 6);  // every broker leads some
  for (const auto& [b, n] : leaders) CHECK(n == 2);
}

TEST_CASE("a restarted broker's new registration moves its old leaderships to in-sync replicas") {
  Cluster c;
  c.ctl->set_active(true);
  for (int32_t id : {1, 2, 3}) c.join(id);
  c.create("t", {{0, {2, 1, 3}}, {1, {1, 2, 3}}});
  int64_t old_epoch = c.epochs[2];
  c.join(2);  // a new incarnation, before the controller noticed the old one was gone
  CHECK(c.epochs[2] > old_epoch);
  CHECK(c.partition("t", 0).leader == 1);
  CHECK(sorted(c.partition("t", 0).isr) == std::vector<int32_t>{1, 3});
  CHECK(c.partition("t", 0).leader_epoch == 1);
  CHECK(sorted(c.partition("t", 1).isr) == std::vector<int32_t>{1, 3});
  CHECK(c.partition("t", 1).leader == 1);
}
