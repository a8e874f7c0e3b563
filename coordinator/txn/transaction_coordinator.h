// The transaction coordinator: Kafka's transactions (the classic protocol, KIP-98) for the
// transactional ids whose __transaction_state partition this broker leads.
//
// Each transactional id has one state, Kafka's: Empty, Ongoing, PrepareCommit, PrepareAbort,
// CompleteCommit, CompleteAbort, PrepareEpochFence, Dead. Every transition is written to the
// compacted topic __transaction_state (txn_records.h) and applied only once committed there;
// until then the id is busy and other requests for it get CONCURRENT_TRANSACTIONS.
//
//   InitProducerId  Empty/Complete*  -> Empty, epoch + 1 (a new producer id when exhausted)
//                   Ongoing          -> the old producer is fenced: PrepareAbort at epoch + 1,
//                                       answered CONCURRENT_TRANSACTIONS (the client retries)
//   AddPartitionsToTxn / AddOffsetsToTxn  -> Ongoing, the partitions added
//   EndTxn          Ongoing -> PrepareCommit/PrepareAbort (answered once written), then the
//                   markers go to every partition's leader (WriteTxnMarkers, retried until
//                   each is written), then CompleteCommit/CompleteAbort
//
// Timers: every transaction.abort.timed.out.transaction.cleanup.interval.ms, Ongoing
// transactions older than their timeout are aborted with a bumped epoch (the producer is
// fenced); every transaction.remove.expired.transaction.cleanup.interval.ms, ids idle longer
// than transactional.id.expiration.ms are forgotten (a tombstone). A broker that becomes
// leader of a partition loads its ids and finishes the transactions it finds prepared.
//
// Owner: the Broker. Threads: public methods may be called from any thread; the work runs on
// the EventLoop, where every callback is called. The loop, the log and the marker sender must
// outlive the coordinator; stop() before destroying any.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/group/group_log.h"
#include "protocol/types.h"
#include "runtime/event_loop.h"

namespace kb::coordinator {

// The coordinator's log: an id lives in partition GroupCoordinator::partition_for(id, count).
inline constexpr const char* kTransactionStateTopic = "__transaction_state";

// Kafka's TransactionState, with its ids (as stored in TransactionLogValue.transaction_status).
enum class TxnState : int8_t {
  Empty = 0,
  Ongoing = 1,
  PrepareCommit = 2,
  PrepareAbort = 3,
  CompleteCommit = 4,
  CompleteAbort = 5,
  Dead = 6,
  PrepareEpochFence = 7,
};
const char* txn_state_name(TxnState s);
std::optional<TxnState> txn_state_from_name(std::string_view name);

// Broker properties the coordinator follows (Kafka's names and defaults).
struct TxnConfig {
  int32_t max_timeout_ms = 900000;                        // transaction.max.timeout.ms
  int64_t abort_timed_out_interval_ms = 10000;            // transaction.abort.timed.out.transaction.cleanup.interval.ms
  int64_t id_expiration_ms = 604800000;                   // transactional.id.expiration.ms
  int64_t remove_expired_interval_ms = 3600000;           // transaction.remove.expired.transaction.cleanup.interval.ms
  int64_t marker_retry_backoff_ms = 100;                  // between rounds of WriteTxnMarkers
};

// Sends WriteTxnMarkers to the leaders of a transaction's partitions (the broker's: through
// its peer client; unit tests: in memory).
class TxnMarkerSender {
 public:
  struct Marker {
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    bool commit = false;
    int32_t coordinator_epoch = 0;
    std::vector<TopicPartition> partitions;
  };
  using Outcome = std::map<TopicPartition, ErrorCode>;
  virtual ~TxnMarkerSender() = default;
  // Writes the marker on each partition's leader. `done` (called once, from any thread) has
  // every partition's outcome: NONE once written or when the partition no longer exists, else
  // the error (a retriable one, or TRANSACTION_COORDINATOR_FENCED).
  virtual void send(Marker marker, std::function<void(Outcome)> done) = 0;
};

// A producer id and epoch for InitProducerId.
struct ProducerIdAndEpoch {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};

// What DescribeTransactions shows of one id (error: NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, TRANSACTIONAL_ID_NOT_FOUND).
struct DescribedTxn {
  ErrorCode error = ErrorCode::NONE;
  std::string transactional_id;
  TxnState state = TxnState::Empty;
  int32_t timeout_ms = 0;
  int64_t start_ms = -1;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::map<std::string, std::vector<int32_t>> topics;
};

struct ListedTxn {
  std::string transactional_id;
  int64_t producer_id = -1;
  TxnState state = TxnState::Empty;
};
struct ListedTxns {
  ErrorCode error = ErrorCode::NONE;  // COORDINATOR_LOAD_IN_PROGRESS while a partition loads
  std::vector<std::string> unknown_state_filters;
  std::vector<ListedTxn> transactions;
};

// For /metrics.
struct TxnCoordinatorSample {
  std::map<TxnState, int64_t> ids_by_state;
  uint64_t commits = 0;
  uint64_t aborts = 0;
};

class TransactionCoordinator {
 public:
  // Asks for a producer id never given before; calls back once, from any thread.
  using ProducerIdSource = std::function<void(std::function<void(Result<int64_t>)>)>;
  using ErrorCallback = std::function<void(ErrorCode)>;

  TransactionCoordinator(TxnConfig config, runtime::EventLoop& loop, GroupLog& log, TxnMarkerSender& markers,
                         ProducerIdSource ids);
  ~TransactionCoordinator();

  // This broker now leads `partition` of __transaction_state (of `partitions`) at
  // `coordinator_epoch` (the partition's leader epoch): its ids are loaded, then prepared
  // transactions are completed. Until loaded, requests get COORDINATOR_LOAD_IN_PROGRESS.
  void became_leader(int32_t partition, int32_t partitions, int32_t coordinator_epoch);
  // No longer leads `partition`: its ids are dropped from memory, marker sending stops.
  void resigned(int32_t partition);
  // Drops everything and cancels the timers; must be called before the loop stops. Blocks
  // (up to 5 s) until the loop has done it; the second form calls `done` on the loop instead.
  void stop();
  void stop(std::function<void()> done);

  // InitProducerId with a transactional id (not empty); `expected` is the KIP-360 producer
  // id and epoch (v3+), -1/-1 when absent.
  void init_producer_id(std::string transactional_id, int32_t timeout_ms, ProducerIdAndEpoch expected,
                        std::function<void(Result<ProducerIdAndEpoch>)> done);
  // AddPartitionsToTxn (and AddOffsetsToTxn, with the group's __consumer_offsets partition).
  void add_partitions(std::string transactional_id, int64_t producer_id, int16_t producer_epoch,
                      std::vector<TopicPartition> partitions, ErrorCallback done);
  // AddPartitionsToTxn v4 verify_only (a leader checking a producer's batch, KIP-890): each
  // partition NONE when it is in the ongoing transaction, else INVALID_TXN_STATE; producer
  // errors apply to all, and CONCURRENT_TRANSACTIONS while the transaction is being ended
  // (a write in flight for the id does not hold the answer up, as in Kafka).
  void verify_partitions(std::string transactional_id, int64_t producer_id, int16_t producer_epoch,
                         std::vector<TopicPartition> partitions,
                         std::function<void(std::map<TopicPartition, ErrorCode>)> done);
  void end_txn(std::string transactional_id, int64_t producer_id, int16_t producer_epoch, bool commit,
               ErrorCallback done);
  void describe(std::vector<std::string> transactional_ids, std::function<void(std::vector<DescribedTxn>)> done);
  // duration_filter_ms < 0: every transaction; else those running at least that long.
  void list(std::vector<std::string> state_filters, std::vector<int64_t> producer_id_filters,
            int64_t duration_filter_ms, std::function<void(ListedTxns)> done);

  // For metrics; blocks up to timeout_ms for the loop (empty then). Never on the loop.
  TxnCoordinatorSample sample(int64_t timeout_ms = 2000);
  void sample(std::function<void(TxnCoordinatorSample)> done);
  // Records of __transaction_state skipped while loading partitions since start (they could
  // not be read; see SkippedRecords). Any thread.
  uint64_t skipped_records() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::coordinator
