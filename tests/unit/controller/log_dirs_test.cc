// Log directories in the controller (KIP-858, JBOD in KRaft): the dirs a broker registers,
// the directory of each replica (set at creation, by AssignReplicasToDirs, kept across
// changes), and a dir reported offline in a heartbeat taking its replicas out of their ISRs
// and leaderships while the broker's other replicas stay as they are.
#include <catch2/catch.hpp>

#include <map>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

// An active controller whose brokers register with the log dirs a test gives them.
struct DirCluster {
  std::unique_ptr<Controller> ctl;
  std::map<int32_t, int64_t> epochs;

  DirCluster() {
    auto cfg = config::BrokerConfig::from_yaml(
        "node.id: 1\nlog.dirs: /tmp/unused\nlisteners: PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
        "controller.listener.names: CONTROLLER\n"
        "controller.quorum.voters: 1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097\n");
    auto log = std::make_unique<CommittingLog>();
    CommittingLog* raw = log.get();
    auto c = Controller::open(cfg, std::move(log), "cluster-dirs");
    REQUIRE(c.ok());
    ctl = std::move(c.value());
    raw->controller = ctl.get();
    ctl->set_active(true);
  }

  void join(int32_t id, std::vector<Uuid> dirs) {
    BrokerRegistration r;
    r.id = id;
    r.incarnation_id = Uuid::random();
    r.endpoints = {{"PLAINTEXT", "127.0.0.1", static_cast<uint16_t>(9090 + id)}};
    r.security_protocols = {0};
    r.log_dirs = std::move(dirs);
    auto epoch = ctl->register_broker(r);
    REQUIRE(epoch.ok());
    epochs[id] = epoch.value();
    auto hb = ctl->heartbeat(id, epoch.value(), ctl->image()->offset(), false, false);
    REQUIRE(hb.error == ErrorCode::NONE);
    REQUIRE_FALSE(hb.fenced);
  }

  HeartbeatResult heartbeat(int32_t id, std::vector<Uuid> offline) {
    return ctl->heartbeat(id, epochs[id], ctl->image()->offset(), false, false, offline);
  }

  const TopicInfo& topic(const std::string& name) { return *ctl->image()->topic(name); }
  const PartitionInfo& partition(const std::string& name, int32_t p) {
    return topic(name).partitions[static_cast<size_t>(p)];
  }

  void create(const std::string& name, std::map<int32_t, std::vector<int32_t>> assignments) {
    CreateTopicSpec s;
    s.name = name;
    s.assignments = std::move(assignments);
    auto r = ctl->create_topics({s}, false);
    REQUIRE(r.front().error == ErrorCode::NONE);
  }

  ErrorCode assign(int32_t broker, const Uuid& dir, const std::string& name, int32_t p) {
    auto r = ctl->assign_replicas_to_dirs(broker, epochs[broker], {{dir, topic(name).id, p}});
    if (!r.ok()) return r.code();
    return r.value().front();
  }
};

}  // namespace

TEST_CASE("a new replica starts in its broker's only log dir, or unassigned when the broker has several") {
  DirCluster c;
  const Uuid a = Uuid::random(), b1 = Uuid::random(), b2 = Uuid::random(), d = Uuid::random();
  c.join(1, {a});
  c.join(2, {b1, b2});
  c.join(3, {d});
  CHECK(c.ctl->image()->broker(2)->log_dirs.size() == 2);
  c.create("t", {{0, {1, 2, 3}}});
  const PartitionInfo& p = c.partition("t", 0);
  CHECK(p.directory(1) == a);
  CHECK(p.directory(2) == kDirUnassigned);
  CHECK(p.directory(3) == d);

  // CreatePartitions places the same way.
  REQUIRE(c.ctl->create_partitions("t", 2, std::vector<std::vector<int32_t>>{{3, 1, 2}}, false).ok());
  CHECK(c.partition("t", 1).directories == std::vector<Uuid>{d, a, kDirUnassigned});
}

TEST_CASE("AssignReplicasToDirs records where a broker with several dirs put each replica") {
  DirCluster c;
  const Uuid b1 = Uuid::random(), b2 = Uuid::random();
  c.join(1, {Uuid::random()});
  c.join(2, {b1, b2});
  c.create("t", {{0, {1, 2}}, {1, {2, 1}}});
  CHECK(c.assign(2, b2, "t", 0) == ErrorCode::NONE);
  CHECK(c.assign(2, b1, "t", 1) == ErrorCode::NONE);
  CHECK(c.partition("t", 0).directory(2) == b2);
  CHECK(c.partition("t", 1).directory(2) == b1);
  // The other replica keeps its dir.
  CHECK(c.partition("t", 0).directory(1) == c.ctl->image()->broker(1)->log_dirs.front());
  // The same assignment again changes nothing.
  const int32_t epoch = c.partition("t", 0).partition_epoch;
  CHECK(c.assign(2, b2, "t", 0) == ErrorCode::NONE);
  CHECK(c.partition("t", 0).partition_epoch == epoch);

  CHECK(c.assign(2, b1, "t", 7) == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  CHECK(c.ctl->assign_replicas_to_dirs(2, c.epochs[2], {{b1, Uuid::random(), 0}}).value().front() ==
        ErrorCode::UNKNOWN_TOPIC_ID);
  c.join(3, {Uuid::random()});
  CHECK(c.assign(3, b1, "t", 0) == ErrorCode::NOT_LEADER_OR_FOLLOWER);
  CHECK(c.ctl->assign_replicas_to_dirs(2, c.epochs[2] + 5, {}).code() == ErrorCode::STALE_BROKER_EPOCH);

  // A reassignment that adds a replica keeps the dirs of those that stay.
  REQUIRE(c.ctl->alter_partition_reassignments({{"t", 0, std::vector<int32_t>{1, 2, 3}}}).ok());
  const PartitionInfo& p = c.partition("t", 0);
  CHECK(p.directory(2) == b2);
  CHECK(p.directory(3) == c.ctl->image()->broker(3)->log_dirs.front());
}

TEST_CASE("an offline log dir moves only its own partitions' leaderships and ISR memberships") {
  DirCluster c;
  const Uuid healthy = Uuid::random(), failing = Uuid::random();
  c.join(1, {healthy, failing});
  c.join(2, {Uuid::random()});
  c.join(3, {Uuid::random()});
  c.create("in-failing", {{0, {1, 2, 3}}, {1, {1, 3, 2}}});
  c.create("in-healthy", {{0, {1, 2, 3}}});
  c.create("elsewhere", {{0, {2, 1, 3}}});
  REQUIRE(c.assign(1, failing, "in-failing", 0) == ErrorCode::NONE);
  REQUIRE(c.assign(1, failing, "in-failing", 1) == ErrorCode::NONE);
  REQUIRE(c.assign(1, healthy, "in-healthy", 0) == ErrorCode::NONE);
  REQUIRE(c.assign(1, healthy, "elsewhere", 0) == ErrorCode::NONE);

  auto hb = c.heartbeat(1, {failing});
  REQUIRE(hb.error == ErrorCode::NONE);
  CHECK_FALSE(hb.fenced);
  // The failing dir's partitions: another in-sync replica leads, broker 1 left the ISR.
  CHECK(c.partition("in-failing", 0).leader == 2);
  CHECK(c.partition("in-failing", 0).isr == std::vector<int32_t>{2, 3});
  CHECK(c.partition("in-failing", 1).leader == 3);
  CHECK(c.partition("in-failing", 1).isr == std::vector<int32_t>{3, 2});
  // The healthy dir's stay as they were.
  CHECK(c.partition("in-healthy", 0).leader == 1);
  CHECK(c.partition("in-healthy", 0).isr == std::vector<int32_t>{1, 2, 3});
  CHECK(c.partition("elsewhere", 0).isr == std::vector<int32_t>{2, 1, 3});
  // The registration keeps only the healthy dir.
  CHECK(c.ctl->image()->broker(1)->log_dirs == std::vector<Uuid>{healthy});

  // Reporting it again changes nothing.
  const int32_t epoch = c.partition("in-failing", 0).partition_epoch;
  c.heartbeat(1, {failing});
  CHECK(c.partition("in-failing", 0).partition_epoch == epoch);

  // Broker 1's replica there may not rejoin the ISR, nor lead when the others are gone.
  const PartitionInfo& p = c.partition("in-failing", 0);
  auto alter = c.ctl->alter_partition(2, c.epochs[2], {{c.topic("in-failing").id, 0, p.leader_epoch,
                                                         p.partition_epoch, std::vector<int32_t>{2, 3, 1}}});
  REQUIRE(alter.ok());
  CHECK(alter.value().front().error == ErrorCode::INELIGIBLE_REPLICA);
  auto elect = c.ctl->elect_partition_leaders(ElectionType::kPreferred,
                                              std::vector<PartitionSelection>{{"in-failing", {0}}});
  REQUIRE(elect.ok());
  CHECK(elect.value().front().error == ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE);
  CHECK(c.partition("in-failing", 0).leader == 2);

  // A replica assigned later to the offline dir leaves its ISR and leadership at once.
  c.create("late", {{0, {1, 2}}});
  CHECK(c.partition("late", 0).leader == 1);
  REQUIRE(c.assign(1, failing, "late", 0) == ErrorCode::NONE);
  CHECK(c.partition("late", 0).leader == 2);
  CHECK(c.partition("late", 0).isr == std::vector<int32_t>{2});
}

TEST_CASE("a broker whose only log dir goes offline gives up every partition it holds") {
  DirCluster c;
  const Uuid only = Uuid::random();
  c.join(1, {only});
  c.join(2, {Uuid::random()});
  c.create("t", {{0, {1, 2}}, {1, {2, 1}}});
  REQUIRE(c.heartbeat(1, {only}).error == ErrorCode::NONE);
  CHECK(c.partition("t", 0).leader == 2);
  CHECK(c.partition("t", 0).isr == std::vector<int32_t>{2});
  CHECK(c.partition("t", 1).isr == std::vector<int32_t>{2});
  CHECK(c.ctl->image()->broker(1)->log_dirs == std::vector<Uuid>{kDirLost});
  CHECK_FALSE(c.ctl->image()->broker(1)->has_online_dir(kDirMigrating));
  // An unknown dir id in a heartbeat is not one of the broker's: nothing happens.
  const int32_t epoch = c.partition("t", 0).partition_epoch;
  c.heartbeat(2, {Uuid::random()});
  CHECK(c.partition("t", 0).partition_epoch == epoch);
}

TEST_CASE("records written before directories were tracked load as migrating, and a snapshot keeps dirs") {
  MetadataImage img;
  const Uuid topic = Uuid::random();
  auto old_broker = register_broker(1, 10, false);  // no log_dirs: an older RegisterBrokerRecord
  REQUIRE(img.apply(old_broker).ok());
  REQUIRE(img.apply(topic_record("t", topic)).ok());
  REQUIRE(img.apply(partition_record(topic, 0, {1, 2})).ok());  // no directories
  const PartitionInfo& p = img.topic("t")->partitions.front();
  CHECK(p.directories == std::vector<Uuid>{kDirMigrating, kDirMigrating});
  // A broker that never reported dirs counts every replica of its as online.
  CHECK(img.broker(1)->has_online_dir(kDirMigrating));
  CHECK(img.default_dir(1) == kDirUnassigned);

  // An old PartitionChangeRecord that swaps replicas: the one that stays keeps its dir.
  metadata::PartitionChangeRecord change;
  change.topic_id = topic;
  change.partition_id = 0;
  change.replicas = std::vector<int32_t>{2, 3};
  REQUIRE(img.apply(change).ok());
  CHECK(img.topic("t")->partitions.front().directories == std::vector<Uuid>{kDirMigrating, kDirUnassigned});

  // Through the encoded record and a snapshot, dirs survive (written in v1 / v3).
  const Uuid dir = Uuid::random();
  metadata::PartitionChangeRecord assign;
  assign.topic_id = topic;
  assign.partition_id = 0;
  assign.directories = std::vector<Uuid>{dir, kDirUnassigned};
  auto decoded = decode_record(encode_record(assign));
  REQUIRE(decoded.ok());
  REQUIRE(img.apply(decoded.value()).ok());
  auto broker = register_broker(3, 20, false);
  broker.log_dirs = {dir};
  REQUIRE(img.apply(decode_record(encode_record(broker)).value()).ok());
  MetadataImage copy;
  for (const auto& r : img.to_records()) REQUIRE(copy.apply(decode_record(encode_record(r)).value()).ok());
  CHECK(copy.topic("t")->partitions.front().directory(2) == dir);
  CHECK(copy.broker(3)->log_dirs == std::vector<Uuid>{dir});
  CHECK(copy.default_dir(3) == dir);
}
