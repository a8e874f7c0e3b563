// The replicas this broker hosts, by partition. The broker turns metadata image changes into
// become_leader / become_follower / remove calls; request handlers and the follower fetcher
// look partitions up here.
//
// Owner: Broker. Thread-safety: all methods may be called from any thread (a shared mutex
// guards the map; lookups are the hot path and take it shared).
#pragma once

#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <vector>

#include "replication/partition.h"
#include "replication/purgatory.h"
#include "storage/log_manager.h"

namespace kb::replication {

struct LocalChanges;
struct DeltaEnvironment;

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
  // Stops hosting `tp`; with `delete_log` its files are removed (topic deletion), also when it
  // is not hosted (a stray log).
  Status remove(const TopicPartition& tp, bool delete_log);

  // Writes every hosted replica's high watermark to `<log dir>/replication-offset-checkpoint`
  // (Kafka's file and format), keeping the checkpointed values of replicas not hosted yet (a
  // restarted broker takes its roles only once it caught up with the metadata). A replica
  // created later starts from its checkpointed high watermark (at most its log end) instead
  // of its log end: what was not known to be committed stays invisible to consumers until
  // the ISR has it again. The broker calls this every
  // replica.high.watermark.checkpoint.interval.ms and at shutdown.
  Status checkpoint_high_watermarks();

  // Idempotent producers: forgets those idle longer than `expiration_ms`
  // (producer.id.expiration.ms) in every hosted replica; returns how many. The broker calls
  // it every producer.id.expiration.check.interval.ms.
  size_t remove_expired_producers(int64_t now_ms, int64_t expiration_ms);
  // Writes every hosted replica's producer-state snapshot at its log end (clean shutdown,
  // after appends stopped), so the next start need not scan the logs for it.
  void write_producer_snapshots();

  // Carries out what a metadata change means for this broker's replicas (Kafka's
  // ReplicaManager.applyDelta): deletes, then the roles and states of the partitions to lead
  // and to follow (with the follower fetcher), then new log settings
  // (replica_manager_delta.cc).
  void apply_delta(const LocalChanges& changes, const DeltaEnvironment& env);

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

  // The checkpointed high watermark of `tp` in `log_dir` (the file is read once per dir).
  std::optional<int64_t> checkpointed_high_watermark(const std::filesystem::path& log_dir, const TopicPartition& tp);

  storage::LogManager& logs_;
  const int32_t node_id_;
  mutable std::shared_mutex mu_;
  std::map<TopicPartition, std::shared_ptr<Partition>> partitions_;
  // Per log dir, the replication-offset-checkpoint as read at the first replica created there
  // and updated by every checkpoint; entries go with their replica (remove).
  std::mutex checkpoint_mu_;
  std::map<std::filesystem::path, std::map<TopicPartition, int64_t>> checkpointed_;
  Purgatory fetch_purgatory_;
  Purgatory produce_purgatory_;
};

}  // namespace kb::replication
