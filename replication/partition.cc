#include "replication/partition.h"

namespace kb::replication {

Partition::Partition(TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::Log> log,
                     int32_t leader_epoch, std::vector<int32_t> replicas, int32_t leader)
    : tp_(std::move(tp)),
      topic_id_(topic_id),
      log_(std::move(log)),
      leader_epoch_(leader_epoch),
      leader_(leader),
      replicas_(std::move(replicas)),
      // Single replica: everything in the log is committed. (Restart keeps HW = LEO.)
      hw_(log_->log_end_offset().value()) {}

Result<storage::AppendInfo> Partition::append_as_leader(std::span<uint8_t> batches) {
  auto info = log_->append(batches, leader_epoch_.load());
  if (info.ok()) advance_high_watermark(info->last_offset + 1);
  return info;
}

void Partition::advance_high_watermark(Offset to) {
  // Two appends may finish in either order; the high watermark only moves forward.
  int64_t cur = hw_.load(std::memory_order_relaxed);
  while (cur < to.value() &&
         !hw_.compare_exchange_weak(cur, to.value(), std::memory_order_release,
                                    std::memory_order_relaxed)) {
  }
}

Result<storage::ReadResult> Partition::read(Offset start, int32_t max_bytes, bool min_one_batch,
                                            bool up_to_log_end) const {
  Offset limit = up_to_log_end ? log_->log_end_offset() : high_watermark();
  return log_->read(start, max_bytes, limit, min_one_batch);
}

void Partition::update_leadership(int32_t leader_epoch, std::vector<int32_t> replicas,
                                  int32_t leader) {
  leader_epoch_.store(leader_epoch);
  leader_.store(leader);
  std::lock_guard lk(mu_);
  replicas_ = std::move(replicas);
}

std::vector<int32_t> Partition::replicas() const {
  std::lock_guard lk(mu_);
  return replicas_;
}

}  // namespace kb::replication
