#include "replication/replica_manager.h"

#include <spdlog/spdlog.h>

#include "storage/files.h"

namespace kb::replication {

ReplicaManager::ReplicaManager(storage::LogManager& logs, int32_t node_id, runtime::EventLoop* purgatory_loop)
    : logs_(logs),
      node_id_(node_id),
      own_loop_(purgatory_loop ? nullptr : std::make_unique<runtime::LoopThread>("kb-purgatory")),
      loop_(purgatory_loop ? *purgatory_loop : *own_loop_),
      fetch_purgatory_(loop_),
      produce_purgatory_(loop_) {}

ReplicaManager::~ReplicaManager() {
  complete_delayed_operations();
  // Cancels the timeouts left (all of completed operations) and joins the thread: none fires
  // into the purgatories after this.
  if (own_loop_) own_loop_->stop(runtime::LoopThread::kNoDeadline);
}

void ReplicaManager::complete_delayed_operations() {
  // Fetches answer with what they find, produces still waiting with REQUEST_TIMED_OUT.
  fetch_purgatory_.complete_all();
  produce_purgatory_.complete_all();
}

void ReplicaManager::high_watermark_moved(const TopicPartition& tp) {
  produce_purgatory_.check(tp);
  fetch_purgatory_.check(tp);
}

void ReplicaManager::update_state(Partition& partition, const PartitionState& state, int64_t now_ms) {
  if (partition.update_state(state, now_ms)) high_watermark_moved(partition.tp());
}

std::shared_ptr<TopicStats> ReplicaManager::stats_for_locked(const std::string& topic) {
  auto& s = topic_stats_[topic];
  if (!s) s = std::make_shared<TopicStats>();
  return s;
}

std::map<std::string, std::shared_ptr<TopicStats>> ReplicaManager::topic_stats() const {
  std::shared_lock lk(mu_);
  return topic_stats_;
}

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
  if (inserted) p->set_topic_stats(stats_for_locked(tp.topic));
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
  auto hw = checkpointed_high_watermark(log.value()->dir().parent_path(), tp);
  auto p = std::make_shared<Partition>(tp, topic_id, std::move(log.value()), node_id_, state, now_ms);
  if (hw) p->restore_high_watermark(Offset(*hw));
  std::unique_lock lk(mu_);
  auto [it, inserted] = partitions_.emplace(tp, p);
  if (inserted) p->set_topic_stats(stats_for_locked(tp.topic));
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
    high_watermark_moved(tp);
  }
  return p;
}

Status ReplicaManager::remove(const TopicPartition& tp, bool delete_log) {
  std::shared_ptr<Partition> p;
  {
    std::unique_lock lk(mu_);
    auto it = partitions_.find(tp);
    if (it != partitions_.end()) {
      p = std::move(it->second);
      partitions_.erase(it);
      // The topic's counters go with its last replica here (its series leave /metrics).
      auto next = partitions_.lower_bound(TopicPartition{tp.topic, 0});
      if (next == partitions_.end() || next->first.topic != tp.topic) topic_stats_.erase(tp.topic);
    }
  }
  if (p) {
    // Waiting fetches and produces of this replica answer now (the error of a partition not
    // hosted here), not at their timeout.
    high_watermark_moved(tp);
  }
  if (!delete_log) return {};
  {
    // Its high watermark goes with its files (a new topic of the same name starts afresh).
    std::lock_guard lk(checkpoint_mu_);
    for (auto& [dir, offsets] : checkpointed_) offsets.erase(tp);
  }
  return logs_.remove(tp);  // also when it was not hosted (a stray log found at start-up)
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

size_t ReplicaManager::remove_expired_producers(int64_t now_ms, int64_t expiration_ms) {
  size_t removed = 0;
  for (const auto& p : all()) removed += p->remove_expired_producers(now_ms, expiration_ms);
  return removed;
}

void ReplicaManager::write_producer_snapshots() {
  // Every replica, producers or not: a snapshot at the log end is what spares the next
  // start a scan of the whole log (Kafka writes one per log at close too).
  for (const auto& p : all())
    if (auto s = p->write_producer_snapshot(); !s.ok())
      spdlog::warn("{}: producer snapshot not written ({}); the next start scans the log", p->tp().to_string(),
                   s.error().message);
}

void ReplicaManager::update_config(const std::string& topic, const storage::LogConfig& config) {
  std::shared_lock lk(mu_);
  for (auto it = partitions_.lower_bound(TopicPartition{topic, 0});
       it != partitions_.end() && it->first.topic == topic; ++it)
    it->second->log().set_config(config);
}


namespace {
constexpr const char* kHighWatermarkFile = "replication-offset-checkpoint";
}

std::optional<int64_t> ReplicaManager::checkpointed_high_watermark(const std::filesystem::path& log_dir,
                                                                   const TopicPartition& tp) {
  std::lock_guard lk(checkpoint_mu_);
  auto it = checkpointed_.find(log_dir);
  if (it == checkpointed_.end()) {
    std::map<TopicPartition, int64_t> read;
    auto path = log_dir / kHighWatermarkFile;
    if (std::filesystem::exists(path)) {
      auto r = storage::read_offset_checkpoint(path);
      if (r.ok()) read = std::move(r.value());
      else spdlog::warn("ignoring {}: {}", path.string(), r.error().message);  // high watermarks start at the log ends
    }
    it = checkpointed_.emplace(log_dir, std::move(read)).first;
  }
  auto hw = it->second.find(tp);
  if (hw == it->second.end()) return std::nullopt;
  return hw->second;
}

Status ReplicaManager::checkpoint_high_watermarks() {
  std::vector<std::shared_ptr<Partition>> hosted = all();
  std::lock_guard lk(checkpoint_mu_);
  for (const auto& p : hosted) {
    auto dir = p->log().dir().parent_path();
    if (!checkpointed_.count(dir)) {
      // First time in this dir: keep what an earlier run checkpointed for replicas not hosted yet.
      auto path = dir / kHighWatermarkFile;
      auto r = std::filesystem::exists(path) ? storage::read_offset_checkpoint(path)
                                             : Result<std::map<TopicPartition, int64_t>>(std::map<TopicPartition, int64_t>{});
      checkpointed_[dir] = r.ok() ? std::move(r.value()) : std::map<TopicPartition, int64_t>{};
    }
    checkpointed_[dir][p->tp()] = p->high_watermark().value();
  }
  Status result;
  for (const auto& [dir, offsets] : checkpointed_)
    if (auto s = storage::write_file_atomically(dir / kHighWatermarkFile, storage::format_offset_checkpoint(offsets));
        !s.ok() && result.ok())
      result = s;
  return result;
}

}  // namespace kb::replication
