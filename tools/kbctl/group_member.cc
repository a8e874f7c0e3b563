#include "tools/kbctl/group_member.h"

#include <algorithm>
#include <set>

#include "protocol/messages/heartbeat_request.h"
#include "protocol/messages/heartbeat_response.h"
#include "protocol/messages/join_group_request.h"
#include "protocol/messages/join_group_response.h"
#include "protocol/messages/leave_group_request.h"
#include "protocol/messages/leave_group_response.h"
#include "protocol/messages/offset_commit_request.h"
#include "protocol/messages/offset_commit_response.h"
#include "protocol/messages/sync_group_request.h"
#include "protocol/messages/sync_group_response.h"
#include "protocol/wire.h"
#include "runtime/clock.h"
#include "tools/kbctl/kbctl.h"

namespace kb::kbctl {

namespace {

constexpr int32_t kSessionTimeoutMs = 30000;
constexpr int32_t kRebalanceTimeoutMs = 60000;
constexpr int64_t kHeartbeatIntervalMs = 3000;  // Kafka's heartbeat.interval.ms default
constexpr const char* kAssignor = "range";

// ConsumerProtocolSubscription v0: int16 version, [topic], nullable user data.
std::vector<uint8_t> subscription(const std::string& topic) {
  wire::Writer w;
  w.write_int16(0);
  w.write_array_length(1);
  w.write_string(topic);
  w.write_int32(-1);
  return std::move(w.buffer());
}

std::vector<std::string> subscribed_topics(const std::vector<uint8_t>& bytes) {
  std::vector<std::string> out;
  if (bytes.size() < 2) return out;
  wire::Reader r(std::span<const uint8_t>(bytes.data(), bytes.size()));
  r.read_int16();
  int32_t n = r.read_int32();
  for (int32_t i = 0; r.ok() && i < n; ++i) out.push_back(r.read_string());
  if (!r.ok()) out.clear();
  return out;
}

// ConsumerProtocolAssignment v0: int16 version, [topic, [partition]], nullable user data.
std::vector<uint8_t> assignment(const std::map<std::string, std::vector<int32_t>>& parts) {
  wire::Writer w;
  w.write_int16(0);
  w.write_array_length(static_cast<int32_t>(parts.size()));
  for (const auto& [topic, ps] : parts) {
    w.write_string(topic);
    w.write_array_length(static_cast<int32_t>(ps.size()));
    for (int32_t p : ps) w.write_int32(p);
  }
  w.write_int32(-1);
  return std::move(w.buffer());
}

std::vector<int32_t> partitions_of(const std::vector<uint8_t>& bytes, const std::string& topic) {
  std::vector<int32_t> out;
  if (bytes.size() < 2) return out;
  wire::Reader r(std::span<const uint8_t>(bytes.data(), bytes.size()));
  r.read_int16();
  int32_t topics = r.read_int32();
  for (int32_t i = 0; r.ok() && i < topics; ++i) {
    std::string t = r.read_string();
    int32_t n = r.read_int32();
    for (int32_t j = 0; r.ok() && j < n; ++j) {
      int32_t p = r.read_int32();
      if (t == topic) out.push_back(p);
    }
  }
  if (!r.ok()) out.clear();
  return out;
}

}  // namespace

GroupMember::GroupMember(Client& client, std::string group, std::string topic)
    : client_(client), group_(std::move(group)), topic_(std::move(topic)) {}

std::vector<int32_t> GroupMember::join() {
  for (int attempt = 0;; ++attempt) {
    if (attempt > 20) fail(Error{ErrorCode::REBALANCE_IN_PROGRESS, "group " + group_ + " kept rebalancing"});
    coordinator_ = must(client_.coordinator(group_));
    msg::JoinGroupRequest jreq;
    jreq.group_id = group_;
    jreq.session_timeout_ms = kSessionTimeoutMs;
    jreq.rebalance_timeout_ms = kRebalanceTimeoutMs;
    jreq.member_id = member_id_;
    jreq.protocol_type = "consumer";
    auto& proto = jreq.protocols.emplace_back();
    proto.name = kAssignor;
    proto.metadata = subscription(topic_);
    auto join = must(client_.call<msg::JoinGroupRequest, msg::JoinGroupResponse>(coordinator_, jreq, 7));
    auto code = static_cast<ErrorCode>(join.error_code);
    if (code == ErrorCode::MEMBER_ID_REQUIRED) {  // v4+: join again with the id it gave
      member_id_ = join.member_id;
      continue;
    }
    if (code == ErrorCode::UNKNOWN_MEMBER_ID) {
      member_id_.clear();
      continue;
    }
    if (code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE ||
        code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS || code == ErrorCode::REBALANCE_IN_PROGRESS)
      continue;
    if (code != ErrorCode::NONE) fail(Error{code, "joining group " + group_ + ": " + client_.refusal(coordinator_, code)});
    member_id_ = join.member_id;
    generation_ = join.generation_id;

    msg::SyncGroupRequest sreq;
    sreq.group_id = group_;
    sreq.generation_id = generation_;
    sreq.member_id = member_id_;
    sreq.protocol_type = "consumer";
    sreq.protocol_name = kAssignor;
    if (join.leader == member_id_) {
      // The range assignor: per topic, members sorted by id, each a contiguous range, the first
      // (partitions % members) one more.
      std::map<std::string, std::vector<std::string>> members_of;
      for (const auto& m : join.members)
        for (const auto& t : subscribed_topics(m.metadata)) members_of[t].push_back(m.member_id);
      std::vector<std::string> topics;
      for (const auto& [t, ms] : members_of) topics.push_back(t);
      auto md = must(client_.metadata(topics));
      std::map<std::string, std::map<std::string, std::vector<int32_t>>> plan;  // member -> topic -> parts
      for (const auto& m : join.members) plan[m.member_id];
      for (auto& [t, ms] : members_of) {
        int32_t count = 0;
        for (const auto& mt : md.topics)
          if (mt.name == t && mt.error_code == 0) count = static_cast<int32_t>(mt.partitions.size());
        std::sort(ms.begin(), ms.end());
        const int32_t n = static_cast<int32_t>(ms.size());
        int32_t next = 0;
        for (int32_t i = 0; i < n; ++i) {
          int32_t take = count / n + (i < count % n ? 1 : 0);
          auto& mine = plan[ms[static_cast<size_t>(i)]][t];
          for (int32_t k = 0; k < take; ++k) mine.push_back(next++);
        }
      }
      for (const auto& [member, parts] : plan) {
        auto& a = sreq.assignments.emplace_back();
        a.member_id = member;
        a.assignment = assignment(parts);
      }
    }
    auto sync = must(client_.call<msg::SyncGroupRequest, msg::SyncGroupResponse>(coordinator_, sreq, 5));
    code = static_cast<ErrorCode>(sync.error_code);
    if (code == ErrorCode::REBALANCE_IN_PROGRESS || code == ErrorCode::ILLEGAL_GENERATION) continue;
    if (code == ErrorCode::UNKNOWN_MEMBER_ID) {
      member_id_.clear();
      continue;
    }
    if (code != ErrorCode::NONE) fail(Error{code, "joining group " + group_ + ": " + client_.refusal(coordinator_, code)});
    next_heartbeat_ms_ = runtime::steady_ms() + kHeartbeatIntervalMs;
    auto mine = partitions_of(sync.assignment, topic_);
    std::sort(mine.begin(), mine.end());
    return mine;
  }
}

bool GroupMember::rebalance_needed() {
  const int64_t now = runtime::steady_ms();
  if (now < next_heartbeat_ms_) return false;
  next_heartbeat_ms_ = now + kHeartbeatIntervalMs;
  msg::HeartbeatRequest req;
  req.group_id = group_;
  req.generation_id = generation_;
  req.member_id = member_id_;
  auto resp = client_.call<msg::HeartbeatRequest, msg::HeartbeatResponse>(coordinator_, req, 4);
  if (!resp.ok()) return false;  // the next heartbeat tries again; the session outlasts a hiccup
  auto code = static_cast<ErrorCode>(resp->error_code);
  return code == ErrorCode::REBALANCE_IN_PROGRESS || code == ErrorCode::ILLEGAL_GENERATION ||
         code == ErrorCode::UNKNOWN_MEMBER_ID || code == ErrorCode::NOT_COORDINATOR;
}

void GroupMember::commit(const std::map<int32_t, int64_t>& positions) {
  if (positions.empty()) return;
  msg::OffsetCommitRequest req;
  req.group_id = group_;
  req.generation_id_or_member_epoch = generation_;
  req.member_id = member_id_;
  auto& t = req.topics.emplace_back();
  t.name = topic_;
  for (const auto& [p, o] : positions) {
    auto& cp = t.partitions.emplace_back();
    cp.partition_index = p;
    cp.committed_offset = o;
  }
  auto resp = must(client_.call<msg::OffsetCommitRequest, msg::OffsetCommitResponse>(coordinator_, req, 8));
  for (const auto& rt : resp.topics)
    for (const auto& p : rt.partitions)
      if (auto code = static_cast<ErrorCode>(p.error_code); code != ErrorCode::NONE)
        fail(Error{code, "committing " + rt.name + "-" + std::to_string(p.partition_index) + " for group " + group_ +
                             ": " + client_.refusal(coordinator_, code)});
}

void GroupMember::leave() {
  if (member_id_.empty()) return;
  msg::LeaveGroupRequest req;
  req.group_id = group_;
  req.member_id = member_id_;
  req.members.emplace_back().member_id = member_id_;
  (void)client_.call<msg::LeaveGroupRequest, msg::LeaveGroupResponse>(coordinator_, req, 4);
}

}  // namespace kb::kbctl
