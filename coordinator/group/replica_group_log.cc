#include "coordinator/group/replica_group_log.h"

#include "coordinator/group/internal_batches.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "replication/delayed_produce.h"

namespace kb::coordinator {

void ReplicaGroupLog::append(int32_t partition, const std::vector<GroupRecord>& records,
                             std::optional<TxnProducer> txn, std::function<void(Result<int64_t>)> done) {
  TopicPartition tp{topic_, partition};
  auto p = replicas_.get(tp);
  if (!p) {
    loop_.post([done = std::move(done)] { done(Result<int64_t>(ErrorCode::NOT_COORDINATOR)); });
    return;
  }
  InternalBatchBuilder builder(compression_codec_);
  // A transactional offset commit: no sequence number (Kafka's coordinator appends skip the
  // sequence checks), the producer's transaction opens on this partition.
  if (txn) builder.producer(txn->id, txn->epoch, -1).transactional();
  int64_t now = loop_.now_ms();
  for (const auto& r : records)
    builder.add(r.key, r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, now);
  auto bytes = builder.build();
  auto info = p->append_as_leader(bytes, nullptr, replication::AppendOrigin::Coordinator);
  if (!info.ok()) {
    loop_.post([done = std::move(done), e = info.error()] { done(Result<int64_t>(e)); });
    return;
  }
  replicas_.fetch_purgatory().check(tp);
  const int64_t first = info->first_offset.value();
  const Offset required(info->last_offset.value() + 1);
  if (p->high_watermark() >= required) {  // a lone replica: committed at once
    loop_.post([done = std::move(done), first] { done(first); });
    return;
  }
  auto op = std::make_shared<replication::DelayedProduce>(
      std::vector<replication::DelayedProduce::Waiting>{{p, required}},
      [this, done = std::move(done), first](const std::vector<replication::DelayedProduce::Waiting>& w) mutable {
        // Kafka's GroupMetadataManager turns append errors into coordinator errors.
        ErrorCode e = w.front().result;
        if (e == ErrorCode::NOT_LEADER_OR_FOLLOWER || e == ErrorCode::KAFKA_STORAGE_ERROR)
          e = ErrorCode::NOT_COORDINATOR;
        else if (e != ErrorCode::NONE)
          e = ErrorCode::COORDINATOR_NOT_AVAILABLE;
        loop_.post([done = std::move(done), e, first] { done(e == ErrorCode::NONE ? Result<int64_t>(first) : Result<int64_t>(e)); });
      });
  // The timer fires unless cancelled; holding the operation weakly frees a completed one now.
  auto timer = loop_.after_ms(commit_timeout_ms_, [weak = std::weak_ptr(op), tp, this] {
    if (auto op = weak.lock()) op->force_complete();
    replicas_.produce_purgatory().purge(tp);
  });
  replicas_.produce_purgatory().watch({tp}, op);
  if (op->completed()) timer->cancel();
}

Status ReplicaGroupLog::replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn,
                               SkippedRecords& skipped) {
  auto p = replicas_.get(TopicPartition{topic_, partition});
  if (!p) return Status(ErrorCode::NOT_COORDINATOR, topic_ + "-" + std::to_string(partition) + " is not here");
  // Up to the log end, as Kafka loads: a new leader's high watermark may still be behind
  // records that every in-sync replica has.
  return replay_batches(p->log(), p->log_start_offset(), p->log_end_offset(), fn, skipped);
}

}  // namespace kb::coordinator
