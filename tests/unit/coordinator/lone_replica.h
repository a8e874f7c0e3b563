// A real __consumer_offsets-0 (log on disk, a ReplicaManager leading it alone, so a write is
// committed at once) and the broker's ReplicaGroupLog over it, on a hand-driven loop.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "coordinator/group/replica_group_log.h"
#include "replication/replica_manager.h"
#include "storage/log_manager.h"
#include "tests/unit/coordinator/coordinator_test_util.h"
#include "tests/unit/storage/storage_test_util.h"

namespace kb::coordinator::test {

struct LoneOffsetsReplica {
  storage::test::TempDir dir;
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<replication::ReplicaManager> replicas;
  std::shared_ptr<replication::Partition> partition;
  ManualLoop loop;
  std::unique_ptr<ReplicaGroupLog> log;

  // `codec`: offsets.topic.compression.codec.
  explicit LoneOffsetsReplica(int codec = 0) {
    storage::LogManagerOptions o;
    o.log_dirs = {dir.path};
    auto opened = storage::LogManager::open(o);
    REQUIRE(opened.ok());
    logs = std::move(opened.value());
    replicas = std::make_unique<replication::ReplicaManager>(*logs, 1);
    auto p = replicas->become_leader(TopicPartition{ReplicaGroupLog::kTopic, 0}, Uuid{},
                                     replication::PartitionState{1, 1, 0, {1}, {1}}, storage::LogConfig{}, 0);
    REQUIRE(p.ok());
    partition = p.value();
    log = std::make_unique<ReplicaGroupLog>(*replicas, loop, 5000, ReplicaGroupLog::kTopic, codec);
  }
  ~LoneOffsetsReplica() { logs->shutdown(); }

  Result<int64_t> append(std::vector<GroupRecord> records, std::optional<TxnProducer> txn) {
    std::optional<Result<int64_t>> out;
    log->append(0, records, txn, [&](Result<int64_t> r) { out = std::move(r); });
    loop.run();
    REQUIRE(out.has_value());
    return std::move(*out);
  }
};

}  // namespace kb::coordinator::test
