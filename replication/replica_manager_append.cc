// ReplicaManager::append_records and its delayed answer (DelayedProduce): the one place where
// an append waits for the ISR.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/kb_assert.h"
#include "protocol/record_batch.h"
#include "replication/delayed_produce.h"
#include "replication/replica_manager.h"
#include "storage/files.h"

namespace kb::replication {

namespace {

AppendResult refused(ErrorCode code, std::string message = {}) {
  AppendResult r;
  r.error = code;
  r.message = std::move(message);
  return r;
}

// A client's batches checked against the topic's settings (Kafka's LogValidator): structure
// and CRC, max.message.bytes, no control batches, CreateTime within
// message.timestamp.difference.max.ms of the broker's clock (records without a timestamp, -1,
// are not checked, as in Kafka), and stored in the topic's compression.type when it is not
// "producer" (`rebuilt` then holds the new bytes). NONE, or the refusal.
AppendResult validate_client_batches(std::span<uint8_t>& records, const storage::LogConfig& lc,
                                     std::vector<uint8_t>& rebuilt) {
  auto validated = validate_batches(records, lc.max_message_bytes);
  if (!validated.ok()) return refused(validated.code(), validated.error().message);
  for (const auto& b : validated->batches) {
    if (b.header.is_control())
      return refused(ErrorCode::INVALID_RECORD, "Clients are not allowed to write control records");
    // No coordinator could ever end such a transaction: no producer state would hold it.
    if (b.header.is_transactional() && b.header.producer_id < 0)
      return refused(ErrorCode::INVALID_RECORD, "Transactional record batch without a producer id");
  }
  if (!lc.message_timestamp_log_append && lc.message_timestamp_difference_max_ms < INT64_MAX &&
      validated->min_timestamp >= 0) {
    const int64_t now = storage::now_ms();
    const int64_t worst = std::max(now - validated->min_timestamp, validated->max_timestamp - now);
    if (worst > lc.message_timestamp_difference_max_ms)
      return refused(ErrorCode::INVALID_TIMESTAMP,
                     "Timestamp of a record is out of range: it is " + std::to_string(worst) +
                         " ms from the broker's time, more than message.timestamp.difference.max.ms " +
                         std::to_string(lc.message_timestamp_difference_max_ms));
  }
  if (lc.compression < 0) return {};
  bool other_codec = false;
  for (const auto& b : validated->batches) other_codec |= b.compression != lc.compression;
  if (!other_codec) return {};
  for (const auto& b : validated->batches) {
    auto one = records.subspan(b.position, static_cast<size_t>(b.bytes));
    if (b.compression == lc.compression) {
      rebuilt.insert(rebuilt.end(), one.begin(), one.end());
      continue;
    }
    auto r = recompress_batch(one, lc.compression);
    if (!r.ok()) return refused(r.code(), r.error().message);
    rebuilt.insert(rebuilt.end(), r->begin(), r->end());
  }
  records = rebuilt;
  return {};
}

}  // namespace

ErrorCode ReplicaManager::missing_partition_error(const TopicPartition& tp) const {
  return missing_error_ ? missing_error_(tp) : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
}

Result<uint64_t> ReplicaManager::start_transaction_verification(const TopicPartition& tp, int64_t producer_id) {
  auto p = get(tp);
  if (!p) return Error{missing_partition_error(tp), ""};
  return p->start_txn_verification(producer_id, storage::now_ms());
}

AppendResult ReplicaManager::append_to_leader(Partition& p, const AppendEntry& entry, int16_t required_acks,
                                              AppendOrigin origin) {
  // A follower replica is not where records go (the client re-routes on this error).
  if (!p.is_leader()) return refused(ErrorCode::NOT_LEADER_OR_FOLLOWER);
  if (required_acks == -1 && !p.enough_in_sync_for_acks_all())
    return refused(ErrorCode::NOT_ENOUGH_REPLICAS, "The number of in-sync replicas is below min.insync.replicas");
  AppendResult r;
  Result<storage::AppendInfo> appended{storage::AppendInfo{}};
  if (entry.marker) {
    const auto& m = *entry.marker;
    appended = p.append_txn_marker(m.producer_id, m.producer_epoch, m.coordinator_epoch, m.commit, storage::now_ms());
  } else {
    std::span<uint8_t> records = entry.records;
    std::vector<uint8_t> rebuilt;
    if (origin == AppendOrigin::Client) {
      if (records.empty()) return refused(ErrorCode::INVALID_RECORD, "No record batch to append");
      if (auto v = validate_client_batches(records, p.log().config(), rebuilt); v.error != ErrorCode::NONE) return v;
    }
    std::unique_lock<std::mutex> conditional(conditional_append_mu_, std::defer_lock);
    if (entry.expected_end_offset >= 0) {
      conditional.lock();
      if (const Offset end = p.log_end_offset(); end.value() != entry.expected_end_offset) {
        AppendResult moved = refused(ErrorCode::OFFSET_OUT_OF_RANGE, "expected log end offset " +
                                                                        std::to_string(entry.expected_end_offset) +
                                                                        ", the log ends at " + std::to_string(end.value()));
        moved.log_end_offset = end;
        return moved;
      }
    }
    const TxnVerification verification{origin == AppendOrigin::Client && transaction_verification(),
                                       entry.verification_guard};
    appended = p.append_as_leader(records, &r.duplicate, origin, verification);
  }
  if (!appended.ok()) return refused(appended.code(), appended.error().message);
  KB_ASSERT(appended->last_offset >= appended->first_offset, "an append gives at least one offset");
  r.info = *appended;
  r.log_start_offset = p.log_start_offset();
  if (origin == AppendOrigin::Client) {
    TopicStats::add(p.stats().bytes_in, static_cast<uint64_t>(appended->bytes));
    TopicStats::add(p.stats().records_in, static_cast<uint64_t>(appended->records));
  }
  // New records: long-polling fetches may have enough now (a retry wrote nothing).
  if (!r.duplicate) fetch_purgatory_.check(p.tp());
  return r;
}

void ReplicaManager::append_records(std::vector<AppendEntry> entries, int16_t required_acks, int64_t timeout_ms,
                                    AppendOrigin origin, std::function<void(std::vector<AppendResult>)> done) {
  const bool acks_valid = required_acks == 0 || required_acks == 1 || required_acks == -1;
  std::vector<AppendResult> results;
  results.reserve(entries.size());
  std::vector<DelayedProduce::Waiting> waiting;
  for (const auto& e : entries) {
    auto p = get(e.tp);
    // Only the coordinators write their internal topics: a client's batch there could make a
    // coordinator partition unloadable (Kafka's appendToLocalLog refuses it the same way).
    AppendResult r = !acks_valid ? refused(ErrorCode::INVALID_REQUIRED_ACKS)
                     : origin == AppendOrigin::Client && is_internal_topic(e.tp.topic)
                         ? refused(ErrorCode::INVALID_TOPIC_EXCEPTION, "Cannot append to internal topic " + e.tp.topic)
                     : !p ? refused(missing_partition_error(e.tp))
                          : append_to_leader(*p, e, required_acks, origin);
    if (r.error != ErrorCode::NONE && p && origin == AppendOrigin::Client) TopicStats::add(p->stats().failed_produce, 1);
    // A retried batch waits too: its first attempt may still be short of the high watermark
    // (Kafka's duplicate answers wait the same way).
    if (r.error == ErrorCode::NONE && required_acks == -1 && p->high_watermark() <= r.info->last_offset)
      waiting.push_back({results.size(), p, r.info->last_offset + 1});
    results.push_back(std::move(r));
  }
  if (waiting.empty()) return done(std::move(results));
  auto op = std::make_shared<DelayedProduce>(*this, std::move(results), std::move(waiting), std::move(done));
  produce_purgatory_.try_complete_else_watch(op, op->keys(), std::max<int64_t>(timeout_ms, 0));
}

// ---- DelayedProduce ----

std::vector<TopicPartition> DelayedProduce::keys() const {
  std::vector<TopicPartition> out;
  for (const auto& w : waiting_) out.push_back(w.partition->tp());
  return out;
}

bool DelayedProduce::can_complete() {
  std::lock_guard lk(mu_);
  bool all = true;
  for (auto& w : waiting_) {
    if (w.done) continue;
    AppendResult& r = results_[w.index];
    const TopicPartition& tp = w.partition->tp();
    if (replicas_.get(tp) != w.partition) {
      // Deleted or moved off this broker: the records went with the replica.
      r.error = replicas_.missing_partition_error(tp);
    } else if (!w.partition->is_leader()) {
      // The new leader may not have these records (the producer retries there).
      r.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    } else if (w.partition->high_watermark() >= w.required) {
      r.error = w.partition->enough_in_sync_for_acks_all() ? ErrorCode::NONE
                                                           : ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    } else {
      all = false;
      continue;
    }
    w.done = true;
  }
  return all;
}

void DelayedProduce::on_complete() {
  std::vector<AppendResult> out;
  {
    std::lock_guard lk(mu_);
    for (auto& w : waiting_)
      if (!w.done) {
        w.done = true;
        results_[w.index].error = ErrorCode::REQUEST_TIMED_OUT;
      }
    out = std::move(results_);
  }
  done_(std::move(out));
}

}  // namespace kb::replication
