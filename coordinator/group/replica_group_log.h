// The broker's GroupLog: __consumer_offsets partitions hosted by this broker's ReplicaManager.
// A write is an acks=-1 append through ReplicaManager::append_records: it completes once the
// ISR has it (the high watermark passed it), as Kafka's offsets.commit.required.acks=-1, or
// fails (at the latest after offsets.commit.timeout.ms) with Kafka's coordinator errors; a
// group loads from everything its partition's log holds.
//
// Owner: the Broker. Threads: called on the coordinator's loop; completions are posted back
// to it.
#pragma once

#include "coordinator/group/group_log.h"
#include "replication/replica_manager.h"
#include "runtime/event_loop.h"

namespace kb::coordinator {

class ReplicaGroupLog final : public GroupLog {
 public:
  static constexpr const char* kTopic = "__consumer_offsets";

  // `topic`: the internal topic (__transaction_state serves the transaction coordinator).
  // `compression_codec`: how its batches are written (offsets.topic.compression.codec for
  // __consumer_offsets: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd); any codec is read.
  ReplicaGroupLog(replication::ReplicaManager& replicas, runtime::EventLoop& loop, int64_t commit_timeout_ms = 5000,
                  std::string topic = kTopic, int compression_codec = 0)
      : replicas_(replicas),
        loop_(loop),
        commit_timeout_ms_(commit_timeout_ms),
        topic_(std::move(topic)),
        compression_codec_(compression_codec) {}

  void append(int32_t partition, const std::vector<GroupRecord>& records, std::optional<TxnProducer> txn,
              std::function<void(Result<int64_t>)> done) override;
  Status replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn,
                SkippedRecords& skipped) override;

 private:
  replication::ReplicaManager& replicas_;
  runtime::EventLoop& loop_;
  const int64_t commit_timeout_ms_;
  const std::string topic_;
  const int compression_codec_;
};

}  // namespace kb::coordinator
