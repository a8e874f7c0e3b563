// What each group API answers when this broker cannot serve the group (yet): Kafka's
// GroupCoordinator.validateGroupStatus per API — COORDINATOR_LOAD_IN_PROGRESS while the
// group's partition loads (Heartbeat NONE and SyncGroup REBALANCE_IN_PROGRESS instead),
// NOT_COORDINATOR when another broker leads it, COORDINATOR_NOT_AVAILABLE once stopped — and
// how OffsetCommit orders that error before UNKNOWN_TOPIC_OR_PARTITION.
#include <catch2/catch.hpp>

#include "coordinator/group/group_coordinator.h"
#include "tests/unit/coordinator/group_fixture.h"

using namespace kb;
using namespace kb::coordinator;
using namespace kb::coordinator::test;

namespace {

// A coordinator whose partitions the test hands over itself; requests are sent one at a time
// and the loop runs only as far as the test says.
struct Unready {
  ManualLoop loop;
  MemoryGroupLog log{loop};
  GroupCoordinator coord{Fixture::config_without_delay(), loop, log};
  const int32_t partition = GroupCoordinator::partition_for("g", kPartitions);

  // This broker becomes the group's coordinator; its partition loads on the next run().
  void lead() { coord.became_leader(partition, kPartitions); }

  // The error of every API for group "g" as answered now (the load, if queued, runs after).
  std::map<std::string, ErrorCode> answers() {
    std::map<std::string, ErrorCode> out;
    Answer<msg::JoinGroupResponse> join;
    msg::JoinGroupRequest jr;
    jr.group_id = "g";
    jr.protocol_type = "consumer";
    jr.session_timeout_ms = kSession;
    jr.protocols.push_back({"range", subscription({"t"})});
    coord.join_group(jr, ClientInfo{"c", "/h", 9}, join.callback());
    Answer<msg::SyncGroupResponse> sync;
    msg::SyncGroupRequest sr;
    sr.group_id = "g";
    sr.member_id = "m";
    coord.sync_group(sr, ClientInfo{}, sync.callback());
    Answer<ErrorCode> heartbeat;
    msg::HeartbeatRequest hr;
    hr.group_id = "g";
    hr.member_id = "m";
    coord.heartbeat(hr, ClientInfo{}, heartbeat.callback());
    Answer<msg::LeaveGroupResponse> leave;
    msg::LeaveGroupRequest lr;
    lr.group_id = "g";
    lr.members.push_back({"m", std::nullopt, std::nullopt});
    coord.leave_group(lr, ClientInfo{"c", "/h", 5}, leave.callback());
    Answer<FetchedOffsets> fetch;
    coord.fetch_offsets("g", std::nullopt, false, fetch.callback());
    Answer<std::vector<msg::DescribeGroupsResponse::DescribedGroup>> describe;
    coord.describe_groups({"g"}, describe.callback());
    Answer<std::vector<std::pair<std::string, ErrorCode>>> del;
    coord.delete_groups({"g"}, del.callback());
    Answer<msg::OffsetDeleteResponse> offset_delete;
    msg::OffsetDeleteRequest odr;
    odr.group_id = "g";
    coord.delete_offsets(odr, offset_delete.callback());
    loop.run();
    out["JoinGroup"] = code_of(join->error_code);
    out["SyncGroup"] = code_of(sync->error_code);
    out["Heartbeat"] = *heartbeat;
    out["LeaveGroup"] = code_of(leave->error_code);
    out["OffsetFetch"] = fetch->error;
    out["DescribeGroups"] = code_of(describe->front().error_code);
    out["DeleteGroups"] = del->front().second;
    out["OffsetDelete"] = code_of(offset_delete->error_code);
    return out;
  }

  // OffsetCommit of t-0 (which exists) and gone-0 (which does not); each partition's error.
  std::vector<ErrorCode> commit(std::vector<std::string> topics = {"t", "gone"}) {
    msg::OffsetCommitRequest req;
    req.group_id = "g";
    req.generation_id_or_member_epoch = -1;
    for (const auto& t : topics) req.topics.push_back({t, {{0, 42, -1, -1, std::string()}}});
    Answer<msg::OffsetCommitResponse> out;
    coord.commit_offsets(req, {TopicPartition{"gone", 0}}, ClientInfo{"c", "/h", 8}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    std::vector<ErrorCode> codes;
    for (const auto& t : out->topics)
      for (const auto& p : t.partitions) codes.push_back(code_of(p.error_code));
    return codes;
  }

  std::vector<ErrorCode> txn_commit() {
    msg::TxnOffsetCommitRequest req;
    req.group_id = "g";
    req.producer_id = 5;
    req.topics.push_back({"t", {{0, 42, -1, std::string()}}});
    req.topics.push_back({"gone", {{0, 42, -1, std::string()}}});
    Answer<msg::TxnOffsetCommitResponse> out;
    coord.commit_txn_offsets(req, {TopicPartition{"gone", 0}}, ClientInfo{}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    std::vector<ErrorCode> codes;
    for (const auto& t : out->topics)
      for (const auto& p : t.partitions) codes.push_back(code_of(p.error_code));
    return codes;
  }
};

using E = ErrorCode;

}  // namespace

TEST_CASE("while the group's partition loads, each API answers as Kafka's coordinator does") {
  Unready u;
  u.lead();
  auto a = u.answers();
  CHECK(a["JoinGroup"] == E::COORDINATOR_LOAD_IN_PROGRESS);
  // The rebalance in progress was lost with the old coordinator: rejoin without a lookup.
  CHECK(a["SyncGroup"] == E::REBALANCE_IN_PROGRESS);
  // Answered blindly: every loaded member gets a fresh session anyway.
  CHECK(a["Heartbeat"] == E::NONE);
  CHECK(a["LeaveGroup"] == E::COORDINATOR_LOAD_IN_PROGRESS);
  CHECK(a["OffsetFetch"] == E::COORDINATOR_LOAD_IN_PROGRESS);
  CHECK(a["DescribeGroups"] == E::COORDINATOR_LOAD_IN_PROGRESS);
  CHECK(a["DeleteGroups"] == E::COORDINATOR_LOAD_IN_PROGRESS);
  CHECK(a["OffsetDelete"] == E::COORDINATOR_LOAD_IN_PROGRESS);
  // Once loaded, the same requests reach the group (which the JoinGroup creates, the
  // DeleteGroups removes again).
  auto loaded = u.answers();
  CHECK(loaded["JoinGroup"] == E::MEMBER_ID_REQUIRED);
  CHECK(loaded["Heartbeat"] == E::UNKNOWN_MEMBER_ID);
  CHECK(loaded["SyncGroup"] == E::UNKNOWN_MEMBER_ID);
  CHECK(loaded["DeleteGroups"] == E::NONE);
  CHECK(loaded["OffsetDelete"] == E::GROUP_ID_NOT_FOUND);
}

TEST_CASE("a broker that does not lead the group's partition answers NOT_COORDINATOR to every API") {
  Unready u;
  for (const auto& [api, e] : u.answers()) {
    INFO(api);
    CHECK(e == E::NOT_COORDINATOR);
  }
}

TEST_CASE("a stopped coordinator answers COORDINATOR_NOT_AVAILABLE") {
  Unready u;
  u.lead();
  u.loop.run();
  u.coord.stop([] {});
  for (const auto& [api, e] : u.answers()) {
    INFO(api);
    // A stopped coordinator answers SyncGroup as it answers the others.
    CHECK(e == E::COORDINATOR_NOT_AVAILABLE);
  }
  Answer<ListedGroups> listed;
  u.coord.list_groups({}, listed.callback());
  u.loop.run();
  CHECK(listed->error == E::COORDINATOR_NOT_AVAILABLE);
}

TEST_CASE("OffsetCommit: the coordinator's error comes before UNKNOWN_TOPIC_OR_PARTITION") {
  Unready u;
  // Not the coordinator: every partition, the unknown one too, is retried elsewhere.
  CHECK(u.commit() == std::vector<E>{E::NOT_COORDINATOR, E::NOT_COORDINATOR});
  CHECK(u.commit({"gone"}) == std::vector<E>{E::NOT_COORDINATOR});
  // Loading (a restart): retriable, never UNKNOWN_TOPIC_OR_PARTITION.
  u.lead();
  CHECK(u.commit() == std::vector<E>{E::COORDINATOR_LOAD_IN_PROGRESS, E::COORDINATOR_LOAD_IN_PROGRESS});
  // Loaded: the unknown partition is refused, the other committed.
  CHECK(u.commit() == std::vector<E>{E::NONE, E::UNKNOWN_TOPIC_OR_PARTITION});
  Answer<FetchedOffsets> fetched;
  u.coord.fetch_offsets("g", std::nullopt, false, fetched.callback());
  u.loop.run();
  REQUIRE(fetched->partitions.size() == 1);
  CHECK(fetched->partitions[0].topic == "t");
  CHECK(fetched->partitions[0].offset == 42);
}

TEST_CASE("OffsetCommit of only unknown partitions neither writes nor creates a group") {
  Unready u;
  u.lead();
  u.loop.run();
  CHECK(u.commit({"gone"}) == std::vector<E>{E::UNKNOWN_TOPIC_OR_PARTITION});
  CHECK(u.log.records(u.partition).empty());
  Answer<ListedGroups> listed;
  u.coord.list_groups({}, listed.callback());
  u.loop.run();
  CHECK(listed->groups.empty());
}

TEST_CASE("TxnOffsetCommit: the coordinator's error first, then UNKNOWN_TOPIC_OR_PARTITION") {
  Unready u;
  CHECK(u.txn_commit() == std::vector<E>{E::NOT_COORDINATOR, E::NOT_COORDINATOR});
  u.lead();
  CHECK(u.txn_commit() == std::vector<E>{E::COORDINATOR_LOAD_IN_PROGRESS, E::COORDINATOR_LOAD_IN_PROGRESS});
  CHECK(u.txn_commit() == std::vector<E>{E::NONE, E::UNKNOWN_TOPIC_OR_PARTITION});
  REQUIRE(u.log.records(u.partition).size() == 1);
  CHECK(u.log.records(u.partition)[0].txn_producer_id == 5);
}
