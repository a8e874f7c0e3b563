// A fetch waiting in the fetch purgatory (Kafka's DelayedFetch) for min.bytes of new data up
// to its read bound, or for max.wait.ms. It also completes early when a partition's answer
// would be an error now (the replica stopped leading, went away, or its leader epoch no longer
// matches the fetch's) and, for a follower, when a partition's high watermark moved past what
// the first read answered (followers learn the high watermark without waiting for records, so
// a new leader starts from an up-to-date one). On completion the fetch is read again and
// answered; nothing of the first read is kept.
//
// Owner: ReplicaManager::fetch_records creates it; the purgatory and its timer hold it.
// Thread-safety: DelayedOperation's.
#pragma once

#include <functional>
#include <vector>

#include "replication/purgatory.h"
#include "replication/replica_manager.h"

namespace kb::replication {

class DelayedFetch final : public DelayedOperation {
 public:
  // `hw_seen`: a follower fetch's high watermark per partition as first answered.
  DelayedFetch(ReplicaManager& replicas, FetchParams params, std::vector<int64_t> hw_seen,
               std::function<void(std::vector<FetchPartitionResult>)> done)
      : replicas_(replicas), params_(std::move(params)), hw_seen_(std::move(hw_seen)), done_(std::move(done)) {}

  std::vector<TopicPartition> keys() const;

 protected:
  bool can_complete() override;
  void on_complete() override;

 private:
  ReplicaManager& replicas_;
  const FetchParams params_;
  const std::vector<int64_t> hw_seen_;
  std::function<void(std::vector<FetchPartitionResult>)> done_;
};

}  // namespace kb::replication
