#include "coordinator/txn/transaction_coordinator.h"

#include <atomic>
#include <chrono>
#include <future>
#include <utility>

#include <spdlog/spdlog.h>

#include "coordinator/group/group_coordinator.h"
#include "coordinator/txn/txn_records.h"

namespace kb::coordinator {

namespace {

constexpr const char* kStateNames[] = {"Empty",         "Ongoing",       "PrepareCommit", "PrepareAbort",
                                       "CompleteCommit", "CompleteAbort", "Dead",          "PrepareEpochFence"};

// Kafka bumps the epoch up to Short.MAX_VALUE - 1; past that the id gets a new producer id.
bool epoch_exhausted(int16_t epoch) { return epoch >= 32766; }

bool is_prepared(TxnState s) { return s == TxnState::PrepareCommit || s == TxnState::PrepareAbort; }

// One transactional id, as this coordinator holds it.
struct TxnMetadata {
  std::string id;
  int32_t partition = 0;  // of __transaction_state
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  // Before the last InitProducerId bump: a retried InitProducerId (KIP-360) that still names
  // them gets the current id and epoch again. In memory only, as in Kafka.
  int64_t last_producer_id = -1;
  int16_t last_producer_epoch = -1;
  int32_t timeout_ms = 0;
  TxnState state = TxnState::Empty;
  std::set<TopicPartition> partitions;
  int64_t start_ms = -1;
  int64_t update_ms = 0;
  // A transition of this id is being written: other requests get CONCURRENT_TRANSACTIONS.
  bool busy = false;
  // Prepared transactions: the partitions whose marker is not written yet.
  std::set<TopicPartition> markers_left;
};

rec::TransactionLogValue to_value(const TxnMetadata& m) {
  rec::TransactionLogValue v;
  v.producer_id = m.producer_id;
  v.producer_epoch = m.producer_epoch;
  v.transaction_timeout_ms = m.timeout_ms;
  v.transaction_status = static_cast<int8_t>(m.state);
  std::vector<rec::TransactionLogValue::PartitionsSchema> topics;
  for (const auto& tp : m.partitions) {
    if (topics.empty() || topics.back().topic != tp.topic) {
      topics.emplace_back();
      topics.back().topic = tp.topic;
    }
    topics.back().partition_ids.push_back(tp.partition);
  }
  v.transaction_partitions = std::move(topics);
  v.transaction_last_update_timestamp_ms = m.update_ms;
  v.transaction_start_timestamp_ms = m.start_ms;
  return v;
}

std::optional<TxnMetadata> from_value(const std::string& id, int32_t partition, const rec::TransactionLogValue& v) {
  if (v.transaction_status < 0 || v.transaction_status > static_cast<int8_t>(TxnState::PrepareEpochFence))
    return std::nullopt;
  TxnMetadata m;
  m.id = id;
  m.partition = partition;
  m.producer_id = v.producer_id;
  m.producer_epoch = v.producer_epoch;
  m.timeout_ms = v.transaction_timeout_ms;
  m.state = static_cast<TxnState>(v.transaction_status);
  if (v.transaction_partitions)
    for (const auto& t : *v.transaction_partitions)
      for (int32_t p : t.partition_ids) m.partitions.insert(TopicPartition{t.topic, p});
  m.update_ms = v.transaction_last_update_timestamp_ms;
  m.start_ms = v.transaction_start_timestamp_ms;
  return m;
}

}  // namespace

const char* txn_state_name(TxnState s) { return kStateNames[static_cast<int>(s)]; }

std::optional<TxnState> txn_state_from_name(std::string_view name) {
  for (int i = 0; i < 8; ++i)
    if (name == kStateNames[i]) return static_cast<TxnState>(i);
  return std::nullopt;
}

struct TransactionCoordinator::Impl : std::enable_shared_from_this<Impl> {
  Impl(TxnConfig c, runtime::EventLoop& l, GroupLog& g, TxnMarkerSender& s, ProducerIdSource i)
      : config(c), loop(l), log(g), markers(s), ids(std::move(i)) {}

  // A __transaction_state partition led here. `generation` tells a completion that arrives
  // after the partition was given up (and perhaps taken again) that it is stale.
  struct Owned {
    bool loading = true;
    int32_t coordinator_epoch = 0;
    uint64_t generation = 0;
  };

  TxnConfig config;
  runtime::EventLoop& loop;
  GroupLog& log;
  TxnMarkerSender& markers;
  ProducerIdSource ids;
  int32_t partition_count = 0;
  std::map<int32_t, Owned> partitions;
  uint64_t next_generation = 1;
  std::map<std::string, TxnMetadata> txns;
  std::shared_ptr<runtime::Timer> abort_timer, expire_timer;
  bool stopped = false;
  uint64_t commits = 0, aborts = 0;
  std::atomic<uint64_t> skipped_records{0};  // read from any thread (metrics)

  // ---- ownership ----------------------------------------------------------------------------

  int32_t partition_of(const std::string& id) const { return GroupCoordinator::partition_for(id, partition_count); }

  ErrorCode coordinator_error(const std::string& id) const {
    if (stopped || partition_count <= 0) return ErrorCode::NOT_COORDINATOR;
    auto it = partitions.find(partition_of(id));
    if (it == partitions.end()) return ErrorCode::NOT_COORDINATOR;
    return it->second.loading ? ErrorCode::COORDINATOR_LOAD_IN_PROGRESS : ErrorCode::NONE;
  }

  bool owns(int32_t partition, uint64_t generation) const {
    auto it = partitions.find(partition);
    return !stopped && it != partitions.end() && it->second.generation == generation;
  }

  uint64_t generation_of(int32_t partition) const {
    auto it = partitions.find(partition);
    return it == partitions.end() ? 0 : it->second.generation;
  }

  TxnMetadata* find(const std::string& id) {
    auto it = txns.find(id);
    return it == txns.end() ? nullptr : &it->second;
  }

  void became_leader(int32_t partition, int32_t count, int32_t coordinator_epoch) {
    if (stopped) return;
    partition_count = count;
    if (partitions.count(partition)) resigned(partition);
    uint64_t gen = next_generation++;
    partitions[partition] = Owned{true, coordinator_epoch, gen};
    auto self = shared_from_this();
    loop.post([self, partition, gen] { self->load(partition, gen); });
    if (!abort_timer) schedule_abort_check();
    if (!expire_timer) schedule_expiry();
  }

  void load(int32_t partition, uint64_t gen) {
    if (!owns(partition, gen)) return;
    const int64_t started = loop.now_ms();
    std::map<std::string, TxnMetadata> loaded;
    SkippedRecords skipped;
    auto apply = [&](const StoredGroupRecord& r) {
      if (r.marker != TxnMarker::None) return;  // nobody writes transactions into this topic
      auto id = r.key ? decode_txn_key(*r.key) : std::nullopt;
      if (!id) return skipped.add(r.offset, "a key of no known __transaction_state version");
      if (!r.value) {
        loaded.erase(*id);
        return;
      }
      auto v = decode_txn_value(*r.value);
      auto m = v ? from_value(*id, partition, *v) : std::nullopt;
      if (!m) return skipped.add(r.offset, "a transaction state value that does not decode");
      loaded[*id] = std::move(*m);
    };
    if (auto st = log.replay(partition, apply, skipped); !st.ok()) {
      // The log itself cannot be read here: stay not the coordinator of this partition.
      spdlog::error("cannot load __transaction_state-{}: {}", partition, st.error().message);
      partitions.erase(partition);
      return;
    }
    if (skipped.count > 0) {
      skipped_records += static_cast<uint64_t>(skipped.count);
      spdlog::warn("__transaction_state-{}: skipped {} records that could not be read (first at {}); the rest loaded",
                   partition, skipped.count, skipped.first);
    }
    std::vector<std::string> prepared;
    for (auto& [id, m] : loaded) {
      if (is_prepared(m.state)) {
        m.markers_left = m.partitions;
        prepared.push_back(id);
      }
      txns[id] = std::move(m);
    }
    partitions[partition].loading = false;
    if (!loaded.empty())
      spdlog::info("transaction coordinator: loaded {} transactional ids of __transaction_state-{} in {} ms ({} to "
                   "complete)",
                   loaded.size(), partition, loop.now_ms() - started, prepared.size());
    for (const auto& id : prepared) send_markers(id);
  }

  void resigned(int32_t partition) {
    partitions.erase(partition);
    std::erase_if(txns, [&](const auto& kv) { return kv.second.partition == partition; });
  }

  void stop() {
    stopped = true;
    partitions.clear();
    txns.clear();
    if (abort_timer) abort_timer->cancel();
    if (expire_timer) expire_timer->cancel();
  }

  // ---- writing transitions --------------------------------------------------------------------

  // Writes `target` as the new state of its id (which the caller marked busy); once the
  // write is committed, and this broker still coordinates the id, it becomes the id's state.
  void write(TxnMetadata target, std::function<void(ErrorCode)> done) {
    const uint64_t gen = generation_of(target.partition);
    std::vector<GroupRecord> records{{encode_txn_key(target.id), encode_txn_value(to_value(target))}};
    auto self = shared_from_this();
    const int32_t partition = target.partition;
    log.append(partition, records, std::nullopt,
               [self, target = std::move(target), gen, done = std::move(done)](Result<int64_t> r) mutable {
                 self->written(std::move(target), gen, r.ok() ? ErrorCode::NONE : r.code(), done);
               });
  }

  void written(TxnMetadata target, uint64_t gen, ErrorCode e, const std::function<void(ErrorCode)>& done) {
    TxnMetadata* m = find(target.id);
    if (!m || !owns(target.partition, gen)) return done(ErrorCode::NOT_COORDINATOR);
    m->busy = false;
    if (e != ErrorCode::NONE) {
      if (m->producer_epoch < 0) txns.erase(target.id);  // a new id whose first write failed
      return done(e);
    }
    target.busy = false;
    *m = std::move(target);
    done(ErrorCode::NONE);
  }

  // Checks a request's producer id and epoch against the id's: NONE when they match.
  static ErrorCode producer_error(const TxnMetadata* m, int64_t producer_id, int16_t producer_epoch) {
    if (!m || m->producer_id != producer_id) return ErrorCode::INVALID_PRODUCER_ID_MAPPING;
    if (m->producer_epoch != producer_epoch) return ErrorCode::PRODUCER_FENCED;
    if (m->busy) return ErrorCode::CONCURRENT_TRANSACTIONS;
    return ErrorCode::NONE;
  }

  // ---- InitProducerId --------------------------------------------------------------------------

  void init_producer_id(const std::string& id, int32_t timeout_ms, ProducerIdAndEpoch expected,
                        std::function<void(Result<ProducerIdAndEpoch>)> done) {
    if (auto e = coordinator_error(id); e != ErrorCode::NONE) return done(e);
    if (timeout_ms <= 0 || timeout_ms > config.max_timeout_ms)
      return done(Error{ErrorCode::INVALID_TRANSACTION_TIMEOUT,
                        "transaction.timeout.ms must be between 1 and transaction.max.timeout.ms (" +
                            std::to_string(config.max_timeout_ms) + ")"});
    TxnMetadata* m = find(id);
    if (!m) {
      with_new_producer_id(std::move(done), [self = shared_from_this(), id, timeout_ms](
                                                int64_t pid, std::function<void(Result<ProducerIdAndEpoch>)> done) {
        self->init_new(id, timeout_ms, pid, std::move(done));
      });
      return;
    }
    if (m->busy) return done(ErrorCode::CONCURRENT_TRANSACTIONS);
    if (expected.producer_id >= 0 &&
        !(expected.producer_id == m->producer_id && expected.producer_epoch == m->producer_epoch)) {
      // The answer to this producer's earlier InitProducerId was lost: it gets it again.
      bool retried = m->state == TxnState::Empty && expected.producer_id == m->last_producer_id &&
                     expected.producer_epoch == m->last_producer_epoch;
      if (retried) return done(ProducerIdAndEpoch{m->producer_id, m->producer_epoch});
      return done(ErrorCode::PRODUCER_FENCED);
    }
    switch (m->state) {
      case TxnState::Ongoing:
        // A new producer instance: the old one's transaction is aborted at a bumped epoch,
        // which fences it; this one retries and then finds CompleteAbort.
        spdlog::info("transactional id {}: a new producer fences producer {} epoch {}, aborting its transaction", id,
                     m->producer_id, m->producer_epoch);
        begin_end(*m, false, true, nullptr);
        return done(ErrorCode::CONCURRENT_TRANSACTIONS);
      case TxnState::Empty:
      case TxnState::CompleteCommit:
      case TxnState::CompleteAbort:
        break;
      default:
        return done(ErrorCode::CONCURRENT_TRANSACTIONS);
    }
    m->busy = true;
    if (!epoch_exhausted(m->producer_epoch)) {
      bump(id, timeout_ms, m->producer_id, static_cast<int16_t>(m->producer_epoch + 1), std::move(done));
      return;
    }
    // Epoch exhausted: a new producer id. Without one the id is no longer busy.
    auto release = [self = shared_from_this(), id, done = std::move(done)](Result<ProducerIdAndEpoch> r) {
      if (!r.ok())
        if (TxnMetadata* t = self->find(id)) t->busy = false;
      done(std::move(r));
    };
    with_new_producer_id(std::move(release), [self = shared_from_this(), id, timeout_ms](
                                                 int64_t pid, std::function<void(Result<ProducerIdAndEpoch>)> done) {
      self->bump(id, timeout_ms, pid, 0, std::move(done));
    });
  }

  // Gets a fresh producer id, then continues on the loop with it (or answers the error).
  void with_new_producer_id(std::function<void(Result<ProducerIdAndEpoch>)> done,
                            std::function<void(int64_t, std::function<void(Result<ProducerIdAndEpoch>)>)> then) {
    auto self = shared_from_this();
    ids([self, done = std::move(done), then = std::move(then)](Result<int64_t> pid) mutable {
      self->loop.post([pid = std::move(pid), done = std::move(done), then = std::move(then)]() mutable {
        if (!pid.ok()) return done(pid.error());
        then(pid.value(), std::move(done));
      });
    });
  }

  void init_new(const std::string& id, int32_t timeout_ms, int64_t pid,
                std::function<void(Result<ProducerIdAndEpoch>)> done) {
    if (auto e = coordinator_error(id); e != ErrorCode::NONE) return done(e);
    if (find(id)) return done(ErrorCode::CONCURRENT_TRANSACTIONS);  // created meanwhile: the client retries
    TxnMetadata m;
    m.id = id;
    m.partition = partition_of(id);
    m.producer_id = pid;
    m.timeout_ms = timeout_ms;
    m.update_ms = loop.now_ms();
    m.busy = true;
    TxnMetadata target = m;
    target.producer_epoch = 0;
    txns[id] = std::move(m);
    write(std::move(target), [done = std::move(done), pid](ErrorCode e) {
      if (e != ErrorCode::NONE) return done(e);
      done(ProducerIdAndEpoch{pid, 0});
    });
  }

  // The id (busy) starts over at `pid`/`epoch`, Empty.
  void bump(const std::string& id, int32_t timeout_ms, int64_t pid, int16_t epoch,
            std::function<void(Result<ProducerIdAndEpoch>)> done) {
    TxnMetadata* m = find(id);
    if (!m) return done(ErrorCode::NOT_COORDINATOR);
    TxnMetadata target = *m;
    target.last_producer_id = m->producer_id;
    target.last_producer_epoch = m->producer_epoch;
    target.producer_id = pid;
    target.producer_epoch = epoch;
    target.timeout_ms = timeout_ms;
    target.state = TxnState::Empty;
    target.partitions.clear();
    target.start_ms = -1;
    target.update_ms = loop.now_ms();
    write(std::move(target), [done = std::move(done), pid, epoch](ErrorCode e) {
      if (e != ErrorCode::NONE) return done(e);
      done(ProducerIdAndEpoch{pid, epoch});
    });
  }

  // ---- AddPartitionsToTxn, EndTxn ----------------------------------------------------------------

  void add_partitions(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                      const std::vector<TopicPartition>& added, const std::function<void(ErrorCode)>& done) {
    if (auto e = coordinator_error(id); e != ErrorCode::NONE) return done(e);
    TxnMetadata* m = find(id);
    if (auto e = producer_error(m, producer_id, producer_epoch); e != ErrorCode::NONE) return done(e);
    switch (m->state) {
      case TxnState::Empty:
      case TxnState::Ongoing:
      case TxnState::CompleteCommit:
      case TxnState::CompleteAbort:
        break;
      default:
        return done(ErrorCode::CONCURRENT_TRANSACTIONS);
    }
    bool all_in = m->state == TxnState::Ongoing;
    for (const auto& tp : added) all_in = all_in && m->partitions.count(tp);
    if (all_in) return done(ErrorCode::NONE);
    TxnMetadata target = *m;
    if (m->state != TxnState::Ongoing) {
      target.partitions.clear();
      target.start_ms = loop.now_ms();
    }
    target.state = TxnState::Ongoing;
    target.partitions.insert(added.begin(), added.end());
    target.update_ms = loop.now_ms();
    m->busy = true;
    write(std::move(target), done);
  }

  std::map<TopicPartition, ErrorCode> verify_partitions(const std::string& id, int64_t producer_id,
                                                        int16_t producer_epoch,
                                                        const std::vector<TopicPartition>& partitions) {
    ErrorCode all = coordinator_error(id);
    const TxnMetadata* m = find(id);
    if (all == ErrorCode::NONE) all = producer_error(m, producer_id, producer_epoch);
    // As in Kafka, a write in flight for the id does not hold the answer up (the partitions
    // count once written), but a transaction being ended takes no new batches yet.
    if (all == ErrorCode::CONCURRENT_TRANSACTIONS) all = ErrorCode::NONE;
    if (all == ErrorCode::NONE && (m->state == TxnState::PrepareCommit || m->state == TxnState::PrepareAbort))
      all = ErrorCode::CONCURRENT_TRANSACTIONS;
    std::map<TopicPartition, ErrorCode> out;
    for (const auto& tp : partitions) {
      ErrorCode e = all;
      if (e == ErrorCode::NONE && !(m->state == TxnState::Ongoing && m->partitions.count(tp)))
        e = ErrorCode::INVALID_TXN_STATE;
      out[tp] = e;
    }
    return out;
  }

  void end_txn(const std::string& id, int64_t producer_id, int16_t producer_epoch, bool commit,
               std::function<void(ErrorCode)> done) {
    if (auto e = coordinator_error(id); e != ErrorCode::NONE) return done(e);
    TxnMetadata* m = find(id);
    if (auto e = producer_error(m, producer_id, producer_epoch); e != ErrorCode::NONE) return done(e);
    switch (m->state) {
      case TxnState::Ongoing:
        return begin_end(*m, commit, false, std::move(done));
      case TxnState::CompleteCommit:  // a retried EndTxn whose answer was lost
        return done(commit ? ErrorCode::NONE : ErrorCode::INVALID_TXN_STATE);
      case TxnState::CompleteAbort:
        return done(commit ? ErrorCode::INVALID_TXN_STATE : ErrorCode::NONE);
      case TxnState::PrepareCommit:
        return done(commit ? ErrorCode::CONCURRENT_TRANSACTIONS : ErrorCode::INVALID_TXN_STATE);
      case TxnState::PrepareAbort:
        return done(commit ? ErrorCode::INVALID_TXN_STATE : ErrorCode::CONCURRENT_TRANSACTIONS);
      default:
        return done(ErrorCode::INVALID_TXN_STATE);
    }
  }

  // Ongoing -> PrepareCommit/PrepareAbort (with the epoch bumped when `fence`); `done` (may
  // be null) hears once that is written, then the markers go out.
  void begin_end(TxnMetadata& m, bool commit, bool fence, std::function<void(ErrorCode)> done) {
    TxnMetadata target = m;
    if (fence && !epoch_exhausted(m.producer_epoch)) {
      target.last_producer_id = m.producer_id;
      target.last_producer_epoch = m.producer_epoch;
      target.producer_epoch = static_cast<int16_t>(m.producer_epoch + 1);
    }
    target.state = commit ? TxnState::PrepareCommit : TxnState::PrepareAbort;
    target.update_ms = loop.now_ms();
    target.markers_left = target.partitions;
    m.busy = true;
    const std::string id = m.id;
    write(std::move(target), [self = shared_from_this(), id, done = std::move(done)](ErrorCode e) {
      if (done) done(e);
      if (e == ErrorCode::NONE) self->send_markers(id);
    });
  }

  // ---- markers ------------------------------------------------------------------------------

  void send_markers(const std::string& id) {
    TxnMetadata* m = find(id);
    if (!m || !is_prepared(m->state) || m->busy) return;
    if (m->markers_left.empty()) return complete(id);
    auto owned = partitions.find(m->partition);
    if (owned == partitions.end()) return;
    TxnMarkerSender::Marker marker;
    marker.producer_id = m->producer_id;
    marker.producer_epoch = m->producer_epoch;
    marker.commit = m->state == TxnState::PrepareCommit;
    marker.coordinator_epoch = owned->second.coordinator_epoch;
    marker.partitions.assign(m->markers_left.begin(), m->markers_left.end());
    const uint64_t gen = owned->second.generation;
    auto self = shared_from_this();
    markers.send(std::move(marker), [self, id, gen](TxnMarkerSender::Outcome outcome) {
      self->loop.post([self, id, gen, outcome = std::move(outcome)] { self->markers_sent(id, gen, outcome); });
    });
  }

  void markers_sent(const std::string& id, uint64_t gen, const TxnMarkerSender::Outcome& outcome) {
    TxnMetadata* m = find(id);
    if (!m || !owns(m->partition, gen) || !is_prepared(m->state)) return;
    for (const auto& [tp, e] : outcome) {
      switch (e) {
        case ErrorCode::NONE:
          m->markers_left.erase(tp);
          break;
        case ErrorCode::TRANSACTION_COORDINATOR_FENCED:
          // A coordinator of a newer epoch owns the id now; it completes the transaction.
          spdlog::warn("transactional id {}: {} refused our marker as a newer coordinator wrote one; giving up", id,
                       tp.to_string());
          return;
        case ErrorCode::INVALID_PRODUCER_EPOCH:
          // The partition has seen a newer epoch of this producer: nothing left to end there.
          spdlog::warn("transactional id {}: {} has a newer epoch than {}; its marker is skipped", id,
                       tp.to_string(), m->producer_epoch);
          m->markers_left.erase(tp);
          break;
        default:
          spdlog::debug("transactional id {}: marker for {} failed ({}), retrying", id, tp.to_string(),
                        error_name(e));
          break;
      }
    }
    if (m->markers_left.empty()) return complete(id);
    auto self = shared_from_this();
    loop.after_ms(config.marker_retry_backoff_ms, [self, id] { self->send_markers(id); });
  }

  // PrepareCommit/PrepareAbort with every marker written -> CompleteCommit/CompleteAbort.
  void complete(const std::string& id) {
    TxnMetadata* m = find(id);
    if (!m || !is_prepared(m->state) || m->busy) return;
    const bool commit = m->state == TxnState::PrepareCommit;
    TxnMetadata target = *m;
    target.state = commit ? TxnState::CompleteCommit : TxnState::CompleteAbort;
    target.partitions.clear();
    target.update_ms = loop.now_ms();
    m->busy = true;
    write(std::move(target), [self = shared_from_this(), id, commit](ErrorCode e) {
      if (e == ErrorCode::NONE) {
        ++(commit ? self->commits : self->aborts);
        spdlog::debug("transactional id {}: {}", id, commit ? "committed" : "aborted");
      } else if (e != ErrorCode::NOT_COORDINATOR) {
        // Still ours: try again (a new coordinator would complete it from the prepared state).
        self->loop.after_ms(self->config.marker_retry_backoff_ms, [self, id] { self->complete(id); });
      }
    });
  }

  // ---- timers -------------------------------------------------------------------------------

  void schedule_abort_check() {
    auto self = shared_from_this();
    abort_timer = loop.after_ms(config.abort_timed_out_interval_ms, [self] {
      self->abort_timed_out();
      self->schedule_abort_check();
    });
  }

  void abort_timed_out() {
    const int64_t now = loop.now_ms();
    std::vector<std::string> expired;
    for (const auto& [id, m] : txns)
      if (m.state == TxnState::Ongoing && !m.busy && m.start_ms + m.timeout_ms < now &&
          coordinator_error(id) == ErrorCode::NONE)
        expired.push_back(id);
    for (const auto& id : expired) {
      TxnMetadata& m = txns[id];
      spdlog::info("transactional id {}: transaction of producer {} epoch {} ran past its {} ms timeout; aborting it",
                   id, m.producer_id, m.producer_epoch, m.timeout_ms);
      begin_end(m, false, true, nullptr);
    }
  }

  void schedule_expiry() {
    auto self = shared_from_this();
    expire_timer = loop.after_ms(config.remove_expired_interval_ms, [self] {
      self->expire_ids();
      self->schedule_expiry();
    });
  }

  // Ids with no transaction, idle past transactional.id.expiration.ms, are forgotten.
  void expire_ids() {
    const int64_t now = loop.now_ms();
    for (auto& [id, m] : txns) {
      bool idle = m.state == TxnState::Empty || m.state == TxnState::CompleteCommit ||
                  m.state == TxnState::CompleteAbort;
      if (!idle || m.busy || m.update_ms + config.id_expiration_ms > now || coordinator_error(id) != ErrorCode::NONE)
        continue;
      m.busy = true;
      const uint64_t gen = generation_of(m.partition);
      std::vector<GroupRecord> tombstone{{encode_txn_key(id), std::nullopt}};
      log.append(m.partition, tombstone, std::nullopt, [self = shared_from_this(), id, gen](Result<int64_t> r) {
        TxnMetadata* t = self->find(id);
        if (!t || !self->owns(t->partition, gen)) return;
        if (r.ok()) {
          spdlog::info("transactional id {} expired (idle longer than transactional.id.expiration.ms)", id);
          self->txns.erase(id);
        } else {
          t->busy = false;
        }
      });
    }
  }

  // ---- admin ----------------------------------------------------------------------------------

  DescribedTxn describe(const std::string& id) {
    DescribedTxn d;
    d.transactional_id = id;
    d.error = coordinator_error(id);
    if (d.error != ErrorCode::NONE) return d;
    const TxnMetadata* m = find(id);
    if (!m || m->producer_epoch < 0) {
      d.error = ErrorCode::TRANSACTIONAL_ID_NOT_FOUND;
      return d;
    }
    d.state = m->state;
    d.timeout_ms = m->timeout_ms;
    d.start_ms = m->start_ms;
    d.producer_id = m->producer_id;
    d.producer_epoch = m->producer_epoch;
    for (const auto& tp : m->partitions) d.topics[tp.topic].push_back(tp.partition);
    return d;
  }

  ListedTxns list(const std::vector<std::string>& state_filters, const std::vector<int64_t>& pid_filters,
                  int64_t duration_filter_ms) {
    ListedTxns out;
    for (const auto& [p, o] : partitions)
      if (o.loading) out.error = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    if (out.error != ErrorCode::NONE) return out;
    std::set<TxnState> states;
    for (const auto& name : state_filters) {
      if (auto s = txn_state_from_name(name)) states.insert(*s);
      else out.unknown_state_filters.push_back(name);
    }
    if (!state_filters.empty() && states.empty()) return out;  // only unknown states: nothing matches
    const std::set<int64_t> pids(pid_filters.begin(), pid_filters.end());
    const int64_t now = loop.now_ms();
    for (const auto& [id, m] : txns) {
      if (m.producer_epoch < 0) continue;  // not written yet
      if (!states.empty() && !states.count(m.state)) continue;
      if (!pids.empty() && !pids.count(m.producer_id)) continue;
      if (duration_filter_ms >= 0) {
        bool running = m.state == TxnState::Ongoing || is_prepared(m.state);
        if (!running || m.start_ms < 0 || now - m.start_ms < duration_filter_ms) continue;
      }
      out.transactions.push_back(ListedTxn{id, m.producer_id, m.state});
    }
    return out;
  }

  TxnCoordinatorSample sample() const {
    TxnCoordinatorSample s;
    for (const auto& [id, m] : txns)
      if (m.producer_epoch >= 0) ++s.ids_by_state[m.state];
    s.commits = commits;
    s.aborts = aborts;
    return s;
  }
};

TransactionCoordinator::TransactionCoordinator(TxnConfig config, runtime::EventLoop& loop, GroupLog& log,
                                               TxnMarkerSender& markers, ProducerIdSource ids)
    : impl_(std::make_shared<Impl>(config, loop, log, markers, std::move(ids))) {}

TransactionCoordinator::~TransactionCoordinator() = default;

void TransactionCoordinator::became_leader(int32_t partition, int32_t partitions, int32_t coordinator_epoch) {
  auto impl = impl_;
  impl->loop.post([impl, partition, partitions, coordinator_epoch] {
    impl->became_leader(partition, partitions, coordinator_epoch);
  });
}

void TransactionCoordinator::resigned(int32_t partition) {
  auto impl = impl_;
  impl->loop.post([impl, partition] { impl->resigned(partition); });
}

void TransactionCoordinator::stop(std::function<void()> done) {
  auto impl = impl_;
  impl->loop.post([impl, done = std::move(done)] {
    impl->stop();
    done();
  });
}

void TransactionCoordinator::stop() {
  auto promise = std::make_shared<std::promise<void>>();
  auto fut = promise->get_future();
  stop([promise] { promise->set_value(); });
  fut.wait_for(std::chrono::seconds(5));
}

void TransactionCoordinator::init_producer_id(std::string transactional_id, int32_t timeout_ms,
                                              ProducerIdAndEpoch expected,
                                              std::function<void(Result<ProducerIdAndEpoch>)> done) {
  auto impl = impl_;
  impl->loop.post([impl, id = std::move(transactional_id), timeout_ms, expected, done = std::move(done)]() mutable {
    impl->init_producer_id(id, timeout_ms, expected, std::move(done));
  });
}

void TransactionCoordinator::add_partitions(std::string transactional_id, int64_t producer_id, int16_t producer_epoch,
                                            std::vector<TopicPartition> partitions, ErrorCallback done) {
  auto impl = impl_;
  impl->loop.post([impl, id = std::move(transactional_id), producer_id, producer_epoch,
                   partitions = std::move(partitions), done = std::move(done)] {
    impl->add_partitions(id, producer_id, producer_epoch, partitions, done);
  });
}

void TransactionCoordinator::verify_partitions(std::string transactional_id, int64_t producer_id,
                                               int16_t producer_epoch, std::vector<TopicPartition> partitions,
                                               std::function<void(std::map<TopicPartition, ErrorCode>)> done) {
  auto impl = impl_;
  impl->loop.post([impl, id = std::move(transactional_id), producer_id, producer_epoch,
                   partitions = std::move(partitions), done = std::move(done)] {
    done(impl->verify_partitions(id, producer_id, producer_epoch, partitions));
  });
}

void TransactionCoordinator::end_txn(std::string transactional_id, int64_t producer_id, int16_t producer_epoch,
                                     bool commit, ErrorCallback done) {
  auto impl = impl_;
  impl->loop.post([impl, id = std::move(transactional_id), producer_id, producer_epoch, commit,
                   done = std::move(done)]() mutable {
    impl->end_txn(id, producer_id, producer_epoch, commit, std::move(done));
  });
}

void TransactionCoordinator::describe(std::vector<std::string> transactional_ids,
                                      std::function<void(std::vector<DescribedTxn>)> done) {
  auto impl = impl_;
  impl->loop.post([impl, ids = std::move(transactional_ids), done = std::move(done)] {
    std::vector<DescribedTxn> out;
    for (const auto& id : ids) out.push_back(impl->describe(id));
    done(std::move(out));
  });
}

void TransactionCoordinator::list(std::vector<std::string> state_filters, std::vector<int64_t> producer_id_filters,
                                  int64_t duration_filter_ms, std::function<void(ListedTxns)> done) {
  auto impl = impl_;
  impl->loop.post([impl, states = std::move(state_filters), pids = std::move(producer_id_filters), duration_filter_ms,
                   done = std::move(done)] { done(impl->list(states, pids, duration_filter_ms)); });
}

void TransactionCoordinator::sample(std::function<void(TxnCoordinatorSample)> done) {
  auto impl = impl_;
  impl->loop.post([impl, done = std::move(done)] { done(impl->sample()); });
}

TxnCoordinatorSample TransactionCoordinator::sample(int64_t timeout_ms) {
  auto promise = std::make_shared<std::promise<TxnCoordinatorSample>>();
  auto fut = promise->get_future();
  sample([promise](TxnCoordinatorSample s) { promise->set_value(std::move(s)); });
  if (fut.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) return {};
  return fut.get();
}

uint64_t TransactionCoordinator::skipped_records() const { return impl_->skipped_records.load(); }

}  // namespace kb::coordinator
