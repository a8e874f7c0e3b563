// Kafka's "purgatory": operations that cannot answer yet (a fetch waiting for max.wait.ms /
// min.bytes, later acks=all produce and join-group) wait here, keyed by partition, until an
// event (new data appended, high watermark moved) lets them complete or their timer expires.
// No thread is parked: a waiting operation is just an object in a list.
//
// Thread-safety: every method may be called from any thread. Completion runs on the thread
// that triggered it (the appending thread, or the timer's loop).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "protocol/types.h"

namespace kb::replication {

class DelayedOperation {
 public:
  virtual ~DelayedOperation() = default;
  // Completes the operation if it can complete now. True if it is (now or already) complete.
  bool try_complete() {
    if (completed_.load(std::memory_order_acquire)) return true;
    if (!can_complete()) return false;
    force_complete();
    return true;
  }
  // Completes it now, whatever its state (timer expiry, shutdown). Only the first call runs
  // on_complete(); returns whether this call did.
  bool force_complete() {
    if (completed_.exchange(true, std::memory_order_acq_rel)) return false;
    on_complete();
    return true;
  }
  bool completed() const { return completed_.load(std::memory_order_acquire); }

 protected:
  virtual bool can_complete() = 0;
  virtual void on_complete() = 0;

 private:
  std::atomic<bool> completed_{false};
};

class Purgatory {
 public:
  // Watches `op` under every key, then tries it once more, so data that arrived between the
  // caller's first attempt and the watch is not missed.
  void watch(const std::vector<TopicPartition>& keys, const std::shared_ptr<DelayedOperation>& op) {
    {
      std::lock_guard lk(mu_);
      for (const auto& k : keys) watchers_[k].push_back(op);
    }
    op->try_complete();
  }

  // Something changed for `key`: complete what can complete, forget what is complete.
  void check(const TopicPartition& key) {
    std::vector<std::shared_ptr<DelayedOperation>> ops;
    {
      std::lock_guard lk(mu_);
      auto it = watchers_.find(key);
      if (it == watchers_.end()) return;
      ops = it->second;
    }
    bool any_done = false;
    for (auto& op : ops) any_done |= op->try_complete();
    if (any_done) purge(key);
  }

  // Forces every waiting operation to complete now (shutdown).
  void complete_all() {
    std::unordered_map<TopicPartition, std::vector<std::shared_ptr<DelayedOperation>>> all;
    {
      std::lock_guard lk(mu_);
      all.swap(watchers_);
    }
    for (auto& [k, ops] : all)
      for (auto& op : ops) op->force_complete();
  }

  // Drops completed operations (called by check, and by owners after a timer expiry).
  void purge(const TopicPartition& key) {
    std::lock_guard lk(mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end()) return;
    auto& v = it->second;
    std::erase_if(v, [](const auto& op) { return op->completed(); });
    if (v.empty()) watchers_.erase(it);
  }

  size_t watching() const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (const auto& [k, v] : watchers_) n += v.size();
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<TopicPartition, std::vector<std::shared_ptr<DelayedOperation>>> watchers_;
};

}  // namespace kb::replication
