// The replicas this broker hosts, by partition, and the replication contract clients see
// (Kafka's ReplicaManager):
// - append_records: the leader's append for a client, a coordinator or WriteTxnMarkers, with
//   the required-acks wait (an acks=all answer waits in the produce purgatory until the high
//   watermark passes the records, the timeout, or the end of the partition's leadership here);
// - fetch_records: consumer and follower fetches, with the read bound of their isolation and
//   the long poll (min.bytes / max.wait.ms in the fetch purgatory, woken by appends and high
//   watermark moves);
// - fetch_offset_for_timestamp: ListOffsets with the same read bound.
// The broker turns metadata image changes into become_leader / become_follower / update_state /
// remove calls; each completes the delayed operations the change ends (a partition that stops
// leading answers its waiting produces NOT_LEADER_OR_FOLLOWER, a removed one the error of a
// partition this broker does not host). Request handlers only decode, call and encode.
//
// Owner: Broker. Thread-safety: all methods may be called from any thread (a shared mutex
// guards the map; lookups are the hot path and take it shared). Callbacks of append_records
// and fetch_records run once, either before the call returns or later on the thread that
// completes the delayed operation (an append, a follower fetch, a role change, the purgatory
// timer); they must not block.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "replication/partition.h"
#include "replication/purgatory.h"
#include "replication/topic_stats.h"
#include "runtime/loop_thread.h"
#include "storage/log_manager.h"

namespace kb::replication {

struct LocalChanges;
struct DeltaEnvironment;

// One partition's part of an append.
struct AppendEntry {
  // The ending of a producer's transaction on the partition (WriteTxnMarkers): a control
  // batch built here (Partition::append_txn_marker) instead of `records`.
  struct TxnMarker {
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int32_t coordinator_epoch = 0;
    bool commit = false;
  };
  TopicPartition tp;
  // Record batches. From a client (AppendOrigin::Client) they are validated against the
  // topic's settings first (CRC and structure, max.message.bytes, no control batches, the
  // timestamp bound, compression.type); a coordinator's are trusted. The bytes are patched in
  // place (offsets, leader epoch) and must stay valid during the call only.
  std::span<uint8_t> records;
  std::optional<TxnMarker> marker;
  // kbroker's conditional append (Produce's expected_end_offset tag, the Schema Registry's
  // writes): the records go in only when the log ends exactly here, else OFFSET_OUT_OF_RANGE
  // with AppendResult::log_end_offset. -1: unconditional.
  int64_t expected_end_offset = -1;
  // KIP-890 part 1: the guard of the transaction verification this client's transactional
  // batch passed (start_transaction_verification); 0: none.
  uint64_t verification_guard = 0;
};

struct AppendResult {
  ErrorCode error = ErrorCode::NONE;
  std::string message;  // why, when the append itself was refused
  // Set once the records are in the log, also when the wait for the ISR then failed: the
  // offsets given (a retried batch: those of its first append).
  std::optional<storage::AppendInfo> info;
  Offset log_start_offset{-1};
  Offset log_end_offset{-1};  // set when a conditional append found another end
  bool duplicate = false;   // an idempotent producer's retry: nothing was written again
};

// A partition of a fetch.
struct FetchPartition {
  TopicPartition tp;
  Offset fetch_offset{0};
  int32_t current_leader_epoch = -1;  // -1: not given (no fencing)
  int32_t last_fetched_epoch = -1;    // followers: their log's last epoch (-1: not given)
  int32_t max_bytes = 0;              // partition_max_bytes
};

// Kafka's FetchParams.
struct FetchParams {
  int32_t replica_id = -1;  // a follower's broker id; -1 for a consumer
  // LogEnd for a follower; HighWatermark or TxnCommitted (read_committed) for a consumer.
  FetchIsolation isolation = FetchIsolation::HighWatermark;
  int64_t max_wait_ms = 0;  // 0: answer at once
  int32_t min_bytes = 1;
  int64_t max_bytes = INT32_MAX;  // over the whole answer (the first batch may exceed it)
  std::vector<FetchPartition> partitions;
};

struct FetchPartitionResult {
  ErrorCode error = ErrorCode::NONE;
  std::optional<FileSlice> slice;  // stored batches, sent with sendfile: no copy here
  int64_t records = 0;
  Offset high_watermark{-1};
  Offset last_stable_offset{-1};
  Offset log_start_offset{-1};
  // read_committed: the aborted transactions in `slice` (see LogReadInfo); else unset.
  std::optional<std::vector<storage::AbortedTxn>> aborted;
  // A follower's log diverges: where its last fetched epoch ends here (no records then).
  std::optional<EpochEndOffset> diverging;
  // With NOT_LEADER_OR_FOLLOWER or a fenced epoch from a replica hosted here: the leader as
  // this replica knows it (-1 when the partition is not hosted here).
  int32_t leader_id = -1;
  int32_t leader_epoch = -1;
  std::shared_ptr<TopicStats> stats;  // the partition's topic counters, when hosted
};

// ListOffsets of one partition (Kafka's Partition.fetchOffsetForTimestamp).
struct OffsetLookup {
  ErrorCode error = ErrorCode::NONE;
  int64_t timestamp = -1;
  int64_t offset = -1;  // -1: none
  int32_t leader_epoch = -1;
};

class ReplicaManager {
 public:
  // ListOffsets' special timestamps.
  static constexpr int64_t kLatestTimestamp = -1;
  static constexpr int64_t kEarliestTimestamp = -2;
  static constexpr int64_t kMaxTimestamp = -3;

  // `purgatory_loop`: where the purgatories' timeouts fire; null: a LoopThread of its own
  // (`kb-purgatory`). Unit tests give a runtime::ManualLoop, which must outlive this.
  ReplicaManager(storage::LogManager& logs, int32_t node_id, runtime::EventLoop* purgatory_loop = nullptr);
  // Waiting operations are completed first (as at shutdown).
  ~ReplicaManager();
  int32_t node_id() const { return node_id_; }

  // The error for a partition this broker does not host (Kafka asks its metadata cache:
  // NOT_LEADER_OR_FOLLOWER when the partition exists elsewhere, else
  // UNKNOWN_TOPIC_OR_PARTITION, the default). Set once before requests are served.
  void set_missing_partition_error(std::function<ErrorCode(const TopicPartition&)> fn) {
    missing_error_ = std::move(fn);
  }
  ErrorCode missing_partition_error(const TopicPartition& tp) const;

  // Appends each entry on the leader of its partition, then answers `done` with one result
  // per entry, in entry order (Kafka's appendRecords). required_acks 0 or 1: at once; -1
  // (all): refused with NOT_ENOUGH_REPLICAS when fewer than min.insync.replicas are in sync,
  // else answered once the high watermark passed the records of every entry (NONE, or
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below min.insync.replicas
  // meanwhile), or at timeout_ms (REQUEST_TIMED_OUT), or when the partition stops leading
  // (NOT_LEADER_OR_FOLLOWER) or goes (missing_partition_error). Any other value of
  // required_acks: INVALID_REQUIRED_ACKS. Appends wake the fetches waiting on the partition.
  void append_records(std::vector<AppendEntry> entries, int16_t required_acks, int64_t timeout_ms,
                      AppendOrigin origin, std::function<void(std::vector<AppendResult>)> done);

  // transaction.partition.verification.enable (KIP-890 part 1; off until the broker sets it):
  // a client's transactional batch that would open a transaction on a partition is refused
  // with INVALID_TXN_STATE unless it brings the guard of a verification that the partition is
  // in the producer's transaction (AppendEntry::verification_guard).
  void set_transaction_verification(bool on) { verify_transactions_.store(on, std::memory_order_relaxed); }
  bool transaction_verification() const { return verify_transactions_.load(std::memory_order_relaxed); }
  // Starts that verification for `producer_id` on the leader of `tp` before its coordinator is
  // asked: 0 when the producer's transaction is open there already (nothing to verify), else
  // the guard for the append (Partition::start_txn_verification); NOT_LEADER_OR_FOLLOWER or
  // the missing-partition error.
  Result<uint64_t> start_transaction_verification(const TopicPartition& tp, int64_t producer_id);

  // Reads each partition up to the bound of params.isolation (Kafka's fetchMessages) and
  // answers `done` with one result per partition, in order. Consumers read from the leader
  // only (NOT_LEADER_OR_FOLLOWER with the leader otherwise; FENCED/UNKNOWN_LEADER_EPOCH for a
  // stale/newer current_leader_epoch); a follower's fetch is served by
  // Partition::read_for_replica and records its position (which may move the high watermark
  // and complete waiting produces). Answered at once when max_wait_ms is 0, min_bytes are
  // there, or any partition has an error or a diverging epoch; otherwise the fetch waits
  // until an append brings min_bytes, a follower's high watermark moves, a partition stops
  // leading or goes, or max_wait_ms passes — then it is read again and answered.
  void fetch_records(FetchParams params, std::function<void(std::vector<FetchPartitionResult>)> done);

  // ListOffsets on the leader: the earliest, the latest (the read bound of `isolation`), the
  // record with the largest timestamp (kMaxTimestamp), or the first offset whose timestamp
  // is at least `timestamp`, below the read bound.
  OffsetLookup fetch_offset_for_timestamp(const TopicPartition& tp, int64_t timestamp, FetchIsolation isolation,
                                          int32_t current_leader_epoch);

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
  // A metadata change of `partition` that keeps its leader and epoch (Partition::update_state);
  // when it moves the high watermark (a smaller ISR), waiting produces and fetches go on.
  void update_state(Partition& partition, const PartitionState& state, int64_t now_ms);
  // Stops hosting `tp`; with `delete_log` its files are removed (topic deletion), also when it
  // is not hosted (a stray log). Its waiting produces and fetches are answered now.
  Status remove(const TopicPartition& tp, bool delete_log);
  // Completes every waiting fetch and produce now (shutdown: connections can drain).
  void complete_delayed_operations();

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

  // The traffic counters of every topic hosted here, by name (/metrics).
  std::map<std::string, std::shared_ptr<TopicStats>> topic_stats() const;

  // Waiting operations, counted once per partition they wait on (tests).
  size_t waiting_fetches() const { return fetch_purgatory_.watching(); }
  size_t waiting_produces() const { return produce_purgatory_.watching(); }

 private:
  friend class DelayedProduce;
  friend class DelayedFetch;

  // One partition's append as leader (validation for clients, the min ISR check for acks=all).
  AppendResult append_to_leader(Partition& p, const AppendEntry& entry, int16_t required_acks, AppendOrigin origin);
  // Reads every partition of `params` once; `answer_now` when one must not wait (an error, a
  // diverging epoch); returns the record bytes found.
  int64_t read_all(const FetchParams& params, std::vector<FetchPartitionResult>& out, bool& answer_now);
  // The high watermark of `tp` moved (or its role changed): waiting produces and fetches.
  void high_watermark_moved(const TopicPartition& tp);
  // Under mu_ (unique): the shared counters of `topic`, created with its first replica.
  std::shared_ptr<TopicStats> stats_for_locked(const std::string& topic);

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
  std::map<std::string, std::shared_ptr<TopicStats>> topic_stats_;  // under mu_
  std::function<ErrorCode(const TopicPartition&)> missing_error_;
  // Taken by conditional appends only (check of the end and append as one step), so two of
  // them never both pass the same check; plain appends never wait on it.
  std::mutex conditional_append_mu_;
  std::atomic<bool> verify_transactions_{false};
  // The purgatories' timeouts fire here. Stopped by the destructor once the purgatories'
  // operations are complete, before the purgatories go.
  std::unique_ptr<runtime::LoopThread> own_loop_;  // null when the owner gave a loop
  runtime::EventLoop& loop_;
  // Waiting fetches, keyed by partition: woken by appends and high watermark moves.
  Purgatory fetch_purgatory_;
  // Waiting acks=all appends, keyed by partition: woken when the high watermark moves.
  Purgatory produce_purgatory_;
};

}  // namespace kb::replication
