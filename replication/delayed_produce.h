// An append with acks=all waiting in the produce purgatory until the high watermark has passed
// its records on every partition it wrote (the ISR has them), or its timeout (Kafka's
// DelayedProduce). Each waiting partition ends on its own: NONE when the high watermark
// passes, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below min.insync.replicas
// meanwhile (the records are written but not as durable as asked), NOT_LEADER_OR_FOLLOWER when
// its replica stopped leading, the missing-partition error when the replica is gone (deleted,
// moved off this broker) and REQUEST_TIMED_OUT when still waiting at the timeout. The answer
// goes out once every partition has ended.
//
// Owner: ReplicaManager::append_records creates it; the purgatory and its timer hold it.
// Thread-safety: DelayedOperation's (can_complete on several threads, completion once).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "replication/purgatory.h"
#include "replication/replica_manager.h"

namespace kb::replication {

class DelayedProduce final : public DelayedOperation {
 public:
  struct Waiting {
    size_t index;  // in the results
    std::shared_ptr<Partition> partition;
    Offset required;  // the high watermark must reach it: last appended offset + 1
    bool done = false;
  };

  DelayedProduce(ReplicaManager& replicas, std::vector<AppendResult> results, std::vector<Waiting> waiting,
                 std::function<void(std::vector<AppendResult>)> done)
      : replicas_(replicas), results_(std::move(results)), waiting_(std::move(waiting)), done_(std::move(done)) {}

  std::vector<TopicPartition> keys() const;

 protected:
  bool can_complete() override;
  void on_complete() override;

 private:
  ReplicaManager& replicas_;
  std::mutex mu_;  // guards results_ and waiting_
  std::vector<AppendResult> results_;
  std::vector<Waiting> waiting_;
  std::function<void(std::vector<AppendResult>)> done_;
};

}  // namespace kb::replication
