// ReplicaManager::fetch_records with its long poll (DelayedFetch), and ListOffsets' lookup:
// what a consumer or a follower may read, decided here and in Partition::fetchable_end only.
#include <algorithm>

#include "protocol/kb_assert.h"
#include "replication/delayed_fetch.h"
#include "replication/replica_manager.h"
#include "storage/files.h"

namespace kb::replication {

int64_t ReplicaManager::read_all(const FetchParams& params, std::vector<FetchPartitionResult>& out,
                                 bool& answer_now) {
  out.clear();
  out.reserve(params.partitions.size());
  answer_now = false;
  const bool follower = params.replica_id >= 0;
  KB_ASSERT(follower == (params.isolation == FetchIsolation::LogEnd), "followers, and only they, read to the log end");
  const int64_t now = follower ? storage::now_ms() : 0;
  int64_t budget = std::max<int64_t>(params.max_bytes, 0);
  int64_t total = 0;
  bool first_data = true;  // Kafka lets the first batch exceed the limits so the fetcher progresses
  for (const auto& fp : params.partitions) {
    FetchPartitionResult& r = out.emplace_back();
    const int32_t limit = static_cast<int32_t>(std::clamp<int64_t>(std::min<int64_t>(fp.max_bytes, budget), 0, INT32_MAX));
    auto p = get(fp.tp);
    if (!p) {
      r.error = missing_partition_error(fp.tp);
    } else if (follower) {
      ReplicaRead rr = p->read_for_replica(params.replica_id, fp.fetch_offset, fp.current_leader_epoch,
                                           fp.last_fetched_epoch, limit, first_data, now);
      r.error = rr.error;
      r.high_watermark = rr.high_watermark;
      r.last_stable_offset = std::min(p->last_stable_offset(), rr.high_watermark);
      r.log_start_offset = rr.log_start_offset;
      if (rr.error != ErrorCode::NONE) {
        // nothing more to say
      } else if (rr.diverging) {
        r.diverging = rr.diverging;
        answer_now = true;  // the follower truncates before it fetches anything
      } else if (rr.slice && rr.slice->size > 0) {
        r.records = rr.records;
        r.slice = std::move(rr.slice);
      }
      // The ISR has more records: acks=all produces and consumers waiting for them go on.
      if (rr.high_watermark_moved) high_watermark_moved(fp.tp);
    } else if ((r.error = p->check_leader_epoch(fp.current_leader_epoch)) != ErrorCode::NONE || !p->is_leader()) {
      // Consumers read from the leader only (no fetch-from-follower): the current leader
      // tells them where to go.
      if (r.error == ErrorCode::NONE) r.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
      r.leader_id = p->leader();
      r.leader_epoch = p->leader_epoch();
    } else {
      LogReadInfo read = p->read(fp.fetch_offset, limit, first_data, params.isolation);
      r.error = read.error;
      r.high_watermark = read.high_watermark;
      r.last_stable_offset = read.last_stable_offset;
      r.log_start_offset = read.log_start_offset;
      r.records = read.records;
      r.slice = std::move(read.slice);
      r.aborted = std::move(read.aborted);
      r.stats = p->shared_stats();
    }
    if (r.error != ErrorCode::NONE) {
      r.slice.reset();
      answer_now = true;
    } else if (r.slice && r.slice->size > 0) {
      total += r.slice->size;
      budget -= r.slice->size;
      first_data = false;
    }
  }
  return total;
}

void ReplicaManager::fetch_records(FetchParams params, std::function<void(std::vector<FetchPartitionResult>)> done) {
  std::vector<FetchPartitionResult> results;
  bool answer_now = false;
  const int64_t bytes = read_all(params, results, answer_now);
  if (params.max_wait_ms <= 0 || bytes >= params.min_bytes || answer_now || params.partitions.empty())
    return done(std::move(results));
  // Long poll: nothing is kept from this read; the answer is read again on completion.
  std::vector<int64_t> hw_seen;
  if (params.replica_id >= 0)
    for (const auto& r : results) hw_seen.push_back(r.high_watermark.value());
  results.clear();
  const int64_t max_wait_ms = params.max_wait_ms;
  auto op = std::make_shared<DelayedFetch>(*this, std::move(params), std::move(hw_seen), std::move(done));
  fetch_purgatory_.try_complete_else_watch(op, op->keys(), max_wait_ms);
}

OffsetLookup ReplicaManager::fetch_offset_for_timestamp(const TopicPartition& tp, int64_t timestamp,
                                                        FetchIsolation isolation, int32_t current_leader_epoch) {
  OffsetLookup r;
  auto p = get(tp);
  if (!p) {
    r.error = missing_partition_error(tp);
    return r;
  }
  if (!p->is_leader()) {
    r.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    return r;
  }
  if ((r.error = p->check_leader_epoch(current_leader_epoch)) != ErrorCode::NONE) return r;
  r.leader_epoch = p->leader_epoch();
  // Kafka's lastFetchableOffset: a consumer is never told of offsets it may not read yet.
  const Offset visible_end = p->fetchable_end(isolation);
  if (timestamp == kLatestTimestamp) {
    r.offset = visible_end.value();
  } else if (timestamp == kEarliestTimestamp) {
    r.offset = p->log_start_offset().value();
  } else if (timestamp == kMaxTimestamp) {
    if (auto m = p->log().max_timestamp()) {
      r.timestamp = m->timestamp;
      r.offset = m->offset.value();
    }
  } else if (timestamp < 0) {
    r.error = ErrorCode::INVALID_REQUEST;
  } else if (auto found = p->log().offset_for_timestamp(timestamp); found && found->offset < visible_end) {
    r.timestamp = found->timestamp;
    r.offset = found->offset.value();
  }
  return r;
}

// ---- DelayedFetch ----

std::vector<TopicPartition> DelayedFetch::keys() const {
  std::vector<TopicPartition> out;
  for (const auto& fp : params_.partitions) out.push_back(fp.tp);
  return out;
}

bool DelayedFetch::can_complete() {
  // Enough new data? Sum what a read would return now, without building an answer.
  const bool follower = params_.replica_id >= 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < params_.partitions.size(); ++i) {
    const FetchPartition& fp = params_.partitions[i];
    auto p = replicas_.get(fp.tp);
    if (!p) return true;  // deleted or moved: the answer is the error now
    // Leadership moved or a new epoch began: the answer is an error now.
    if (!p->is_leader() || p->check_leader_epoch(fp.current_leader_epoch) != ErrorCode::NONE) return true;
    if (follower && i < hw_seen_.size() && p->high_watermark().value() > hw_seen_[i]) return true;
    const Offset end = p->fetchable_end(params_.isolation);
    if (fp.fetch_offset >= end) continue;
    auto rr = p->log().read(fp.fetch_offset, fp.max_bytes, end, true);
    if (!rr.ok()) return true;
    if (rr->slice) bytes += rr->slice->size;
    if (bytes >= params_.min_bytes) return true;
  }
  return false;
}

void DelayedFetch::on_complete() {
  std::vector<FetchPartitionResult> results;
  bool answer_now = false;
  replicas_.read_all(params_, results, answer_now);
  done_(std::move(results));
}

}  // namespace kb::replication
