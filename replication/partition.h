// One replica of a partition on this broker: it owns the partition's Log, its role, its
// leader epoch and its high watermark. As leader it tracks each follower's log end offset (from
// their fetches) and keeps the high watermark at the smallest log end offset over the ISR; it
// tells which ISR members lag more than replica.lag.time.max.ms and which followers caught up
// (the controller changes the ISR). A lone broker has ISR = {itself}, so HW = LEO after every
// append.
//
// Owner: ReplicaManager (shared_ptr; request handlers hold a reference while they work).
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "protocol/types.h"
#include "storage/log.h"

namespace kb::replication {

class Partition {
 public:
  Partition(TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::Log> log,
            int32_t leader_epoch, std::vector<int32_t> replicas, int32_t leader);

  const TopicPartition& tp() const { return tp_; }
  const Uuid& topic_id() const { return topic_id_; }
  int32_t leader_epoch() const { return leader_epoch_.load(); }
  int32_t leader() const { return leader_.load(); }
  std::vector<int32_t> replicas() const;

  // Appends validated batches as the leader (offsets and leader epoch patched in place by
  // the log) and advances the high watermark; the bytes are in the page cache on return.
  Result<storage::AppendInfo> append_as_leader(std::span<uint8_t> batches);

  // Reads for a consumer (never past the high watermark) or, with `up_to_log_end`, for a
  // replica. OFFSET_OUT_OF_RANGE outside [log start, log end].
  Result<storage::ReadResult> read(Offset start, int32_t max_bytes, bool min_one_batch,
                                   bool up_to_log_end = false) const;

  Offset high_watermark() const { return Offset(hw_.load(std::memory_order_acquire)); }
  Offset log_end_offset() const { return log_->log_end_offset(); }
  Offset log_start_offset() const { return log_->log_start_offset(); }

  void update_leadership(int32_t leader_epoch, std::vector<int32_t> replicas, int32_t leader);

  // min.insync.replicas of the topic: an acks=all append needs at least this many in-sync
  // replicas.
  void set_min_insync_replicas(int32_t n) { min_insync_.store(n); }
  bool enough_in_sync_for_acks_all() const { return static_cast<int32_t>(isr().size()) >= min_insync_.load(); }

  // ---- the leader's view of its followers ----
  // The in-sync replicas (the leader included), as the controller last set them; initially
  // the replica set. Setting it recomputes the high watermark.
  std::vector<int32_t> isr() const;
  void set_isr(std::vector<int32_t> isr, int64_t now_ms);
  // A follower fetched at `fetch_offset` (its log end offset) at now_ms. Kafka's rule for
  // "caught up": its fetch reached the leader's log end offset as it was then, or the one
  // of its previous fetch. Returns whether the high watermark moved (waiting acks=all
  // produces and consumer fetches should then be checked).
  bool record_follower_fetch(int32_t replica, Offset fetch_offset, int64_t now_ms);
  // ISR followers that have not caught up for longer than max_lag_ms
  // (replica.lag.time.max.ms): the leader asks the controller to take them out.
  std::vector<int32_t> lagging_in_sync(int64_t now_ms, int64_t max_lag_ms) const;
  // Followers outside the ISR whose log end reached the high watermark: they may join it.
  std::vector<int32_t> caught_up_out_of_sync() const;
  // A follower's log end offset as its last fetch said (-1: never fetched).
  Offset follower_log_end(int32_t replica) const;
  storage::Log& log() { return *log_; }
  const storage::Log& log() const { return *log_; }
  std::shared_ptr<storage::Log> shared_log() const { return log_; }

 private:
  void advance_high_watermark(Offset to);
  // Under mu_: the smallest log end offset over the ISR (the leader's own included).
  Offset isr_log_end_locked() const;

  struct FollowerState {
    int64_t log_end = -1;
    int64_t last_caught_up_ms = 0;
    int64_t last_fetch_ms = 0;
    int64_t leader_end_at_last_fetch = 0;
  };

  const TopicPartition tp_;
  const Uuid topic_id_;
  std::shared_ptr<storage::Log> log_;
  std::atomic<int32_t> leader_epoch_;
  std::atomic<int32_t> leader_;
  mutable std::mutex mu_;  // guards replicas_, isr_, followers_
  std::vector<int32_t> replicas_;
  std::vector<int32_t> isr_;
  int64_t isr_set_ms_ = 0;
  std::atomic<bool> alone_in_isr_;  // ISR = {this leader}: HW = LEO without taking mu_
  std::map<int32_t, FollowerState> followers_;
  std::atomic<int64_t> hw_;
  std::atomic<int32_t> min_insync_{1};
};

}  // namespace kb::replication
