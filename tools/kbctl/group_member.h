// `kbctl topic consume -g GROUP`: a member of a classic consumer group (protocol type
// "consumer", the range assignor), as Kafka's consumer is: JoinGroup, SyncGroup (assigning
// the partitions of every member's subscription when it is the leader), Heartbeat, and
// OffsetCommit under its generation, so the group shows it as a member and its lag.
//
// Owner: the consume command. Threads: the caller's only; heartbeat() is called between
// fetches (they long-poll at most 500 ms, well inside the session timeout).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/kbctl/client.h"

namespace kb::kbctl {

class GroupMember {
 public:
  GroupMember(Client& client, std::string group, std::string topic);

  // Joins (or rejoins after a rebalance) and returns this member's partitions of the topic.
  std::vector<int32_t> join();
  // Sends a heartbeat when one is due; true when the group is rebalancing (commit, then join()).
  bool rebalance_needed();
  // Commits `positions` (partition -> next offset) under the current generation.
  void commit(const std::map<int32_t, int64_t>& positions);
  // LeaveGroup, so the others rebalance at once rather than after the session timeout.
  void leave();

  int32_t coordinator() const { return coordinator_; }

 private:
  Client& client_;
  const std::string group_, topic_;
  int32_t coordinator_ = -1;
  std::string member_id_;
  int32_t generation_ = -1;
  int64_t next_heartbeat_ms_ = 0;
};

}  // namespace kb::kbctl
