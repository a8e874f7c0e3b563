// One replica of a partition on this broker: it owns the partition's Log, its role, its
// leader epoch and its high watermark. A lone broker leads every partition with ISR = {itself},
// so HW = LEO after every append; followers, ISR changes and acks=all waiting extend this
// object in the cluster issue.
//
// Owner: ReplicaManager (shared_ptr; request handlers hold a reference while they work).
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
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
  // replicas. (One broker: the ISR is the replica set.)
  void set_min_insync_replicas(int32_t n) { min_insync_.store(n); }
  bool enough_in_sync_for_acks_all() const {
    return static_cast<int32_t>(replicas().size()) >= min_insync_.load();
  }
  storage::Log& log() { return *log_; }
  const storage::Log& log() const { return *log_; }
  std::shared_ptr<storage::Log> shared_log() const { return log_; }

 private:
  void advance_high_watermark(Offset to);

  const TopicPartition tp_;
  const Uuid topic_id_;
  std::shared_ptr<storage::Log> log_;
  std::atomic<int32_t> leader_epoch_;
  std::atomic<int32_t> leader_;
  mutable std::mutex mu_;  // guards replicas_
  std::vector<int32_t> replicas_;
  std::atomic<int64_t> hw_;
  std::atomic<int32_t> min_insync_{1};
};

}  // namespace kb::replication
