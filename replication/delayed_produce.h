// An acks=all produce waiting in the purgatory until the high watermark has passed its
// records on every partition it wrote (the ISR has them), or its timeout. Kafka's
// DelayedProduce: on completion a partition whose ISR shrank below min.insync.replicas
// answers NOT_ENOUGH_REPLICAS_AFTER_APPEND (the records are written but not as durable as
// asked); one still waiting at the timeout answers REQUEST_TIMED_OUT, and one whose replica
// stopped leading meanwhile NOT_LEADER_OR_FOLLOWER.
//
// Owner: the produce handler creates it; the purgatory and its timer hold it.
// Thread-safety: DelayedOperation's (completion runs once, on whichever thread triggers it).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "replication/partition.h"
#include "replication/purgatory.h"

namespace kb::replication {

class DelayedProduce final : public DelayedOperation {
 public:
  struct Waiting {
    std::shared_ptr<Partition> partition;
    Offset required;  // the high watermark must reach it: last appended offset + 1
    ErrorCode result = ErrorCode::NONE;
    bool done = false;
  };

  DelayedProduce(std::vector<Waiting> waiting, std::function<void(const std::vector<Waiting>&)> on_done)
      : waiting_(std::move(waiting)), on_done_(std::move(on_done)) {}

  std::vector<TopicPartition> keys() const {
    std::vector<TopicPartition> out;
    for (const auto& w : waiting_) out.push_back(w.partition->tp());
    return out;
  }

 protected:
  bool can_complete() override {
    std::lock_guard lk(mu_);
    bool all = true;
    for (auto& w : waiting_) {
      if (w.done) continue;
      if (!w.partition->is_leader()) {
        // Leadership moved while waiting: the new leader may not have these records (Kafka
        // answers NOT_LEADER_OR_FOLLOWER; the producer retries there).
        w.done = true;
        w.result = ErrorCode::NOT_LEADER_OR_FOLLOWER;
      } else if (w.partition->high_watermark() >= w.required) {
        w.done = true;
        w.result = w.partition->enough_in_sync_for_acks_all() ? ErrorCode::NONE
                                                              : ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND;
      } else {
        all = false;
      }
    }
    return all;
  }

  void on_complete() override {
    std::vector<Waiting> out;
    {
      std::lock_guard lk(mu_);
      for (auto& w : waiting_)
        if (!w.done) {
          w.done = true;
          w.result = ErrorCode::REQUEST_TIMED_OUT;
        }
      out = waiting_;
    }
    on_done_(out);
  }

 private:
  std::mutex mu_;  // can_complete may run on several threads at once (appends, follower fetches)
  std::vector<Waiting> waiting_;
  std::function<void(const std::vector<Waiting>&)> on_done_;
};

}  // namespace kb::replication
