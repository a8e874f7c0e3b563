// ReplicaManager::apply_delta: what was Broker::on_metadata's replica part, now driven by
// the changes a metadata delta names (replica_delta.h) instead of a rescan of every topic.
#include <spdlog/spdlog.h>

#include "replication/replica_delta.h"
#include "replication/replica_fetcher.h"
#include "replication/replica_manager.h"

namespace kb::replication {

void ReplicaManager::apply_delta(const LocalChanges& changes, const DeltaEnvironment& env) {
  // Deleted topics: no more fetching, and the replica goes with its files.
  auto drop = [&](const TopicPartition& tp) {
    if (auto* f = env.existing_fetchers()) f->remove(tp);
    if (auto s = remove(tp, true); !s.ok())
      spdlog::error("deleting the log of {} failed: {}", tp.to_string(), s.error().message);
  };
  for (const TopicPartition& tp : changes.deletes) drop(tp);
  // Replicas moved off this broker (a reassignment): the same, but a leader stops leading
  // first, so that acks=all produces waiting for its high watermark answer
  // NOT_LEADER_OR_FOLLOWER now (the producer retries at the new leader) rather than at their
  // timeout.
  for (const LocalReplica& r : changes.moved_off) {
    auto existing = get(r.tp);
    if (!existing) continue;
    if (auto* f = env.existing_fetchers()) f->remove(r.tp);
    if (existing->is_leader()) (void)become_follower(r.tp, r.topic_id, r.state, env.log_config(r.topic_configs));
    drop(r.tp);
    spdlog::info("{}: no longer a replica here; its log is deleted", r.tp.to_string());
  }
  auto tune = [&](Partition& part, const LocalReplica& r) {
    part.set_min_insync_replicas(env.min_insync_replicas(r.topic_configs));
    part.set_replica_lag_time_max_ms(env.replica_lag_time_max_ms);
  };
  for (const LocalReplica& r : changes.leaders) {
    const storage::LogConfig lc = env.log_config(r.topic_configs);
    auto existing = get(r.tp);
    std::shared_ptr<Partition> part;
    if (existing && existing->is_leader() && existing->leader_epoch() == r.state.leader_epoch) {
      // ISR, replicas, partition epoch. A smaller ISR may move the high watermark: the
      // acks=all produces and fetches waiting for it go on.
      update_state(*existing, r.state, env.now_ms);
      part = existing;
    } else {
      if (auto* f = env.existing_fetchers()) f->remove(r.tp);
      auto made = become_leader(r.tp, r.topic_id, r.state, lc, env.now_ms);
      if (!made.ok()) {
        spdlog::error("cannot open the log of {}: {}", r.tp.to_string(), made.error().message);
        continue;
      }
      part = made.value();
    }
    tune(*part, r);
  }
  for (const LocalReplica& r : changes.followers) {
    const storage::LogConfig lc = env.log_config(r.topic_configs);
    auto existing = get(r.tp);
    std::shared_ptr<Partition> part;
    if (existing && !existing->is_leader() && existing->leader() == r.state.leader &&
        existing->leader_epoch() == r.state.leader_epoch) {
      existing->update_state(r.state, env.now_ms);
      part = existing;
    } else {
      auto made = become_follower(r.tp, r.topic_id, r.state, lc);
      if (!made.ok()) {
        spdlog::error("cannot open the log of {}: {}", r.tp.to_string(), made.error().message);
        continue;
      }
      part = made.value();
    }
    // A leader's address or fencing may change without a new epoch.
    if (auto address = env.leader_address(r.state.leader))
      env.fetchers().add_or_update(r.tp, r.topic_id, r.state.leader, *address, r.state.leader_epoch);
    else if (auto* f = env.existing_fetchers())
      f->remove(r.tp);
    tune(*part, r);
  }
  for (const auto& [topic, overrides] : changes.reconfigured) {
    update_config(topic, env.log_config(overrides));
    const int32_t min_isr = env.min_insync_replicas(overrides);
    for (const auto& part : all())
      if (part->tp().topic == topic) part->set_min_insync_replicas(min_isr);
  }
}

}  // namespace kb::replication
