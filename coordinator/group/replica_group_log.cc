#include "coordinator/group/replica_group_log.h"

#include "coordinator/group/internal_batches.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "replication/replica_manager.h"

namespace kb::coordinator {

void ReplicaGroupLog::append(int32_t partition, const std::vector<GroupRecord>& records,
                             std::optional<TxnProducer> txn, std::function<void(Result<int64_t>)> done) {
  TopicPartition tp{topic_, partition};
  if (!replicas_.get(tp)) {
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
  // acks=-1 (offsets.commit.required.acks): answered once the ISR has the batch.
  replicas_.append_records(
      {replication::AppendEntry{tp, bytes, std::nullopt, -1}}, -1, commit_timeout_ms_,
      replication::AppendOrigin::Coordinator,
      [this, done = std::move(done)](std::vector<replication::AppendResult> results) mutable {
        const replication::AppendResult& r = results.front();
        Result<int64_t> out = r.error == ErrorCode::NONE ? Result<int64_t>(r.info->first_offset.value())
                                                         : Result<int64_t>(Error{coordinator_append_error(r.error), r.message});
        // Always later on the loop, also when answered at once: the coordinator never sees
        // its callback run inside its own call.
        loop_.post([done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
      });
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
