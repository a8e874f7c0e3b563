#include "replication/partition.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/kb_assert.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "storage/files.h"

namespace kb::replication {

namespace {

bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

bool alone(const std::vector<int32_t>& isr, int32_t local_id) { return isr.size() == 1 && isr.front() == local_id; }

}  // namespace

Partition::Partition(TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::Log> log, int32_t local_id,
                     const PartitionState& state, int64_t now_ms)
    : tp_(std::move(tp)),
      topic_id_(topic_id),
      local_id_(local_id),
      log_(std::move(log)),
      epochs_(LeaderEpochCache::open(*log_)),
      leader_epoch_(state.leader_epoch),
      partition_epoch_(state.partition_epoch),
      leader_(state.leader),
      is_leader_(state.leader == local_id),
      replicas_(state.replicas),
      isr_(state.isr.empty() ? state.replicas : state.isr),
      isr_set_ms_(now_ms),
      alone_in_isr_(state.leader == local_id && alone(isr_, local_id)),
      // What the log holds was committed as far as this replica knows (a restarted lone
      // leader keeps HW = LEO); a follower learns the leader's with its first fetch.
      hw_(log_->log_end_offset().value()),
      producers_(tp_.to_string()) {
  if (is_leader_.load()) epochs_->assign(state.leader_epoch, log_->log_end_offset());
  // Before the replica is shared: no lock. A new leader must know the producers whose
  // batches it holds, or it would take their retries for new records.
  producers_.load(*log_);
  // Nothing pruned yet: restore_high_watermark may lower the high watermark below markers
  // the log holds (last_stable_offset() prunes with the real one).
  first_unstable_hint_.store(producers_.first_unstable_offset(-1));
}

void Partition::restore_high_watermark(Offset checkpointed) {
  if (alone_in_isr_) return;
  hw_.store(std::clamp<int64_t>(checkpointed.value(), 0, log_->log_end_offset().value()), std::memory_order_release);
}

Partition::Partition(TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::Log> log, int32_t leader_epoch,
                     std::vector<int32_t> replicas, int32_t leader)
    : Partition(std::move(tp), topic_id, std::move(log), leader,
                PartitionState{leader, leader_epoch, 0, replicas, replicas}) {}

// ---- role changes ----

void Partition::set_state_locked(const PartitionState& state) {
  replicas_ = state.replicas;
  isr_ = state.isr.empty() ? state.replicas : state.isr;
}

bool Partition::become_leader(const PartitionState& state, int64_t now_ms) {
  std::lock_guard role(role_mu_);
  const bool was_leader = is_leader_.load();
  const bool new_epoch = !was_leader || state.leader_epoch != leader_epoch_.load();
  leader_epoch_.store(state.leader_epoch);
  partition_epoch_.store(state.partition_epoch);
  leader_.store(local_id_);
  const Offset leo = log_->log_end_offset();
  // The new epoch starts where this replica's log ends: followers with more of an older
  // epoch cut their logs back to here (the diverging-epoch answer).
  if (new_epoch) epochs_->assign(state.leader_epoch, leo);
  {
    std::lock_guard lk(mu_);
    set_state_locked(state);
    if (!was_leader) {
      // Positions heard as a follower mean nothing; ISR members count as caught up from now
      // (isr_set_ms_), others as never.
      followers_.clear();
      isr_set_ms_ = now_ms;
    } else if (new_epoch) {
      for (auto& [id, f] : followers_) {
        f.leader_end_at_last_fetch = leo.value();
        f.last_fetch_ms = 0;
        f.last_caught_up_ms = contains(isr_, id) ? now_ms : 0;
      }
    }
    alone_in_isr_.store(alone(isr_, local_id_), std::memory_order_release);
  }
  is_leader_.store(true, std::memory_order_release);
  // The high watermark stays where it was and moves when the ISR's followers have fetched
  // (at once when this leader is alone in the ISR).
  {
    std::lock_guard lk(mu_);
    advance_high_watermark(isr_log_end_locked());
  }
  if (new_epoch)
    spdlog::info("{}: leader at epoch {} from offset {} (high watermark {}, ISR {})", tp_.to_string(),
                 state.leader_epoch, leo.value(), high_watermark().value(), fmt::join(state.isr, ","));
  return new_epoch;
}

bool Partition::become_follower(const PartitionState& state) {
  std::lock_guard role(role_mu_);
  const bool changed =
      is_leader_.load() || leader_.load() != state.leader || leader_epoch_.load() != state.leader_epoch;
  is_leader_.store(false, std::memory_order_release);
  leader_epoch_.store(state.leader_epoch);
  partition_epoch_.store(state.partition_epoch);
  leader_.store(state.leader);
  {
    std::lock_guard lk(mu_);
    set_state_locked(state);
    followers_.clear();
    alone_in_isr_.store(false, std::memory_order_release);
  }
  if (changed)
    spdlog::info("{}: follower of {} at epoch {} (log end {}, high watermark {})", tp_.to_string(), state.leader,
                 state.leader_epoch, log_end_offset().value(), high_watermark().value());
  return changed;
}

bool Partition::update_state(const PartitionState& state, int64_t now_ms) {
  partition_epoch_.store(state.partition_epoch);
  std::lock_guard lk(mu_);
  const auto isr_before = isr_;
  set_state_locked(state);
  if (isr_ != isr_before) isr_set_ms_ = now_ms;
  if (!is_leader_.load()) return false;
  alone_in_isr_.store(alone(isr_, local_id_), std::memory_order_release);
  const int64_t before = hw_.load(std::memory_order_acquire);
  advance_high_watermark(isr_log_end_locked());
  return hw_.load(std::memory_order_acquire) != before;
}

void Partition::update_leadership(int32_t leader_epoch, std::vector<int32_t> replicas, int32_t leader) {
  std::lock_guard role(role_mu_);
  leader_epoch_.store(leader_epoch);
  leader_.store(leader);
  is_leader_.store(leader == local_id_, std::memory_order_release);
  if (leader == local_id_) epochs_->assign(leader_epoch, log_->log_end_offset());
  std::lock_guard lk(mu_);
  replicas_ = std::move(replicas);
  alone_in_isr_.store(leader == local_id_ && alone(isr_, local_id_), std::memory_order_release);
}

// ---- leader ----

Result<uint64_t> Partition::start_txn_verification(int64_t producer_id, int64_t now_ms) {
  if (!is_leader_.load(std::memory_order_acquire))
    return Error{ErrorCode::NOT_LEADER_OR_FOLLOWER, "this broker is not the leader of " + tp_.to_string()};
  std::lock_guard lk(producer_mu_);
  return producers_.start_verification(producer_id, now_ms);
}

Result<storage::AppendInfo> Partition::append_as_leader(std::span<uint8_t> batches, bool* duplicate,
                                                        AppendOrigin origin, const TxnVerification& verification) {
  if (!is_leader_.load(std::memory_order_acquire))
    return Error{ErrorCode::NOT_LEADER_OR_FOLLOWER, "this broker is not the leader of " + tp_.to_string()};
  if (duplicate) *duplicate = false;
  // Batches without a producer id (the common case) take no lock and keep no headers here.
  bool idempotent = false;
  for (size_t pos = 0; !idempotent && pos + batch::kHeaderSize <= batches.size();) {
    auto h = read_batch_header(batches.subspan(pos));
    if (!h.ok() || h->total_size() <= 0) break;  // the caller validated the batches
    idempotent = h->producer_id >= 0;
    pos += static_cast<size_t>(h->total_size());
  }
  std::unique_lock<std::mutex> producer_lock(producer_mu_, std::defer_lock);
  if (idempotent) {
    std::vector<BatchHeader> headers;
    for (size_t pos = 0; pos + batch::kHeaderSize <= batches.size();) {
      auto h = read_batch_header(batches.subspan(pos));
      if (!h.ok() || h->total_size() <= 0) break;
      headers.push_back(*h);
      pos += static_cast<size_t>(h->total_size());
    }
    producer_lock.lock();
    // A transaction may open at the offset this append gets (at least the log end now).
    for (const auto& h : headers)
      if (h.is_transactional()) {
        const int64_t leo = log_->log_end_offset().value();
        if (first_unstable_hint_.load() > leo) first_unstable_hint_.store(leo, std::memory_order_release);
        break;
      }
    ProducerAppendCheck check = producers_.check(headers, origin, verification);
    if (check.error != ErrorCode::NONE) return Error{check.error, std::move(check.message)};
    if (check.duplicate) {
      // Kafka answers a retried batch with the offsets it was first given, and writes
      // nothing (the acks=all wait still applies: the caller waits for these offsets).
      if (duplicate) *duplicate = true;
      storage::AppendInfo info;
      info.first_offset = Offset(check.duplicate->first_offset);
      info.last_offset = Offset(check.duplicate->last_offset);
      info.max_timestamp = check.duplicate->timestamp;
      info.log_append_time = log_->config().message_timestamp_log_append ? check.duplicate->timestamp : -1;
      return info;
    }
  }
  const int32_t epoch = leader_epoch_.load();
  const RollWatch roll = idempotent ? watch_roll() : RollWatch{};
  auto info = log_->append(batches, epoch);
  if (!info.ok()) return info;
  // The log patched the final offsets (and LogAppendTime timestamps) into the bytes.
  if (idempotent) {
    snapshot_if_rolled(roll);
    producers_.update_all(batches);  // clients send no markers: nothing for the txn index
    publish_first_unstable_locked();
  }
  if (producer_lock.owns_lock()) producer_lock.unlock();
  // become_leader put the epoch in the cache already; this only catches a race with it.
  if (epochs_->latest_epoch() != epoch) epochs_->assign(epoch, info->first_offset);
  if (alone_in_isr_.load(std::memory_order_acquire)) {
    advance_high_watermark(info->last_offset + 1);  // the hot path of a lone leader: no lock
  } else {
    std::lock_guard lk(mu_);
    advance_high_watermark(isr_log_end_locked());
  }
  return info;
}

ErrorCode Partition::check_leader_epoch_value(int32_t current, int32_t ours) const {
  if (current < 0 || current == ours) return ErrorCode::NONE;
  return current < ours ? ErrorCode::FENCED_LEADER_EPOCH : ErrorCode::UNKNOWN_LEADER_EPOCH;
}

ErrorCode Partition::check_leader_epoch(int32_t current_leader_epoch) const {
  return check_leader_epoch_value(current_leader_epoch, leader_epoch_.load());
}

ReplicaRead Partition::read_for_replica(int32_t replica, Offset fetch_offset, int32_t current_leader_epoch,
                                        int32_t last_fetched_epoch, int32_t max_bytes, bool min_one_batch,
                                        int64_t now_ms) {
  ReplicaRead r;
  // Kafka's order: the epoch first (a follower of a newer epoch waits for our metadata),
  // then the role.
  if ((r.error = check_leader_epoch(current_leader_epoch)) != ErrorCode::NONE) return r;
  if (!is_leader()) {
    r.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    return r;
  }
  {
    std::lock_guard lk(mu_);
    if (replica == local_id_ || !contains(replicas_, replica)) {
      r.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
      return r;
    }
  }
  // Taken before the read: appends after it must not stop the follower from counting as
  // caught up.
  const Offset leo = log_->log_end_offset();
  r.log_start_offset = log_->log_start_offset();
  r.log_end_offset = leo;
  r.high_watermark = high_watermark();
  if (last_fetched_epoch >= 0) {
    EpochEndOffset end = epochs_->end_offset_for(last_fetched_epoch, leo);
    if (end.epoch == kUndefinedEpoch || end.end_offset == kUndefinedEpochOffset ||
        fetch_offset < r.log_start_offset) {
      r.error = ErrorCode::OFFSET_OUT_OF_RANGE;
      return r;
    }
    if (end.epoch < last_fetched_epoch || end.end_offset < fetch_offset.value()) {
      r.diverging = end;
      return r;
    }
  }
  auto rr = log_->read(fetch_offset, max_bytes, leo, min_one_batch);
  if (!rr.ok()) {
    r.error = rr.code();
    return r;
  }
  r.slice = std::move(rr->slice);
  r.records = rr->records;
  r.high_watermark_moved = record_follower_fetch(replica, fetch_offset, now_ms);
  r.high_watermark = high_watermark();
  return r;
}

Partition::EpochLookup Partition::last_offset_for_leader_epoch(int32_t current_leader_epoch, int32_t epoch,
                                                               bool leader_only) const {
  EpochLookup out;
  if ((out.error = check_leader_epoch(current_leader_epoch)) != ErrorCode::NONE) return out;
  if (leader_only && !is_leader()) {
    out.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    return out;
  }
  out.end = epochs_->end_offset_for(epoch, log_->log_end_offset());
  return out;
}

Offset Partition::isr_log_end_locked() const {
  int64_t end = log_->log_end_offset().value();
  for (int32_t r : isr_) {
    if (r == local_id_) continue;
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
  if (!is_leader_.load()) return;
  alone_in_isr_.store(alone(isr_, local_id_), std::memory_order_release);
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

bool Partition::enough_in_sync_for_acks_all() const {
  const int32_t need = min_insync_.load();
  if (alone_in_isr_.load(std::memory_order_acquire)) return need <= 1;
  const int64_t max_lag = max_lag_ms_.load();
  std::lock_guard lk(mu_);
  if (max_lag <= 0) return static_cast<int32_t>(isr_.size()) >= need;
  const int64_t now = storage::now_ms();
  int32_t in_sync = 0;
  for (int32_t r : isr_) {
    if (r == local_id_) {
      ++in_sync;
      continue;
    }
    auto it = followers_.find(r);
    int64_t caught_up = std::max(isr_set_ms_, it == followers_.end() ? int64_t{0} : it->second.last_caught_up_ms);
    if (now - caught_up <= max_lag) ++in_sync;
  }
  return in_sync >= need;
}

std::vector<int32_t> Partition::lagging_in_sync(int64_t now_ms, int64_t max_lag_ms) const {
  std::lock_guard lk(mu_);
  std::vector<int32_t> out;
  for (int32_t r : isr_) {
    if (r == local_id_) continue;
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
    if (contains(isr_, r)) continue;
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
  KB_ASSERT(to <= log_->log_end_offset(), "the high watermark never passes the log end offset");
  // Two appends may finish in either order; the high watermark only moves forward.
  int64_t cur = hw_.load(std::memory_order_relaxed);
  while (cur < to.value() &&
         !hw_.compare_exchange_weak(cur, to.value(), std::memory_order_release,
                                    std::memory_order_relaxed)) {
  }
}

Offset Partition::fetchable_end(FetchIsolation isolation) {
  switch (isolation) {
    case FetchIsolation::LogEnd:
      return log_->log_end_offset();
    case FetchIsolation::HighWatermark:
      return high_watermark();
    case FetchIsolation::TxnCommitted:
      return last_stable_offset();
  }
  return high_watermark();
}

LogReadInfo Partition::read(Offset start, int32_t max_bytes, bool min_one_batch, FetchIsolation isolation) {
  LogReadInfo out;
  // The LSO first: the high watermark read after it is never below it.
  out.last_stable_offset = last_stable_offset();
  out.high_watermark = high_watermark();
  out.log_start_offset = log_->log_start_offset();
  const Offset limit = isolation == FetchIsolation::LogEnd          ? log_->log_end_offset()
                       : isolation == FetchIsolation::TxnCommitted ? out.last_stable_offset
                                                                   : out.high_watermark;
  auto rr = log_->read(start, max_bytes, limit, min_one_batch);
  if (!rr.ok()) {
    out.error = rr.code();
    return out;
  }
  out.slice = std::move(rr->slice);
  out.records = rr->records;
  if (isolation == FetchIsolation::TxnCommitted) {
    out.aborted.emplace();
    // Kafka bounds the range by the segment; the LSO bounds it here.
    if (out.slice && out.slice->size > 0) *out.aborted = log_->collect_aborted_txns(start, out.last_stable_offset);
  }
  return out;
}

std::vector<int32_t> Partition::replicas() const {
  std::lock_guard lk(mu_);
  return replicas_;
}

// ---- follower ----

Result<storage::AppendInfo> Partition::append_as_follower(std::span<const uint8_t> batches, int32_t leader_epoch) {
  std::lock_guard role(role_mu_);
  if (is_leader_.load())
    return Error{ErrorCode::NOT_LEADER_OR_FOLLOWER, tp_.to_string() + " is led by this broker now"};
  if (leader_epoch != leader_epoch_.load())
    return Error{ErrorCode::FENCED_LEADER_EPOCH, "fetched at epoch " + std::to_string(leader_epoch) + ", " +
                                                     tp_.to_string() + " is at " +
                                                     std::to_string(leader_epoch_.load()) + " now"};
  // The leader checked the CRCs on produce; checking again costs little (hardware CRC-32C)
  // and keeps a damaged transfer or leader disk out of this log.
  std::vector<std::pair<int32_t, int64_t>> epochs;  // (epoch, base offset) of each batch
  bool transactional = false;
  for (size_t pos = 0; pos < batches.size();) {
    auto h = read_batch_header(batches.subspan(pos));
    if (!h.ok()) return h.error();
    if (h->batch_length < batch::kMinBatchLength || static_cast<uint64_t>(h->total_size()) > batches.size() - pos)
      return Error{ErrorCode::CORRUPT_MESSAGE, "truncated batch at offset " + std::to_string(h->base_offset)};
    auto one = batches.subspan(pos, static_cast<size_t>(h->total_size()));
    if (compute_batch_crc(one) != h->crc)
      return Error{ErrorCode::CORRUPT_MESSAGE, "CRC mismatch in the replicated batch at offset " +
                                                   std::to_string(h->base_offset) + " of " + tp_.to_string()};
    epochs.emplace_back(h->partition_leader_epoch, h->base_offset);
    transactional = transactional || h->is_transactional();
    pos += one.size();
  }
  std::lock_guard producer_lock(producer_mu_);
  if (transactional) {
    const int64_t leo = log_->log_end_offset().value();
    if (first_unstable_hint_.load() > leo) first_unstable_hint_.store(leo, std::memory_order_release);
  }
  const RollWatch roll = watch_roll();
  auto info = log_->append_replicated(batches);
  if (!info.ok()) return info;
  snapshot_if_rolled(roll);
  // Not validated (the leader did): kept so that this replica dedups retries once it leads.
  // The leader's ABORT markers go into this replica's transaction index too.
  for (const auto& txn : producers_.update_all(batches))
    if (auto st = log_->append_aborted_txn(txn); !st.ok())
      spdlog::error("{}: cannot index the aborted transaction of producer {} at offset {}: {}", tp_.to_string(),
                    txn.producer_id, txn.last_offset, st.error().message);
  publish_first_unstable_locked();
  for (const auto& [epoch, base] : epochs)
    if (epoch >= 0 && epoch != epochs_->latest_epoch()) epochs_->assign(epoch, Offset(base));
  return info;
}

void Partition::update_follower_high_watermark(Offset leader_high_watermark) {
  std::lock_guard role(role_mu_);
  if (is_leader_.load()) return;
  int64_t hw = std::min(leader_high_watermark.value(), log_->log_end_offset().value());
  hw = std::max(hw, log_->log_start_offset().value());
  hw_.store(hw, std::memory_order_release);
}

void Partition::follow_log_start(Offset leader_log_start) {
  std::lock_guard role(role_mu_);
  if (is_leader_.load()) return;
  // Never past what this replica knows is committed (Kafka refuses beyond the HW).
  Offset to(std::min(leader_log_start.value(), hw_.load(std::memory_order_acquire)));
  if (to <= log_->log_start_offset()) return;
  auto moved = log_->advance_log_start(to);
  if (!moved.ok()) {
    spdlog::warn("{}: cannot move the log start to the leader's {}: {}", tp_.to_string(), to.value(),
                 moved.error().message);
    return;
  }
  epochs_->truncate_from_start(moved.value());
}

Result<Offset> Partition::truncate_to(Offset offset) {
  std::lock_guard role(role_mu_);
  if (is_leader_.load())
    return Error{ErrorCode::NOT_LEADER_OR_FOLLOWER, "a leader does not truncate " + tp_.to_string()};
  std::lock_guard producer_lock(producer_mu_);
  auto end = log_->truncate_to(offset);
  if (!end.ok()) return end;
  KB_ASSERT(*end <= offset, "truncation never leaves the log longer than asked");
  epochs_->truncate_from_end(end.value());
  producers_.truncate(*log_, end.value());
  int64_t hw = hw_.load(std::memory_order_acquire);
  if (hw > end->value()) hw_.store(end->value(), std::memory_order_release);
  publish_first_unstable_locked();
  return end;
}

Status Partition::truncate_fully_and_start_at(Offset start) {
  std::lock_guard role(role_mu_);
  if (is_leader_.load())
    return Status(ErrorCode::NOT_LEADER_OR_FOLLOWER, "a leader does not truncate " + tp_.to_string());
  std::lock_guard producer_lock(producer_mu_);
  if (auto s = log_->truncate_fully_and_start_at(start); !s.ok()) return s;
  epochs_->clear();
  producers_.clear(log_->dir());
  hw_.store(start.value(), std::memory_order_release);
  publish_first_unstable_locked();
  return {};
}

// ---- idempotent producers ----

size_t Partition::producer_count() const {
  std::lock_guard lk(producer_mu_);
  return producers_.producer_count();
}

std::map<int64_t, ProducerStateEntry> Partition::producer_states() const {
  std::lock_guard lk(producer_mu_);
  return producers_.producers();
}

std::optional<ProducerStateEntry> Partition::producer_state(int64_t producer_id) const {
  std::lock_guard lk(producer_mu_);
  const ProducerStateEntry* e = producers_.find(producer_id);
  return e ? std::optional<ProducerStateEntry>(*e) : std::nullopt;
}

std::optional<ProducerStateManager::OpenTxn> Partition::oldest_open_txn() const {
  std::lock_guard lk(producer_mu_);
  return producers_.oldest_open_txn();
}

size_t Partition::remove_expired_producers(int64_t now_ms, int64_t expiration_ms) {
  std::lock_guard lk(producer_mu_);
  return producers_.remove_expired(now_ms, expiration_ms);
}

// ---- transactions ----

void Partition::publish_first_unstable_locked() {
  first_unstable_hint_.store(producers_.first_unstable_offset(hw_.load(std::memory_order_acquire)),
                             std::memory_order_release);
}

Offset Partition::last_stable_offset() {
  const int64_t hw = hw_.load(std::memory_order_acquire);
  if (first_unstable_hint_.load(std::memory_order_acquire) >= hw) return Offset(hw);
  std::lock_guard lk(producer_mu_);
  const int64_t first = producers_.first_unstable_offset(hw);
  first_unstable_hint_.store(first, std::memory_order_release);
  return Offset(std::max(log_->log_start_offset().value(), std::min(first, hw)));
}

size_t Partition::ongoing_txn_count() const {
  std::lock_guard lk(producer_mu_);
  return producers_.ongoing_txn_count();
}

Result<storage::AppendInfo> Partition::append_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                                         int32_t coordinator_epoch, bool commit, int64_t now_ms) {
  if (!is_leader_.load(std::memory_order_acquire))
    return Error{ErrorCode::NOT_LEADER_OR_FOLLOWER, "this broker is not the leader of " + tp_.to_string()};
  // Kafka's EndTransactionMarker: key {version 0, type (0 ABORT, 1 COMMIT)}, value
  // {version 0, coordinator epoch}.
  uint8_t key[4], value[6];
  wire::store_be16(key, 0);
  wire::store_be16(key + 2, commit ? 1 : 0);
  wire::store_be16(value, 0);
  wire::store_be32(value + 2, static_cast<uint32_t>(coordinator_epoch));
  RecordBatchBuilder b;
  b.producer(producer_id, producer_epoch, -1).transactional().control();
  b.add(std::string_view(reinterpret_cast<const char*>(key), sizeof key),
        std::string_view(reinterpret_cast<const char*>(value), sizeof value), now_ms);
  std::vector<uint8_t> bytes = b.build();

  std::unique_lock producer_lock(producer_mu_);
  ProducerAppendCheck check = producers_.check_marker(producer_id, producer_epoch, coordinator_epoch);
  if (check.error != ErrorCode::NONE) return Error{check.error, std::move(check.message)};
  const int32_t epoch = leader_epoch_.load();
  auto info = log_->append(bytes, epoch);
  if (!info.ok()) return info;
  for (const auto& txn : producers_.update_all(bytes))
    if (auto st = log_->append_aborted_txn(txn); !st.ok()) {
      // The marker is in the log: the coordinator's retry appends another one, which ends
      // nothing; the index entry comes back with the next recovery of this segment.
      spdlog::error("{}: cannot index the aborted transaction of producer {} at offset {}: {}", tp_.to_string(),
                    producer_id, txn.last_offset, st.error().message);
      publish_first_unstable_locked();
      return st.error();
    }
  publish_first_unstable_locked();
  producer_lock.unlock();
  if (epochs_->latest_epoch() != epoch) epochs_->assign(epoch, info->first_offset);
  if (alone_in_isr_.load(std::memory_order_acquire)) {
    advance_high_watermark(info->last_offset + 1);
  } else {
    std::lock_guard lk(mu_);
    advance_high_watermark(isr_log_end_locked());
  }
  return info;
}

Partition::RollWatch Partition::watch_roll() const {
  return RollWatch{log_->log_end_offset().value(), log_->segment_count()};
}

void Partition::snapshot_if_rolled(const RollWatch& before) {
  if (before.segments < 0 || log_->segment_count() <= before.segments || producers_.producers().empty()) return;
  if (auto s = producers_.write_snapshot(*log_, before.log_end); !s.ok())
    spdlog::warn("{}: producer-state snapshot at the segment roll to offset {} failed: {}", tp_.to_string(),
                 before.log_end, s.error().message);
}

Status Partition::write_producer_snapshot() {
  std::lock_guard lk(producer_mu_);
  return producers_.write_snapshot(*log_);
}

}  // namespace kb::replication
