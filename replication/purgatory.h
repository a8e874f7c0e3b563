// Kafka's "purgatory": operations that cannot answer yet (a fetch waiting for max.wait.ms /
// min.bytes, an acks=all produce waiting for the high watermark) wait here, keyed by
// partition, until an event on one of their keys (new data appended, high watermark moved,
// leadership lost, partition removed) lets them complete, or their timeout fires. No thread
// is parked: a waiting operation is an object in a list and a timer entry.
//
// Every operation ends exactly once: by completing, by its timeout (force_complete), or by
// complete_all at shutdown. Completing cancels its timer; a timeout takes it off its keys.
//
// Owner: ReplicaManager (one purgatory for fetches, one for produces). Thread-safety: every
// method may be called from any thread. Completion runs on the thread that triggered it (the
// appending thread, a follower's fetch, a role change, or the loop its timeouts fire on); the
// purgatory holds no lock while it runs.
//
// Timeouts are timers of a runtime::EventLoop (Kafka's purgatory timer and expiration reaper):
// the ReplicaManager's own `kb-purgatory` LoopThread in the broker, a runtime::ManualLoop in
// unit tests (a timeout is then a step of the test, not a wait). Operations are armed and
// completed on any thread; the loop's timers allow that (runtime/event_loop.h).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "protocol/kb_assert.h"
#include "protocol/types.h"
#include "runtime/event_loop.h"

namespace kb::replication {

class DelayedOperation {
 public:
  virtual ~DelayedOperation() = default;
  // Completes the operation if it can complete now. True if it is (now or already) complete.
  bool try_complete() {
    if (completed()) return true;
    if (!can_complete()) return false;
    force_complete();
    return true;
  }
  // Completes it now, whatever its state (timeout, shutdown). Only the first call cancels the
  // timer and runs on_complete(); returns whether this call did.
  bool force_complete() {
    if (completed_.exchange(true, std::memory_order_acq_rel)) return false;
    std::shared_ptr<runtime::Timer> t;
    {
      std::lock_guard lk(timer_mu_);
      t = std::move(timer_);
    }
    if (t) t->cancel();
    on_complete();
    return true;
  }
  bool completed() const { return completed_.load(std::memory_order_acquire); }

  // The timeout guarding this operation (set once by the purgatory). Cancelled at once when
  // the operation completed meanwhile.
  void set_timer(std::shared_ptr<runtime::Timer> t) {
    {
      std::lock_guard lk(timer_mu_);
      KB_ASSERT(!timer_, "a delayed operation is armed once");
      if (!completed()) {
        timer_ = std::move(t);
        return;
      }
    }
    t->cancel();
  }

 protected:
  // May run on several threads at once (appends and follower fetches of different
  // partitions); implementations guard their own state.
  virtual bool can_complete() = 0;
  // Runs once.
  virtual void on_complete() = 0;

 private:
  friend class Purgatory;
  std::vector<TopicPartition> keys_;  // what it is watched under; set before it is shared
  std::atomic<bool> completed_{false};
  std::mutex timer_mu_;
  std::shared_ptr<runtime::Timer> timer_;
};

class Purgatory {
 public:
  explicit Purgatory(runtime::EventLoop& loop) : loop_(loop) {}

  // Kafka's tryCompleteElseWatch, for an operation its caller just found unable to complete:
  // watches it under every key, tries it once more (an event between the caller's try and
  // the watch is not missed), and arms its timeout (expiry forces completion and drops it
  // from its keys).
  void try_complete_else_watch(const std::shared_ptr<DelayedOperation>& op, const std::vector<TopicPartition>& keys,
                               int64_t timeout_ms) {
    op->keys_ = keys;
    watch(keys, op);
    if (op->try_complete()) {
      for (const auto& k : keys) purge(k);
      return;
    }
    std::weak_ptr<DelayedOperation> weak = op;
    op->set_timer(loop_.after_ms(timeout_ms, [this, weak, keys] {
      auto o = weak.lock();
      if (!o || !o->force_complete()) return;
      for (const auto& k : keys) purge(k);
    }));
  }

  // Something changed for `key`: complete what can complete, and forget the completed ones
  // under all their keys (a fetch over many partitions that completes on one must not stay
  // listed on the others until they see an event).
  void check(const TopicPartition& key) {
    std::vector<std::shared_ptr<DelayedOperation>> ops;
    {
      std::lock_guard lk(mu_);
      auto it = watchers_.find(key);
      if (it == watchers_.end()) return;
      ops = it->second;
    }
    std::vector<TopicPartition> done_keys;
    for (auto& op : ops)
      if (op->try_complete()) done_keys.insert(done_keys.end(), op->keys_.begin(), op->keys_.end());
    for (const auto& k : done_keys) purge(k);
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

  // Operations waiting, counted once per key they wait on (tests, metrics).
  size_t watching() const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (const auto& [k, v] : watchers_) n += v.size();
    return n;
  }

 private:
  void watch(const std::vector<TopicPartition>& keys, const std::shared_ptr<DelayedOperation>& op) {
    std::lock_guard lk(mu_);
    for (const auto& k : keys) watchers_[k].push_back(op);
  }

  // Drops completed operations from `key`.
  void purge(const TopicPartition& key) {
    std::lock_guard lk(mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end()) return;
    auto& v = it->second;
    std::erase_if(v, [](const auto& op) { return op->completed(); });
    if (v.empty()) watchers_.erase(it);
  }

  runtime::EventLoop& loop_;
  mutable std::mutex mu_;
  std::unordered_map<TopicPartition, std::vector<std::shared_ptr<DelayedOperation>>> watchers_;
};

}  // namespace kb::replication
