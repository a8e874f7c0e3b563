// The broker's GroupLog: __consumer_offsets partitions hosted by this broker's ReplicaManager.
//
// Owner: the Broker. Threads: called on the coordinator's loop; completions are posted back
// to it.
#pragma once

#include "controller/group/event_loop.h"
#include "controller/group/group_log.h"
#include "replication/replica_manager.h"

namespace kb::coordinator {

class ReplicaGroupLog final : public GroupLog {
 public:
  static constexpr const char* kTopic = "__consumer_offsets";

  ReplicaGroupLog(replication::ReplicaManager& replicas, EventLoop& loop) : replicas_(replicas), loop_(loop) {}

  void append(int32_t partition, const std::vector<GroupRecord>& records,
              std::function<void(Result<int64_t>)> done) override;
  Status replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn) override;

 private:
  replication::ReplicaManager& replicas_;
  EventLoop& loop_;
};

}  // namespace kb::coordinator
