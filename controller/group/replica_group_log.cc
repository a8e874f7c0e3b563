#include "controller/group/replica_group_log.h"

#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "replication/replica_manager.h"

namespace kb::coordinator {

namespace {

// Kafka's GroupMetadataManager (and TransactionStateManager) turn append errors into
// coordinator errors: the client looks for the coordinator again, or retries later.
ErrorCode coordinator_error(ErrorCode e) {
  switch (e) {
    case ErrorCode::NOT_LEADER_OR_FOLLOWER:
    case ErrorCode::KAFKA_STORAGE_ERROR:
      return ErrorCode::NOT_COORDINATOR;
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::NOT_ENOUGH_REPLICAS:
    case ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode::REQUEST_TIMED_OUT:
      return ErrorCode::COORDINATOR_NOT_AVAILABLE;
    default:
      return e;  // INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE...: the caller's own answer
  }
}

}  // namespace

void ReplicaGroupLog::append(int32_t partition, const std::vector<GroupRecord>& records,
                             std::optional<TxnProducer> txn, std::function<void(Result<int64_t>)> done) {
  TopicPartition tp{topic_, partition};
  if (!replicas_.get(tp)) {
    loop_.post([done = std::move(done)] { done(Result<int64_t>(ErrorCode::NOT_COORDINATOR)); });
    return;
  }
  RecordBatchBuilder builder;
  // A transactional offset commit: no sequence number (Kafka's coordinator appends skip the
  // sequence checks), the producer's transaction opens on this partition.
  if (txn) builder.producer(txn->id, txn->epoch, -1).transactional();
  int64_t now = loop_.now_ms();
  for (const auto& r : records)
    builder.add(r.key, r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, now);
  auto bytes = builder.build();
  // acks=-1 (offsets.commit.required.acks): answered once the ISR has the batch.
  replicas_.append_records(
      {replication::AppendEntry{tp, bytes, std::nullopt}}, -1, commit_timeout_ms_,
      replication::AppendOrigin::Coordinator,
      [this, done = std::move(done)](std::vector<replication::AppendResult> results) mutable {
        const replication::AppendResult& r = results.front();
        Result<int64_t> out = r.error == ErrorCode::NONE ? Result<int64_t>(r.info->first_offset.value())
                                                         : Result<int64_t>(Error{coordinator_error(r.error), r.message});
        // Always later on the loop, also when answered at once: the coordinator never sees
        // its callback run inside its own call.
        loop_.post([done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
      });
}

Status ReplicaGroupLog::replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn) {
  auto p = replicas_.get(TopicPartition{topic_, partition});
  if (!p) return Status(ErrorCode::NOT_COORDINATOR, topic_ + "-" + std::to_string(partition) + " is not here");
  // Up to the log end, as Kafka loads: a new leader's high watermark may still be behind
  // records that every in-sync replica has.
  return p->log().for_each_batch(p->log_start_offset(), p->log_end_offset(),
                                 [&](std::span<const uint8_t> batch, const BatchHeader& h) -> Status {
                                   const int64_t producer = h.is_transactional() ? h.producer_id : -1;
                                   if (h.is_control()) {
                                     // A transaction marker: one record, key {version, type}.
                                     bool first = true;
                                     return for_each_record(batch, [&](const RecordView& r) {
                                       if (!first || !r.key || r.key->size() < 4) return;
                                       first = false;
                                       const auto* k = reinterpret_cast<const uint8_t*>(r.key->data());
                                       const bool commit = wire::load_be16(k + 2) == 1;
                                       fn(StoredGroupRecord{r.offset, r.key, r.value, producer,
                                                            commit ? TxnMarker::Commit : TxnMarker::Abort});
                                     });
                                   }
                                   return for_each_record(batch, [&](const RecordView& r) {
                                     fn(StoredGroupRecord{r.offset, r.key, r.value, producer, TxnMarker::None});
                                   });
                                 });
}

}  // namespace kb::coordinator
