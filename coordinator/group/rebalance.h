// The classic group protocol's membership and generations (Kafka's GroupCoordinator join,
// sync, heartbeat and leave paths): members join and leave, a rebalance gathers them into a
// new generation whose leader assigns partitions, and the timers that keep it moving — each
// member's session timeout, the rebalance timeout, group.initial.rebalance.delay.ms for a new
// group, the sync timeout, and the pending-member timeout of ids handed out with
// MEMBER_ID_REQUIRED. A completed generation is written to __consumer_offsets (group
// metadata) before its members get their assignment.
//
// State moves only along Kafka's legal transitions (Group::transition_to):
//   Empty/Stable/CompletingRebalance -> PreparingRebalance -> CompletingRebalance -> Stable,
//   PreparingRebalance -> Empty when nobody rejoined.
//
// Owner: GroupCoordinator's Impl. Threads: the coordinator's loop only; timers and log
// completions do nothing once the coordinator is gone (GroupTable::alive).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "coordinator/group/group_table.h"
#include "protocol/messages/heartbeat_request.h"
#include "protocol/messages/join_group_request.h"
#include "protocol/messages/leave_group_request.h"
#include "protocol/messages/leave_group_response.h"
#include "protocol/messages/sync_group_request.h"

namespace kb::coordinator {

// Who sent a request (member ids start with the client id; DescribeGroups shows both).
struct ClientInfo {
  std::string client_id;
  std::string client_host;
  int16_t api_version = 0;
};

msg::JoinGroupResponse join_error(ErrorCode code, const std::string& member_id = "");
msg::SyncGroupResponse sync_error(ErrorCode code);

class Rebalancer {
 public:
  explicit Rebalancer(GroupTable& table) : t_(table) {}

  void join_group(const msg::JoinGroupRequest& req, const ClientInfo& client, JoinCallback done);
  void sync_group(msg::SyncGroupRequest req, SyncCallback done);
  ErrorCode heartbeat(const msg::HeartbeatRequest& req);
  msg::LeaveGroupResponse leave_group(const msg::LeaveGroupRequest& req, int16_t version);

  // A member showed it is alive (a heartbeat, a commit): its session starts again.
  void schedule_session_timeout(Group& g, Member& m);
  // Answers whatever the group's members wait for with `code` and cancels its timers (the
  // group moves away, is deleted, or the coordinator stops).
  void drop(Group& g, ErrorCode code);

 private:
  // ---- generations (rebalance.cc) ----
  void schedule_pending_timeout(Group& g, const std::string& member_id, int32_t session_timeout_ms);
  void on_session_timeout(const std::string& group_id, const std::string& member_id);
  bool can_rebalance(const Group& g) const;
  void maybe_prepare_rebalance(Group& g, const std::string& reason);
  void prepare_rebalance(Group& g, const std::string& reason);
  void on_initial_delay(const std::string& group_id);
  void on_join_timeout(const std::string& group_id);
  void maybe_complete_join(Group& g);
  void complete_join(Group& g);
  void on_sync_timeout(const std::string& group_id, int32_t generation);
  void finish_sync(const std::string& group_id, int32_t generation,
                   const std::map<std::string, std::vector<uint8_t>>& assignments, ErrorCode stored);
  void reset_and_propagate_sync_error(Group& g, ErrorCode code);
  void remove_member(Group& g, const std::string& member_id);
  void remove_member_and_update(Group& g, const std::string& member_id);
  msg::JoinGroupResponse current_generation_response(const Group& g, const Member& m, bool with_members,
                                                     bool skip_assignment = false) const;
  msg::SyncGroupResponse sync_ok(const Group& g, const Member& m) const;
  // Writes the group's metadata (generation, members, `assignments`) to __consumer_offsets.
  void store_group(Group& g, const std::map<std::string, std::vector<uint8_t>>& assignments,
                   std::function<void(ErrorCode)> done);

  // ---- joining (join.cc) ----
  Member& add_member(Group& g, const std::string& member_id, const msg::JoinGroupRequest& req,
                     const ClientInfo& client, int32_t rebalance_timeout, JoinCallback done);
  void add_member_and_rebalance(Group& g, const std::string& member_id, const msg::JoinGroupRequest& req,
                                const ClientInfo& client, int32_t rebalance_timeout, JoinCallback done);
  void update_member_and_rebalance(Group& g, Member& m, const msg::JoinGroupRequest& req, const ClientInfo& client,
                                   int32_t rebalance_timeout, JoinCallback done);
  bool accept_joining_member(const Group& g, const std::string& member_id) const;
  void discard_if_unused(Group& g);
  void join_unknown_member(Group& g, const msg::JoinGroupRequest& req, const ClientInfo& client,
                           int32_t rebalance_timeout, JoinCallback done);
  void replace_static_member(Group& g, std::string old_id, const std::string& new_id,
                             const msg::JoinGroupRequest& req, const ClientInfo& client, int32_t rebalance_timeout,
                             JoinCallback done);
  void join_known_member(Group& g, const msg::JoinGroupRequest& req, const ClientInfo& client,
                         int32_t rebalance_timeout, JoinCallback done);

  GroupTable& t_;
};

}  // namespace kb::coordinator
