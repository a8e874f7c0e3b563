// The replicas this broker hosts, by partition. The broker turns metadata image changes into
// become_leader / become_follower / remove calls; request handlers and the follower fetcher
// look partitions up here.
//
// Owner: Broker. Thread-safety: all methods may be called from any thread (a shared mutex
// guards the map; lookups are the hot path and take it shared).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <vector>

#include "replication/partition.h"
#include "replication/purgatory.h"
#include "storage/log_manager.h"

namespace kb::replication {

class ReplicaManager {
 public:
  ReplicaManager(storage::LogManager& logs, int32_t node_id) : logs_(logs), node_id_(node_id) {}
  int32_t node_id() const { return node_id_; }

  // Creates (or updates) the local replica of `tp` as leader. Opens or creates its log.
  Result<std::shared_ptr<Partition>> become_leader(const TopicPartition& tp, const Uuid& topic_id,
                                                   int32_t leader_epoch,
                                                   std::vector<int32_t> replicas,
                                                   const storage::LogConfig& config);
  // The replica of `tp` in the role the metadata gives it (Partition::become_leader /
  // become_follower; see there), created with its log when this broker had none. Waiting
  // fetches and acks=all produces of a replica that stops leading are answered now.
  Result<std::shared_ptr<Partition>> become_leader(const TopicPartition& tp, const Uuid& topic_id,
                                                   const PartitionState& state,
                                                   const storage::LogConfig& config, int64_t now_ms);
  Result<std::shared_ptr<Partition>> become_follower(const TopicPartition& tp, const Uuid& topic_id,
                                                     const PartitionState& state,
                                                     const storage::LogConfig& config);
  // Stops hosting `tp`; with `delete_log` its files are removed (topic deletion).
  Status remove(const TopicPartition& tp, bool delete_log);

  std::shared_ptr<Partition> get(const TopicPartition& tp) const;
  std::vector<std::shared_ptr<Partition>> all() const;
  void update_config(const std::string& topic, const storage::LogConfig& config);

  // Waiting fetches, keyed by partition; completed by appends.
  Purgatory& fetch_purgatory() { return fetch_purgatory_; }
  // Waiting acks=all produces, keyed by partition; completed when the high watermark moves.
  Purgatory& produce_purgatory() { return produce_purgatory_; }

 private:
  // The replica of `tp`, created (log opened or made) in `state`'s role when missing; `created`
  // tells which.
  Result<std::shared_ptr<Partition>> get_or_create(const TopicPartition& tp, const Uuid& topic_id,
                                                   const PartitionState& state,
                                                   const storage::LogConfig& config, int64_t now_ms,
                                                   bool& created);

  storage::LogManager& logs_;
  const int32_t node_id_;
  mutable std::shared_mutex mu_;
  std::map<TopicPartition, std::shared_ptr<Partition>> partitions_;
  Purgatory fetch_purgatory_;
  Purgatory produce_purgatory_;
};

}  // namespace kb::replication
