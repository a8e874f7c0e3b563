// One replica of a partition on this broker: it owns the partition's Log, its leader-epoch
// cache, its role (leader or follower, as the metadata image says), its leader epoch and its
// high watermark.
// - As leader it appends clients' batches, tracks each follower's log end offset (from their
//   fetches), keeps the high watermark at the smallest log end offset over the ISR, answers
//   whether a follower's log diverges from its own (diverging epoch), and tells which ISR
//   members lag more than replica.lag.time.max.ms and which followers caught up (the
//   controller changes the ISR). A lone broker has ISR = {itself}, so HW = LEO after every
//   append, without a lock.
// - As follower it appends the leader's batches as they are (offsets and epochs kept), takes
//   its high watermark from the leader's (never past its own log end), and truncates a tail
//   that diverges from the leader's log.
//
// - For consumers it owns the read bound (`fetchable_end`, `read`): what a fetch with a given
//   isolation may see (high watermark, last stable offset, log end for replicas) and the
//   aborted transactions a read_committed consumer must drop. Fetch and ListOffsets ask here.
//
// Owner: ReplicaManager (shared_ptr; request handlers and the follower fetcher hold a
// reference while they work). Thread-safety: all methods may be called from any thread. Role
// changes, follower appends and truncation are serialized by one mutex; the leader's append
// path takes no lock of its own (the log serializes appends) unless a batch carries a
// producer id: then the producer state's mutex is held from its check to its update.
// Transactions: the producer state tracks open ones, which hold the last stable offset back;
// WriteTxnMarkers ends them with a control batch appended here (append_txn_marker).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "protocol/types.h"
#include "replication/leader_epoch_cache.h"
#include "replication/producer_state.h"
#include "replication/topic_stats.h"
#include "storage/log.h"
#include "storage/txn_index.h"

namespace kb::replication {

// What the metadata image says of one partition.
struct PartitionState {
  int32_t leader = -1;  // -1: none (no fetching until one is elected)
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
};

// How far a fetch may read (Kafka's FetchIsolation): a follower up to the log end, a
// read_uncommitted consumer up to the high watermark, a read_committed one up to the last
// stable offset.
enum class FetchIsolation { LogEnd, HighWatermark, TxnCommitted };

// A read for a consumer (Kafka's LogReadInfo): the records and the offsets that bound them,
// all taken at the read.
struct LogReadInfo {
  ErrorCode error = ErrorCode::NONE;  // the offsets below are set also with an error
  std::optional<FileSlice> slice;  // absent when nothing is readable at the offset
  int64_t records = 0;
  Offset high_watermark{-1};
  Offset last_stable_offset{-1};
  Offset log_start_offset{-1};
  // TxnCommitted: the aborted transactions overlapping what is returned (their records are
  // dropped by the consumer); empty when nothing is returned. Not set for other isolations.
  std::optional<std::vector<storage::AbortedTxn>> aborted;
};

// A leader's read for a follower (Fetch with a replica id).
struct ReplicaRead {
  ErrorCode error = ErrorCode::NONE;
  // Set when the follower's log diverges from ours: where its last fetched epoch ends here.
  // No records then.
  std::optional<EpochEndOffset> diverging;
  std::optional<FileSlice> slice;
  int64_t records = 0;
  Offset high_watermark{-1};
  Offset log_start_offset{-1};
  Offset log_end_offset{-1};
  bool high_watermark_moved = false;  // waiting acks=all produces and fetches may complete
};

class Partition {
 public:
  // A replica in the role `state` gives it (leader when state.leader == local_id).
  Partition(TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::Log> log, int32_t local_id,
            const PartitionState& state, int64_t now_ms = 0);
  // The leader replica `leader` (the local broker) with ISR = replicas.
  Partition(TopicPartition tp, Uuid topic_id, std::shared_ptr<storage::Log> log, int32_t leader_epoch,
            std::vector<int32_t> replicas, int32_t leader);

  // A replica just created from a log that was there before: its high watermark is the one
  // checkpointed (at most the log end) rather than the log end, unless it leads alone (then
  // everything it holds is committed). Before the replica is shared with other threads.
  void restore_high_watermark(Offset checkpointed);

  const TopicPartition& tp() const { return tp_; }
  const Uuid& topic_id() const { return topic_id_; }
  int32_t local_id() const { return local_id_; }
  int32_t leader_epoch() const { return leader_epoch_.load(); }
  // The metadata's partition epoch (AlterPartition sends it back to the controller).
  int32_t partition_epoch() const { return partition_epoch_.load(); }
  int32_t leader() const { return leader_.load(); }
  bool is_leader() const { return is_leader_.load(std::memory_order_acquire); }
  std::vector<int32_t> replicas() const;

  // ---- role changes (the broker, when the metadata image changes) ----
  // Leads at state.leader_epoch. When that is a new epoch (or the replica followed until
  // now) the epoch starts at the log end offset in the epoch cache and the followers'
  // positions are forgotten (ISR members count as caught up now); the high watermark stays
  // and moves on as followers fetch (Kafka's makeLeader). Returns whether leadership changed.
  bool become_leader(const PartitionState& state, int64_t now_ms);
  // Follows state.leader (-1: nobody yet). Returns whether leader or epoch changed.
  bool become_follower(const PartitionState& state);
  // A metadata change that keeps leader and epoch (ISR, replicas, partition epoch). Returns
  // whether the high watermark moved (an ISR without a lagging follower): waiting acks=all
  // produces and fetches should then be checked.
  bool update_state(const PartitionState& state, int64_t now_ms);
  // Kept for callers that only lead: become_leader with ISR = replicas.
  void update_leadership(int32_t leader_epoch, std::vector<int32_t> replicas, int32_t leader);

  // ---- leader ----
  // Appends validated batches as the leader (offsets and leader epoch patched in place by
  // the log) and advances the high watermark; the bytes are in the page cache on return.
  // NOT_LEADER_OR_FOLLOWER on a follower. Batches with a producer id are first checked
  // against the producer state (ProducerStateManager::check): OUT_OF_ORDER_SEQUENCE_NUMBER,
  // INVALID_PRODUCER_EPOCH, INVALID_RECORD refuse the whole append; a retried batch is not
  // written again: the answer is then the original batch's offsets (records and bytes 0),
  // and `duplicate`, when given, is set. AppendOrigin::Coordinator: the broker's coordinator
  // writes (batches without sequence numbers; see ProducerStateManager::check).
  // `verification`: see ProducerStateManager::check (KIP-890 part 1).
  Result<storage::AppendInfo> append_as_leader(std::span<uint8_t> batches, bool* duplicate = nullptr,
                                               AppendOrigin origin = AppendOrigin::Client,
                                               const TxnVerification& verification = {});
  // The leader's side of a transaction verification (ProducerStateManager::start_verification):
  // 0 when `producer_id` has a transaction open here, else the guard for its append.
  // NOT_LEADER_OR_FOLLOWER on a follower.
  Result<uint64_t> start_txn_verification(int64_t producer_id, int64_t now_ms);

  // The end (exclusive) of what a fetch with `isolation` may read: the log end, the high
  // watermark, or the last stable offset. ListOffsets(LATEST) answers it too.
  Offset fetchable_end(FetchIsolation isolation);
  // Reads from `start` up to fetchable_end(isolation), at most max_bytes (the first batch
  // whole when min_one_batch). OFFSET_OUT_OF_RANGE outside [log start, log end]. The last
  // stable offset is taken before the high watermark, so the answer never shows an LSO above
  // its HW. The caller checks the role and leader epoch (ReplicaManager::fetch_records).
  LogReadInfo read(Offset start, int32_t max_bytes, bool min_one_batch, FetchIsolation isolation);

  // A follower's fetch, served by the leader (Kafka's Partition.fetchRecords for a replica):
  // NOT_LEADER_OR_FOLLOWER unless this replica leads and `replica` is one of the replicas;
  // FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH when current_leader_epoch (>= 0) is older /
  // newer than ours. With last_fetched_epoch >= 0 the follower's log is checked first: when
  // that epoch ends here before fetch_offset, or we only know a smaller one, the answer is
  // the diverging epoch and no records. Otherwise records from fetch_offset up to the log
  // end, and the follower's position is recorded (which may move the high watermark).
  ReplicaRead read_for_replica(int32_t replica, Offset fetch_offset, int32_t current_leader_epoch,
                               int32_t last_fetched_epoch, int32_t max_bytes, bool min_one_batch, int64_t now_ms);

  // OffsetsForLeaderEpoch: where `epoch` ends in this replica's log (Kafka's
  // lastOffsetForLeaderEpoch). The error is FENCED/UNKNOWN_LEADER_EPOCH for a stale/newer
  // current_leader_epoch (>= 0), NOT_LEADER_OR_FOLLOWER for a follower when `leader_only`.
  struct EpochLookup {
    ErrorCode error = ErrorCode::NONE;
    EpochEndOffset end;
  };
  EpochLookup last_offset_for_leader_epoch(int32_t current_leader_epoch, int32_t epoch, bool leader_only) const;

  // FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH when a request's current leader epoch (-1:
  // none given) is older / newer than this replica's, else NONE.
  ErrorCode check_leader_epoch(int32_t current_leader_epoch) const;

  Offset high_watermark() const { return Offset(hw_.load(std::memory_order_acquire)); }
  Offset log_end_offset() const { return log_->log_end_offset(); }
  Offset log_start_offset() const { return log_->log_start_offset(); }

  // min.insync.replicas of the topic: an acks=all append needs at least this many in-sync
  // replicas.
  void set_min_insync_replicas(int32_t n) { min_insync_.store(n); }
  // replica.lag.time.max.ms; 0 (the default) counts the ISR as the controller last set it.
  void set_replica_lag_time_max_ms(int64_t ms) { max_lag_ms_.store(ms); }
  // Whether an acks=all append may go ahead: at least min.insync.replicas ISR members, the
  // leader included. With a replica lag time set, only followers that caught up within it
  // count (kbroker's rule, stricter than Kafka's: when no controller can shrink the ISR — two
  // of three brokers down — acks=all is refused at once with NOT_ENOUGH_REPLICAS instead of
  // timing out). A leader alone in its ISR answers without a lock.
  bool enough_in_sync_for_acks_all() const;

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

  // ---- follower ----
  // Appends the leader's batches as they are (their offsets and partition leader epochs
  // kept; new epochs enter the epoch cache), after checking each batch's CRC. `leader_epoch`
  // is the epoch the fetch was made at: NOT_LEADER_OR_FOLLOWER when this replica leads now,
  // FENCED_LEADER_EPOCH when the epoch changed since. OFFSET_OUT_OF_RANGE unless the batches
  // start at or after the log end offset. The producer state follows the batches unchecked.
  Result<storage::AppendInfo> append_as_follower(std::span<const uint8_t> batches, int32_t leader_epoch);
  // The follower's high watermark: the leader's, but never past its own log end.
  void update_follower_high_watermark(Offset leader_high_watermark);
  // The leader's log start moved (DeleteRecords, retention): ours follows, up to our high
  // watermark.
  void follow_log_start(Offset leader_log_start);
  // Cuts the log at `offset` (batches are never split: the new end may be lower), the epoch
  // cache and the producer state with it, and clamps the high watermark. Returns the new log
  // end offset.
  Result<Offset> truncate_to(Offset offset);
  // The leader's log starts past our whole log: empty it (producer state included) and
  // restart at `start`.
  Status truncate_fully_and_start_at(Offset start);
  // ---- idempotent producers ----
  // How many producers this replica keeps state for.
  size_t producer_count() const;
  // A producer's state (tests, DescribeProducers later); nullopt when unknown.
  std::optional<ProducerStateEntry> producer_state(int64_t producer_id) const;
  // Every producer this replica keeps state for, by id (DescribeProducers).
  std::map<int64_t, ProducerStateEntry> producer_states() const;
  // ProducerStateManager::oldest_open_txn (late transactions).
  std::optional<ProducerStateManager::OpenTxn> oldest_open_txn() const;
  // Forgets producers idle for producer.id.expiration.ms (the broker's periodic check).
  // Returns how many.
  size_t remove_expired_producers(int64_t now_ms, int64_t expiration_ms);
  // Writes the producer-state snapshot at the log end (clean shutdown: the next start reads
  // it instead of scanning the log).
  Status write_producer_snapshot();

  // ---- transactions ----
  // Kafka's last stable offset: the first offset of the earliest transaction that is open,
  // or whose marker the high watermark has not passed yet, but never past the high
  // watermark (nor below the log start). read_committed consumers read up to it. Lock-free
  // while no transaction is unstable.
  Offset last_stable_offset();
  // WriteTxnMarkers on the leader: appends the COMMIT (commit) or ABORT marker of a
  // producer's transaction as a control batch (producer id and epoch, no sequence, one record
  // {version 0, type} -> {version 0, coordinator_epoch}, timestamp now_ms), which ends its
  // transaction here; an ABORT of a transaction with data goes into the transaction index.
  // NOT_LEADER_OR_FOLLOWER on a follower; INVALID_PRODUCER_EPOCH /
  // TRANSACTION_COORDINATOR_FENCED as ProducerStateManager::check_marker says.
  Result<storage::AppendInfo> append_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                                int32_t coordinator_epoch, bool commit, int64_t now_ms);
  // Transactions open on this replica.
  size_t ongoing_txn_count() const;

  // The epoch of the latest entry in the epoch cache (a follower's last fetched epoch), -1
  // when none.
  int32_t latest_epoch() const { return epochs_->latest_epoch(); }
  const LeaderEpochCache& epochs() const { return *epochs_; }

  // The traffic counters of this replica's topic (shared with its other replicas here; set
  // by the ReplicaManager before the replica is shared).
  TopicStats& stats() const { return *stats_; }
  std::shared_ptr<TopicStats> shared_stats() const { return stats_; }
  void set_topic_stats(std::shared_ptr<TopicStats> stats) { stats_ = std::move(stats); }

  storage::Log& log() { return *log_; }
  const storage::Log& log() const { return *log_; }
  std::shared_ptr<storage::Log> shared_log() const { return log_; }

 private:
  // Segment rolls snapshot the producer state (called with producer_mu_ held): the log end
  // and segment count before an append, then a snapshot at that log end if the append rolled.
  struct RollWatch {
    int64_t log_end = -1;
    int segments = -1;  // -1: not watched
  };
  RollWatch watch_roll() const;
  void snapshot_if_rolled(const RollWatch& before);

  void advance_high_watermark(Offset to);
  // Under mu_: the smallest log end offset over the ISR (the leader's own included).
  Offset isr_log_end_locked() const;
  // Under mu_.
  void set_state_locked(const PartitionState& state);
  ErrorCode check_leader_epoch_value(int32_t current, int32_t ours) const;

  struct FollowerState {
    int64_t log_end = -1;
    int64_t last_caught_up_ms = 0;
    int64_t last_fetch_ms = 0;
    int64_t leader_end_at_last_fetch = 0;
  };

  const TopicPartition tp_;
  const Uuid topic_id_;
  const int32_t local_id_;
  std::shared_ptr<storage::Log> log_;
  std::unique_ptr<LeaderEpochCache> epochs_;
  std::atomic<int32_t> leader_epoch_;
  std::atomic<int32_t> partition_epoch_{0};
  std::atomic<int32_t> leader_;
  std::atomic<bool> is_leader_;
  // Serializes role changes with follower appends and truncation (never taken by the
  // leader's append path).
  std::mutex role_mu_;
  mutable std::mutex mu_;  // guards replicas_, isr_, followers_, isr_set_ms_
  std::vector<int32_t> replicas_;
  std::vector<int32_t> isr_;
  int64_t isr_set_ms_ = 0;
  std::atomic<bool> alone_in_isr_;  // ISR = {this leader}: HW = LEO without taking mu_
  std::map<int32_t, FollowerState> followers_;
  std::atomic<int64_t> hw_;
  std::shared_ptr<TopicStats> stats_ = std::make_shared<TopicStats>();
  std::atomic<int32_t> min_insync_{1};
  std::atomic<int64_t> max_lag_ms_{0};
  // Guards producers_. Taken after role_mu_ when both are held; the leader's append of
  // batches with producer ids holds it across check, log append and update.
  mutable std::mutex producer_mu_;
  ProducerStateManager producers_;
  // A lower bound of the producer state's first unstable offset (INT64_MAX: no transaction),
  // written under producer_mu_ (lowered to the log end before a transactional append, so a
  // reader never sees the high watermark pass an open transaction's first offset while the
  // bound is still above it); last_stable_offset() takes the lock only when it is below the
  // high watermark.
  std::atomic<int64_t> first_unstable_hint_{INT64_MAX};
  // Under producer_mu_: recomputes first_unstable_hint_.
  void publish_first_unstable_locked();
};

}  // namespace kb::replication
