#include "replication/replica_manager.h"

#include <spdlog/spdlog.h>

namespace kb::replication {

Result<std::shared_ptr<Partition>> ReplicaManager::become_leader(const TopicPartition& tp,
                                                                 const Uuid& topic_id,
                                                                 int32_t leader_epoch,
                                                                 std::vector<int32_t> replicas,
                                                                 const storage::LogConfig& config) {
  {
    std::shared_lock lk(mu_);
    auto it = partitions_.find(tp);
    if (it != partitions_.end()) {
      it->second->update_leadership(leader_epoch, std::move(replicas), node_id_);
      return it->second;
    }
  }
  auto log = logs_.get_or_create(tp, config);
  if (!log.ok()) return log.error();
  auto p = std::make_shared<Partition>(tp, topic_id, std::move(log.value()), leader_epoch,
                                       std::move(replicas), node_id_);
  std::unique_lock lk(mu_);
  auto [it, inserted] = partitions_.emplace(tp, p);
  return it->second;
}

Result<std::shared_ptr<Partition>> ReplicaManager::get_or_create(const TopicPartition& tp, const Uuid& topic_id,
                                                                 const PartitionState& state,
                                                                 const storage::LogConfig& config, int64_t now_ms,
                                                                 bool& created) {
  created = false;
  if (auto p = get(tp)) return p;
  auto log = logs_.get_or_create(tp, config);
  if (!log.ok()) return log.error();
  auto p = std::make_shared<Partition>(tp, topic_id, std::move(log.value()), node_id_, state, now_ms);
  std::unique_lock lk(mu_);
  auto [it, inserted] = partitions_.emplace(tp, p);
  created = inserted;
  return it->second;
}

Result<std::shared_ptr<Partition>> ReplicaManager::become_leader(const TopicPartition& tp, const Uuid& topic_id,
                                                                 const PartitionState& state,
                                                                 const storage::LogConfig& config,
                                                                 int64_t now_ms) {
  bool created = false;
  auto p = get_or_create(tp, topic_id, state, config, now_ms, created);
  if (!p.ok() || created) return p;
  if ((*p)->become_leader(state, now_ms)) {
    // Fetches that waited as followers' answer now (consumers may read here again).
    fetch_purgatory_.check(tp);
  }
  return p;
}

Result<std::shared_ptr<Partition>> ReplicaManager::become_follower(const TopicPartition& tp, const Uuid& topic_id,
                                                                   const PartitionState& state,
                                                                   const storage::LogConfig& config) {
  bool created = false;
  auto p = get_or_create(tp, topic_id, state, config, 0, created);
  if (!p.ok() || created) return p;
  if ((*p)->become_follower(state)) {
    // A leader no more: waiting acks=all produces answer NOT_LEADER_OR_FOLLOWER, waiting
    // fetches answer now (consumers go to the new leader).
    produce_purgatory_.check(tp);
    fetch_purgatory_.check(tp);
  }
  return p;
}

Status ReplicaManager::remove(const TopicPartition& tp, bool delete_log) {
  std::shared_ptr<Partition> p;
  {
    std::unique_lock lk(mu_);
    auto it = partitions_.find(tp);
    if (it == partitions_.end()) return {};
    p = std::move(it->second);
    partitions_.erase(it);
  }
  // A fetch waiting on this partition answers now rather than at max.wait.ms.
  fetch_purgatory_.check(tp);
  produce_purgatory_.check(tp);
  if (delete_log) return logs_.remove(tp);
  return {};
}

std::shared_ptr<Partition> ReplicaManager::get(const TopicPartition& tp) const {
  std::shared_lock lk(mu_);
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Partition>> ReplicaManager::all() const {
  std::shared_lock lk(mu_);
  std::vector<std::shared_ptr<Partition>> out;
  out.reserve(partitions_.size());
  for (const auto& [tp, p] : partitions_) out.push_back(p);
  return out;
}

void ReplicaManager::update_config(const std::string& topic, const storage::LogConfig& config) {
  std::shared_lock lk(mu_);
  for (auto it = partitions_.lower_bound(TopicPartition{topic, 0});
       it != partitions_.end() && it->first.topic == topic; ++it)
    it->second->log().set_config(config);
}

}  // namespace kb::replication
