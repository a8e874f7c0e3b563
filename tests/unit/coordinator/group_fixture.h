// The group coordinator on a hand-driven loop and an in-memory __consumer_offsets, with
// helpers that send each request and return its answer (coordinator_test_util.h has the log).
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "coordinator/group/group_coordinator.h"
#include "protocol/wire.h"
#include "tests/unit/coordinator/coordinator_test_util.h"

namespace kb::coordinator::test {

constexpr int32_t kPartitions = 4;
constexpr int32_t kSession = 10000;
constexpr int32_t kRebalance = 30000;

// A ConsumerProtocolSubscription v0 naming `topics`.
inline std::vector<uint8_t> subscription(const std::vector<std::string>& topics) {
  wire::Writer w;
  w.write_int16(0);
  w.write_int32(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) w.write_string(t);
  w.write_int32(-1);  // user data: null
  return w.buffer();
}

struct JoinSpec {
  std::string group = "g";
  std::string member_id;
  std::optional<std::string> instance_id;
  std::vector<std::string> protocols = {"range"};
  std::vector<std::string> topics = {"t"};
  std::string protocol_type = "consumer";
  int32_t session_timeout = kSession;
  int32_t rebalance_timeout = kRebalance;
};

struct Fixture {
  explicit Fixture(GroupConfig c = config_without_delay()) : coord(c, loop, log) {
    for (int32_t p = 0; p < kPartitions; ++p) coord.became_leader(p, kPartitions);
    loop.run();
  }
  // Whatever a test drove, every group moved only along Kafka's legal transitions (a Debug
  // build aborts at the illegal one; a Release build counts it).
  ~Fixture() { CHECK(illegal_group_transitions() == illegal_before); }

  const uint64_t illegal_before = illegal_group_transitions();
  static GroupConfig config_without_delay() {
    GroupConfig c;
    c.initial_rebalance_delay_ms = 0;
    return c;
  }

  ManualLoop loop;
  MemoryGroupLog log{loop};
  GroupCoordinator coord;

  Answer<msg::JoinGroupResponse> join(const JoinSpec& s, int16_t version = 9, const std::string& client = "client") {
    msg::JoinGroupRequest req;
    req.group_id = s.group;
    req.member_id = s.member_id;
    req.group_instance_id = s.instance_id;
    req.protocol_type = s.protocol_type;
    req.session_timeout_ms = s.session_timeout;
    req.rebalance_timeout_ms = s.rebalance_timeout;
    for (const auto& p : s.protocols) req.protocols.push_back({p, subscription(s.topics)});
    Answer<msg::JoinGroupResponse> a;
    coord.join_group(std::move(req), ClientInfo{client, "/127.0.0.1", version}, a.callback());
    loop.run();
    return a;
  }

  // A dynamic member's two-step join (v4+): MEMBER_ID_REQUIRED, then the real join, which
  // waits for the rebalance.
  Answer<msg::JoinGroupResponse> join_new(JoinSpec s) {
    auto first = join(s);
    REQUIRE(first.ready());
    REQUIRE(first->error_code == to_wire(ErrorCode::MEMBER_ID_REQUIRED));
    s.member_id = first->member_id;
    return join(s);
  }

  Answer<msg::SyncGroupResponse> sync(const std::string& group, int32_t generation, const std::string& member_id,
                                      std::vector<std::pair<std::string, std::string>> assignments = {},
                                      std::optional<std::string> instance_id = std::nullopt) {
    msg::SyncGroupRequest req;
    req.group_id = group;
    req.generation_id = generation;
    req.member_id = member_id;
    req.group_instance_id = instance_id;
    for (auto& [m, a] : assignments) req.assignments.push_back({m, std::vector<uint8_t>(a.begin(), a.end())});
    Answer<msg::SyncGroupResponse> out;
    coord.sync_group(std::move(req), ClientInfo{"client", "/127.0.0.1", 5}, out.callback());
    loop.run();
    return out;
  }

  ErrorCode heartbeat(const std::string& group, int32_t generation, const std::string& member_id,
                      std::optional<std::string> instance_id = std::nullopt) {
    msg::HeartbeatRequest req;
    req.group_id = group;
    req.generation_id = generation;
    req.member_id = member_id;
    req.group_instance_id = instance_id;
    Answer<ErrorCode> out;
    coord.heartbeat(std::move(req), ClientInfo{"client", "/127.0.0.1", 4}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    return *out;
  }

  msg::LeaveGroupResponse leave(const std::string& group,
                                std::vector<std::pair<std::string, std::optional<std::string>>> members,
                                int16_t version = 5) {
    msg::LeaveGroupRequest req;
    req.group_id = group;
    if (version < 3)
      req.member_id = members.front().first;
    else
      for (auto& [id, inst] : members) req.members.push_back({id, inst, std::nullopt});
    Answer<msg::LeaveGroupResponse> out;
    coord.leave_group(std::move(req), ClientInfo{"client", "/127.0.0.1", version}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    return *out;
  }

  // Commits {topic, partition, offset} and returns each partition's error code.
  std::vector<int16_t> commit(const std::string& group, int32_t generation, const std::string& member_id,
                              const std::vector<std::tuple<std::string, int32_t, int64_t>>& offsets,
                              const std::string& metadata = "") {
    msg::OffsetCommitRequest req;
    req.group_id = group;
    req.generation_id_or_member_epoch = generation;
    req.member_id = member_id;
    for (const auto& [t, p, o] : offsets) {
      msg::OffsetCommitRequest::OffsetCommitRequestTopic rt;
      rt.name = t;
      msg::OffsetCommitRequest::OffsetCommitRequestTopic::OffsetCommitRequestPartition rp;
      rp.partition_index = p;
      rp.committed_offset = o;
      rp.committed_metadata = metadata;
      rt.partitions.push_back(rp);
      req.topics.push_back(rt);
    }
    Answer<msg::OffsetCommitResponse> out;
    coord.commit_offsets(std::move(req), {}, ClientInfo{"client", "/127.0.0.1", 8}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    std::vector<int16_t> codes;
    for (const auto& t : out->topics)
      for (const auto& p : t.partitions) codes.push_back(p.error_code);
    return codes;
  }

  // TxnOffsetCommit of {topic, partition, offset} for producer `producer_id` (epoch 0);
  // each partition's error code.
  struct TxnCommit {
    std::string group = "g";
    int64_t producer_id = 1000;
    int32_t generation = -1;
    std::string member_id;
    std::optional<std::string> instance_id;
    std::vector<std::tuple<std::string, int32_t, int64_t>> offsets;
    std::string metadata;
  };
  std::vector<ErrorCode> txn_commit(const TxnCommit& c) {
    msg::TxnOffsetCommitRequest req;
    req.transactional_id = "txn";
    req.group_id = c.group;
    req.producer_id = c.producer_id;
    req.producer_epoch = 0;
    req.generation_id = c.generation;
    req.member_id = c.member_id;
    req.group_instance_id = c.instance_id;
    for (const auto& [t, p, o] : c.offsets) {
      msg::TxnOffsetCommitRequest::TxnOffsetCommitRequestTopic rt;
      rt.name = t;
      msg::TxnOffsetCommitRequest::TxnOffsetCommitRequestTopic::TxnOffsetCommitRequestPartition rp;
      rp.partition_index = p;
      rp.committed_offset = o;
      rp.committed_metadata = c.metadata;
      rt.partitions.push_back(rp);
      req.topics.push_back(rt);
    }
    Answer<msg::TxnOffsetCommitResponse> out;
    coord.commit_txn_offsets(std::move(req), {}, ClientInfo{"client", "/127.0.0.1", 3}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    std::vector<ErrorCode> codes;
    for (const auto& t : out->topics)
      for (const auto& p : t.partitions) codes.push_back(static_cast<ErrorCode>(p.error_code));
    return codes;
  }

  // The transaction coordinator's marker for `producer_id` reached the group's partition.
  void complete_txn(const std::string& group, int64_t producer_id, bool committed) {
    coord.complete_txn(GroupCoordinator::partition_for(group, kPartitions), producer_id, committed);
    loop.run();
  }

  // OffsetFetch of one partition with require_stable.
  FetchedOffset fetch_stable(const std::string& group, const std::string& topic, int32_t partition) {
    Answer<FetchedOffsets> out;
    coord.fetch_offsets(group, std::map<std::string, std::vector<int32_t>>{{topic, {partition}}}, true,
                        out.callback());
    loop.run();
    REQUIRE(out.ready());
    REQUIRE(out->error == ErrorCode::NONE);
    REQUIRE(out->partitions.size() == 1);
    return out->partitions.front();
  }

  FetchedOffsets fetch(const std::string& group) {
    Answer<FetchedOffsets> out;
    coord.fetch_offsets(group, std::nullopt, false, out.callback());
    loop.run();
    REQUIRE(out.ready());
    return *out;
  }

  int64_t committed(const std::string& group, const std::string& topic, int32_t partition) {
    Answer<FetchedOffsets> out;
    coord.fetch_offsets(group, std::map<std::string, std::vector<int32_t>>{{topic, {partition}}}, false,
                        out.callback());
    loop.run();
    REQUIRE(out.ready());
    REQUIRE(out->partitions.size() == 1);
    return out->partitions.front().offset;
  }

  msg::DescribeGroupsResponse::DescribedGroup describe(const std::string& group) {
    Answer<std::vector<msg::DescribeGroupsResponse::DescribedGroup>> out;
    coord.describe_groups({group}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    return out->front();
  }

  ErrorCode delete_group(const std::string& group) {
    Answer<std::vector<std::pair<std::string, ErrorCode>>> out;
    coord.delete_groups({group}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    return out->front().second;
  }

  // Moves the group's partition away and back: the coordinator rebuilds it from the log.
  void reload() {
    for (int32_t p = 0; p < kPartitions; ++p) coord.resigned(p);
    for (int32_t p = 0; p < kPartitions; ++p) coord.became_leader(p, kPartitions);
    loop.run();
  }
};

inline ErrorCode code_of(int16_t wire) { return static_cast<ErrorCode>(wire); }

// Two members joined and synced: "a" (leader) holds "A", "b" holds "B".
struct TwoMembers {
  Fixture f;
  std::string a, b;
  int32_t generation = 0;
  TwoMembers() {
    auto ja = f.join_new({});
    REQUIRE(ja.ready());  // alone: the rebalance completes at once
    a = ja->member_id;
    auto sa = f.sync("g", ja->generation_id, a, {{a, "A"}});
    REQUIRE(sa.ready());
    auto jb = f.join_new({});
    REQUIRE_FALSE(jb.ready());  // waits for "a" to rejoin
    REQUIRE(f.heartbeat("g", ja->generation_id, a) == ErrorCode::REBALANCE_IN_PROGRESS);
    auto ja2 = f.join({.member_id = a});
    REQUIRE(ja2.ready());
    REQUIRE(jb.ready());
    b = jb->member_id;
    generation = ja2->generation_id;
    auto sb = f.sync("g", generation, b);
    REQUIRE_FALSE(sb.ready());  // waits for the leader's assignment
    auto sa2 = f.sync("g", generation, a, {{a, "A"}, {b, "B"}});
    REQUIRE(sa2.ready());
    REQUIRE(sb.ready());
    REQUIRE(std::string(sb->assignment.begin(), sb->assignment.end()) == "B");
  }
};

}  // namespace kb::coordinator::test
