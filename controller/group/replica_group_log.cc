#include "controller/group/replica_group_log.h"

#include "protocol/record_batch.h"

namespace kb::coordinator {

void ReplicaGroupLog::append(int32_t partition, const std::vector<GroupRecord>& records,
                             std::function<void(Result<int64_t>)> done) {
  TopicPartition tp{kTopic, partition};
  auto p = replicas_.get(tp);
  if (!p) {
    loop_.post([done = std::move(done)] { done(Result<int64_t>(ErrorCode::NOT_COORDINATOR)); });
    return;
  }
  RecordBatchBuilder builder;
  int64_t now = loop_.now_ms();
  for (const auto& r : records)
    builder.add(r.key, r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, now);
  auto bytes = builder.build();
  auto info = p->append_as_leader(bytes);
  // A lone broker's high watermark is its log end offset after the append, so the records
  // are committed now; replicated partitions complete when the ISR has them (cluster issue).
  Result<int64_t> out = info.ok() ? Result<int64_t>(info->first_offset.value()) : Result<int64_t>(info.error());
  if (info.ok()) replicas_.fetch_purgatory().check(tp);
  loop_.post([done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
}

Status ReplicaGroupLog::replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn) {
  auto p = replicas_.get(TopicPartition{kTopic, partition});
  if (!p) return Status(ErrorCode::NOT_COORDINATOR, "__consumer_offsets-" + std::to_string(partition) + " is not here");
  return p->log().for_each_batch(p->log_start_offset(), p->high_watermark(),
                                 [&](std::span<const uint8_t> batch, const BatchHeader& h) -> Status {
                                   // Control batches (transaction markers) carry no group state.
                                   if (h.is_control()) return {};
                                   return for_each_record(batch, [&](const RecordView& r) {
                                     fn(StoredGroupRecord{r.offset, r.key, r.value});
                                   });
                                 });
}

}  // namespace kb::coordinator
