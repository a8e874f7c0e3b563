// The active controller's elections beyond the clean one and its partition reassignments:
// unclean.leader.election.enable, ElectLeaders (PREFERRED, UNCLEAN) with Kafka's
// per-partition errors, and AlterPartitionReassignments / ListPartitionReassignments
// (KIP-455: start, complete once the new replicas are in sync, cancel).
// A synchronous stand-in for the Raft log delivers each append to apply_committed, as the
// quorum does once a batch commits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

using Ids = std::vector<int32_t>;

// An active controller with brokers 1, 2, 3 registered and unfenced.
struct Cluster {
  std::unique_ptr<Controller> ctl;
  std::map<int32_t, int64_t> epochs;

  explicit Cluster(const std::string& extra = "") {
    auto cfg = config::BrokerConfig::from_yaml(
        "node.id: 1\nlog.dirs: /tmp/unused\nlisteners: "
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
        "controller.listener.names: CONTROLLER\n"
        "controller.quorum.voters: 1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097\n" +
        extra);
    auto log = std::make_unique<CommittingLog>();
    CommittingLog* raw = log.get();
    auto c = Controller::open(cfg, std::move(log), "cluster-x");
    REQUIRE(c.ok());
    ctl = std::move(c.value());
    raw->controller = ctl.get();
    ctl->set_active(true);
    for (int32_t id : {1, 2, 3}) join(id);
  }

  void join(int32_t id) {
    BrokerRegistration r;
    r.id = id;
    r.incarnation_id = Uuid::random();
    r.endpoints = {{"PLAINTEXT", "127.0.0.1", static_cast<uint16_t>(9090 + id)}};
    r.security_protocols = {0};
    auto epoch = ctl->register_broker(r);
    REQUIRE(epoch.ok());
    epochs[id] = epoch.value();
    REQUIRE_FALSE(ctl->heartbeat(id, epoch.value(), ctl->image()->offset(), false, false).fenced);
  }

  // Controlled shutdown: fenced, out of every ISR it can leave, leads nothing.
  void shut_down(int32_t id) {
    REQUIRE(ctl->heartbeat(id, epochs[id], ctl->image()->offset(), false, true).should_shut_down);
  }

  const PartitionInfo& partition(const std::string& topic, int32_t p) {
    return ctl->image()->topic(topic)->partitions[static_cast<size_t>(p)];
  }

  void create(const std::string& name, std::map<int32_t, Ids> assignments,
              std::map<std::string, std::string> configs = {}) {
    CreateTopicSpec s;
    s.name = name;
    s.assignments = std::move(assignments);
    s.configs = std::move(configs);
    REQUIRE(ctl->create_topics({s}, false).front().error == ErrorCode::NONE);
  }

  // The leader's AlterPartition setting the ISR of topic-p.
  IsrChangeResult set_isr(const std::string& topic, int32_t p, Ids isr) {
    const PartitionInfo& info = partition(topic, p);
    int32_t leader = info.leader;
    auto r = ctl->alter_partition(
        leader, epochs[leader],
        {IsrChange{ctl->image()->topic(topic)->id, p, info.leader_epoch, info.partition_epoch, isr}});
    REQUIRE(r.ok());
    return r.value().front();
  }

  std::vector<PartitionResult> elect(ElectionType type, std::vector<PartitionSelection> which) {
    auto r = ctl->elect_partition_leaders(type, which);
    REQUIRE(r.ok());
    return r.value();
  }

  std::vector<PartitionResult> reassign(std::vector<ReassignmentTarget> targets) {
    auto r = ctl->alter_partition_reassignments(targets);
    REQUIRE(r.ok());
    return r.value();
  }
};

Ids sorted(Ids v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<ErrorCode> codes(const std::vector<PartitionResult>& results) {
  std::vector<ErrorCode> out;
  for (const auto& r : results) out.push_back(r.error);
  return out;
}

}  // namespace

TEST_CASE(
    "without unclean.leader.election.enable a partition whose in-sync replicas are gone stays leaderless") {
  Cluster c;
  c.create("clean", {{0, {1, 2}}});
  c.create("unclean", {{0, {1, 2}}}, {{"unclean.leader.election.enable", "true"}});
  // Broker 2 falls behind in both; then broker 1, the last in-sync replica, shuts down.
  REQUIRE(c.set_isr("clean", 0, {1}).error == ErrorCode::NONE);
  REQUIRE(c.set_isr("unclean", 0, {1}).error == ErrorCode::NONE);
  c.shut_down(1);

  CHECK(c.partition("clean", 0).leader == -1);
  CHECK(c.partition("clean", 0).isr == Ids{1});  // the one a clean election waits for
  c.ctl->maintain(1'000'000);
  CHECK(c.partition("clean", 0).leader == -1);

  // With the setting on, the live out-of-sync replica leads at once, alone in the ISR.
  CHECK(c.partition("unclean", 0).leader == 2);
  CHECK(c.partition("unclean", 0).isr == Ids{2});

  // Turned on later for the other topic: the next maintenance elects broker 2 there too.
  REQUIRE(c.ctl->set_topic_configs("clean", {{"unclean.leader.election.enable", "true"}}, false).ok());
  CHECK(c.partition("clean", 0).leader == -1);
  c.ctl->maintain(1'000'100);
  CHECK(c.partition("clean", 0).leader == 2);
  CHECK(c.partition("clean", 0).isr == Ids{2});
}

TEST_CASE("the broker-wide unclean.leader.election.enable applies to topics without an override") {
  Cluster c("unclean.leader.election.enable: true\n");
  c.create("t", {{0, {1, 2}}});
  c.create("strict", {{0, {1, 2}}}, {{"unclean.leader.election.enable", "false"}});
  REQUIRE(c.set_isr("t", 0, {1}).error == ErrorCode::NONE);
  REQUIRE(c.set_isr("strict", 0, {1}).error == ErrorCode::NONE);
  c.shut_down(1);
  CHECK(c.partition("t", 0).leader == 2);
  CHECK(c.partition("strict", 0).leader == -1);
}

TEST_CASE("ElectLeaders PREFERRED returns leadership to the first replica once it is in sync") {
  Cluster c;
  c.create("t", {{0, {1, 2, 3}}, {1, {2, 3, 1}}});
  c.shut_down(1);
  REQUIRE(c.partition("t", 0).leader == 2);
  c.join(1);  // back, but not in the ISR yet
  auto first = c.elect(ElectionType::kPreferred, {{"t", {0, 1}}});
  CHECK(codes(first) ==
        std::vector<ErrorCode>{ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE, ErrorCode::ELECTION_NOT_NEEDED});
  CHECK(first[0].message == "The preferred leader was not available.");
  CHECK(first[1].message == "Leader election not needed for topic partition.");
  CHECK(c.partition("t", 0).leader == 2);

  REQUIRE(c.set_isr("t", 0, {2, 3, 1}).error == ErrorCode::NONE);
  int32_t epoch = c.partition("t", 0).leader_epoch;
  auto second = c.elect(ElectionType::kPreferred, {{"t", {0}}});
  CHECK(codes(second) == std::vector<ErrorCode>{ErrorCode::NONE});
  CHECK(second[0].message.empty());
  CHECK(c.partition("t", 0).leader == 1);
  CHECK(c.partition("t", 0).leader_epoch == epoch + 1);
  CHECK(sorted(c.partition("t", 0).isr) == Ids{1, 2, 3});

  // Every partition: the ones that need no election are left out of the answer.
  auto all = c.ctl->elect_partition_leaders(ElectionType::kPreferred, std::nullopt);
  REQUIRE(all.ok());
  CHECK(all.value().empty());
}

TEST_CASE(
    "ElectLeaders answers unknown partitions, bad election types and standby controllers with Kafka's "
    "errors") {
  Cluster c;
  c.create("t", {{0, {1, 2}}});
  auto r = c.elect(ElectionType::kPreferred, {{"t", {0, 5}}, {"nope", {0}}});
  REQUIRE(r.size() == 3);
  CHECK(codes(r) == std::vector<ErrorCode>{ErrorCode::ELECTION_NOT_NEEDED,
                                           ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                                           ErrorCode::UNKNOWN_TOPIC_OR_PARTITION});
  CHECK(r[1].message == "No such partition as t-5");
  CHECK(r[2].message == "No such topic as nope");
  CHECK(r[2].topic == "nope");
  CHECK(c.ctl->elect_partition_leaders(static_cast<ElectionType>(7), std::nullopt).code() ==
        ErrorCode::INVALID_REQUEST);
  c.ctl->set_active(false);
  CHECK(c.ctl->elect_partition_leaders(ElectionType::kPreferred, std::nullopt).code() ==
        ErrorCode::NOT_CONTROLLER);
}

TEST_CASE("ElectLeaders UNCLEAN makes a live out-of-sync replica leader, or says no replica is eligible") {
  Cluster c;
  c.create("t", {{0, {1, 2}}});
  c.create("alone", {{0, {1}}});
  REQUIRE(c.set_isr("t", 0, {1}).error == ErrorCode::NONE);
  c.shut_down(1);
  REQUIRE(c.partition("t", 0).leader == -1);

  auto r = c.elect(ElectionType::kUnclean, {{"t", {0}}, {"alone", {0}}});
  CHECK(codes(r) == std::vector<ErrorCode>{ErrorCode::NONE, ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE});
  CHECK(r[1].message == "Eligible topic partition leaders are not available.");
  CHECK(c.partition("t", 0).leader == 2);
  CHECK(c.partition("t", 0).isr == Ids{2});
  CHECK(c.partition("alone", 0).leader == -1);
  // A partition with a leader needs no unclean election.
  CHECK(codes(c.elect(ElectionType::kUnclean, {{"t", {0}}})) ==
        std::vector<ErrorCode>{ErrorCode::ELECTION_NOT_NEEDED});
}

TEST_CASE(
    "a reassignment adds the new replicas, then drops the old ones and their leadership once the new are in "
    "sync") {
  Cluster c;
  c.create("t", {{0, {1, 2}}});
  REQUIRE(c.partition("t", 0).leader == 1);
  CHECK(c.ctl->list_partition_reassignments(std::nullopt).empty());

  CHECK(codes(c.reassign({{"t", 0, Ids{2, 3}}})) == std::vector<ErrorCode>{ErrorCode::NONE});
  const PartitionInfo& moving = c.partition("t", 0);
  CHECK(moving.replicas == Ids{2, 3, 1});  // the target first, then the replicas being removed
  CHECK(moving.adding_replicas == Ids{3});
  CHECK(moving.removing_replicas == Ids{1});
  CHECK(moving.isr == Ids{1, 2});
  CHECK(moving.leader == 1);
  CHECK(moving.leader_epoch == 0);  // nobody left the replicas yet
  auto ongoing = c.ctl->list_partition_reassignments(std::nullopt);
  REQUIRE(ongoing.size() == 1);
  CHECK(ongoing[0].topic == "t");
  CHECK(ongoing[0].partition == 0);
  CHECK(ongoing[0].replicas == Ids{2, 3, 1});
  CHECK(ongoing[0].adding == Ids{3});
  CHECK(ongoing[0].removing == Ids{1});
  CHECK(c.ctl->list_partition_reassignments(std::vector<PartitionSelection>{{"t", {0, 1}}, {"nope", {0}}})
            .size() == 1);
  CHECK(c.ctl->list_partition_reassignments(std::vector<PartitionSelection>{{"t", {1}}}).empty());

  // The leader finds broker 3 caught up: the ISR it asks for completes the reassignment, and
  // the leadership leaves broker 1, which is no longer a replica.
  auto done = c.set_isr("t", 0, {1, 2, 3});
  CHECK(done.error == ErrorCode::NEW_LEADER_ELECTED);
  CHECK(done.leader == 2);
  const PartitionInfo& moved = c.partition("t", 0);
  CHECK(moved.replicas == Ids{2, 3});
  CHECK(moved.isr == Ids{2, 3});
  CHECK(moved.leader == 2);
  CHECK(moved.leader_epoch == 1);
  CHECK(moved.adding_replicas.empty());
  CHECK(moved.removing_replicas.empty());
  CHECK(c.ctl->list_partition_reassignments(std::nullopt).empty());
}

TEST_CASE("a reassignment that adds no replica completes at once, and a leader that stays keeps leading") {
  Cluster c;
  c.create("t", {{0, {1, 2, 3}}, {1, {1, 2, 3}}});
  auto r = c.reassign({{"t", 0, Ids{3, 2}}, {"t", 1, Ids{3, 2, 1}}});
  CHECK(codes(r) == std::vector<ErrorCode>{ErrorCode::NONE, ErrorCode::NONE});
  CHECK(c.partition("t", 0).replicas == Ids{3, 2});
  CHECK(c.partition("t", 0).isr == Ids{2, 3});
  CHECK(c.partition("t", 0).leader == 3);
  CHECK(c.partition("t", 0).adding_replicas.empty());
  CHECK(c.partition("t", 0).removing_replicas.empty());
  // Reordered only: the preferred replica changes, the leader does not.
  CHECK(c.partition("t", 1).replicas == Ids{3, 2, 1});
  CHECK(c.partition("t", 1).leader == 1);
  CHECK(c.partition("t", 1).leader_epoch == 0);
  CHECK(c.ctl->list_partition_reassignments(std::nullopt).empty());
}

TEST_CASE("cancelling a reassignment goes back to the original replicas; Kafka's errors for bad targets") {
  Cluster c;
  c.create("t", {{0, {1, 2}}});
  CHECK(codes(c.reassign({{"t", 0, std::nullopt}})) ==
        std::vector<ErrorCode>{ErrorCode::NO_REASSIGNMENT_IN_PROGRESS});
  REQUIRE(codes(c.reassign({{"t", 0, Ids{2, 3}}})) == std::vector<ErrorCode>{ErrorCode::NONE});
  CHECK(codes(c.reassign({{"t", 0, std::nullopt}})) == std::vector<ErrorCode>{ErrorCode::NONE});
  const PartitionInfo& p = c.partition("t", 0);
  // The original replicas, in the order the reassignment left them (target first, then the
  // ones it removed): the records keep no other, and Kafka's revert gives the same.
  CHECK(p.replicas == Ids{2, 1});
  CHECK(p.isr == Ids{1, 2});
  CHECK(p.leader == 1);
  CHECK(p.adding_replicas.empty());
  CHECK(p.removing_replicas.empty());
  auto again = c.reassign({{"t", 0, std::nullopt}});
  CHECK(again[0].error == ErrorCode::NO_REASSIGNMENT_IN_PROGRESS);
  CHECK(again[0].message == "No partition reassignment is in progress.");

  auto bad = c.reassign(
      {{"t", 0, Ids{}}, {"t", 0, Ids{2, 2}}, {"t", 0, Ids{1, 9}}, {"t", 4, Ids{1}}, {"nope", 0, Ids{1}}});
  CHECK(codes(bad) ==
        std::vector<ErrorCode>{ErrorCode::INVALID_REPLICA_ASSIGNMENT, ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                               ErrorCode::INVALID_REPLICA_ASSIGNMENT, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                               ErrorCode::UNKNOWN_TOPIC_OR_PARTITION});
  CHECK(bad[0].message == "The manual partition assignment includes an empty replica list.");
  CHECK(bad[1].message == "The manual partition assignment includes the broker 2 more than once.");
  CHECK(bad[2].message ==
        "The manual partition assignment includes broker 9, but no such broker is registered.");
  CHECK(bad[3].message == "Unable to find partition t:4.");
  CHECK(bad[4].message == "Unable to find a topic named nope.");
  CHECK(c.partition("t", 0).replicas == Ids{2, 1});

  c.ctl->set_active(false);
  CHECK(c.ctl->alter_partition_reassignments({{"t", 0, Ids{2, 3}}}).code() == ErrorCode::NOT_CONTROLLER);
}

TEST_CASE("a reassignment whose removed replica shut down completes when the added one joins the ISR") {
  Cluster c;
  c.create("t", {{0, {2, 3}}});
  REQUIRE(codes(c.reassign({{"t", 0, Ids{1, 2}}})) == std::vector<ErrorCode>{ErrorCode::NONE});
  CHECK(c.partition("t", 0).replicas == Ids{1, 2, 3});
  c.shut_down(3);  // leaves the ISR; the reassignment still waits for broker 1
  CHECK(c.partition("t", 0).isr == Ids{2});
  CHECK(c.partition("t", 0).adding_replicas == Ids{1});
  int32_t epoch = c.partition("t", 0).leader_epoch;
  auto done = c.set_isr("t", 0, {2, 1});
  CHECK(done.error == ErrorCode::NONE);  // broker 2 keeps leading
  CHECK(c.partition("t", 0).replicas == Ids{1, 2});
  CHECK(c.partition("t", 0).isr == Ids{2, 1});
  CHECK(c.partition("t", 0).leader == 2);
  // Broker 3 left the replicas: a new leader epoch fences whatever it still sends.
  CHECK(c.partition("t", 0).leader_epoch == epoch + 1);
  CHECK(done.leader_epoch == epoch + 1);
}
