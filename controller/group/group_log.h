// The partitions of __consumer_offsets as the group coordinator sees them: it appends its
// records (offset commits, group metadata, tombstones) and replays them when it becomes the
// coordinator of a partition. ReplicaGroupLog (replica_group_log.h) is the broker's; unit
// tests use an in-memory one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/types.h"

namespace kb::coordinator {

// A record to write: key and value bytes; a null value is a tombstone (the compacted topic
// forgets the key).
struct GroupRecord {
  std::string key;
  std::optional<std::string> value;
};

struct StoredGroupRecord {
  int64_t offset = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
};

class GroupLog {
 public:
  virtual ~GroupLog() = default;
  // Appends `records` (not empty) as one batch to __consumer_offsets-<partition>. `done` runs
  // later, on the coordinator's loop, once the batch is committed (readable by every replica
  // that may become coordinator): with the offset of the first record, or the error
  // (NOT_COORDINATOR when this broker no longer leads the partition, KAFKA_STORAGE_ERROR...).
  virtual void append(int32_t partition, const std::vector<GroupRecord>& records,
                      std::function<void(Result<int64_t>)> done) = 0;
  // Calls fn with every committed record of the partition, in log order (start-up and
  // coordinator moves). Runs on the coordinator's loop.
  virtual Status replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn) = 0;
};

}  // namespace kb::coordinator
