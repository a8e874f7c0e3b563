#include "replication/partition.h"

#include <algorithm>

namespace kb::replication {

Partition::Partition(TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::Log> log,
                     int32_t leader_epoch, std::vector<int32_t> replicas, int32_t leader)
    : tp_(std::move(tp)),
      topic_id_(topic_id),
      log_(std::move(log)),
      leader_epoch_(leader_epoch),
      leader_(leader),
      replicas_(std::move(replicas)),
      isr_(replicas_),
      alone_in_isr_(isr_.size() == 1 && isr_.front() == leader),
      // Single replica: everything in the log is committed. (Restart keeps HW = LEO.)
      hw_(log_->log_end_offset().value()) {}

Result<storage::AppendInfo> Partition::append_as_leader(std::span<uint8_t> batches) {
  auto info = log_->append(batches, leader_epoch_.load());
  if (!info.ok()) return info;
  if (alone_in_isr_.load(std::memory_order_acquire)) {
    advance_high_watermark(info->last_offset + 1);  // the hot path of a lone leader: no lock
  } else {
    std::lock_guard lk(mu_);
    advance_high_watermark(isr_log_end_locked());
  }
  return info;
}

Offset Partition::isr_log_end_locked() const {
  int64_t end = log_->log_end_offset().value();
  for (int32_t r : isr_) {
    if (r == leader_.load()) continue;
    auto it = followers_.find(r);
    end = std::min(end, it == followers_.end() ? int64_t{-1} : it->second.log_end);
  }
  return Offset(end);
}

std::vector<int32_t> Partition::isr() const {
  std::lock_guard lk(mu_);
  return isr_;
}

void Partition::set_isr(std::vector<int32_t> isr, int64_t now_ms) {
  std::lock_guard lk(mu_);
  isr_ = std::move(isr);
  isr_set_ms_ = now_ms;
  alone_in_isr_.store(isr_.size() == 1 && isr_.front() == leader_.load(), std::memory_order_release);
  advance_high_watermark(isr_log_end_locked());
}

bool Partition::record_follower_fetch(int32_t replica, Offset fetch_offset, int64_t now_ms) {
  const int64_t leader_end = log_->log_end_offset().value();
  std::lock_guard lk(mu_);
  FollowerState& f = followers_[replica];
  if (fetch_offset.value() >= leader_end)
    f.last_caught_up_ms = std::max(f.last_caught_up_ms, now_ms);
  else if (fetch_offset.value() >= f.leader_end_at_last_fetch)
    f.last_caught_up_ms = std::max(f.last_caught_up_ms, f.last_fetch_ms);
  f.log_end = fetch_offset.value();
  f.leader_end_at_last_fetch = leader_end;
  f.last_fetch_ms = now_ms;
  int64_t before = hw_.load(std::memory_order_acquire);
  advance_high_watermark(isr_log_end_locked());
  return hw_.load(std::memory_order_acquire) != before;
}

std::vector<int32_t> Partition::lagging_in_sync(int64_t now_ms, int64_t max_lag_ms) const {
  std::lock_guard lk(mu_);
  std::vector<int32_t> out;
  for (int32_t r : isr_) {
    if (r == leader_.load()) continue;
    auto it = followers_.find(r);
    // A follower that never fetched counts from when it was put in the ISR.
    int64_t caught_up = std::max(isr_set_ms_, it == followers_.end() ? int64_t{0} : it->second.last_caught_up_ms);
    if (now_ms - caught_up > max_lag_ms) out.push_back(r);
  }
  return out;
}

std::vector<int32_t> Partition::caught_up_out_of_sync() const {
  std::lock_guard lk(mu_);
  std::vector<int32_t> out;
  const int64_t hw = hw_.load(std::memory_order_acquire);
  for (int32_t r : replicas_) {
    if (std::find(isr_.begin(), isr_.end(), r) != isr_.end()) continue;
    auto it = followers_.find(r);
    if (it != followers_.end() && it->second.log_end >= hw) out.push_back(r);
  }
  return out;
}

Offset Partition::follower_log_end(int32_t replica) const {
  std::lock_guard lk(mu_);
  auto it = followers_.find(replica);
  return Offset(it == followers_.end() ? -1 : it->second.log_end);
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
  alone_in_isr_.store(isr_.size() == 1 && isr_.front() == leader, std::memory_order_release);
}

std::vector<int32_t> Partition::replicas() const {
  std::lock_guard lk(mu_);
  return replicas_;
}

}  // namespace kb::replication
