// What the parts of the group coordinator share (Kafka's GroupMetadataManager cache): the
// groups held in memory, which __consumer_offsets partitions this broker leads and whether each
// is still loading, the broker properties, the loop and the log.
//
// Owner: GroupCoordinator's Impl, next to the parts that use it (Rebalancer, OffsetStore).
// Threads: the coordinator's loop only; no locks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "coordinator/group/group.h"
#include "coordinator/group/group_log.h"
#include "protocol/types.h"
#include "runtime/event_loop.h"

namespace kb::coordinator {

// Broker properties the coordinator follows (Kafka's names and defaults).
struct GroupConfig {
  int32_t min_session_timeout_ms = 6000;         // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;      // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3000;     // group.initial.rebalance.delay.ms
  int32_t max_size = 0x7fffffff;                 // group.max.size
  int32_t offset_metadata_max_bytes = 4096;      // offset.metadata.max.bytes
  int64_t offsets_retention_ms = 7 * 24 * 3600 * 1000LL;       // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600000;        // offsets.retention.check.interval.ms
};

enum class PartitionState { Loading, Owned };

// Kafka's partitionFor: abs(key.hashCode) % partitions, with Java's String.hashCode over
// UTF-16 code units (group ids here, transactional ids for __transaction_state).
int32_t java_hash_partition(std::string_view key, int32_t partitions);

// How Kafka answers a request whose write to __consumer_offsets failed
// (GroupMetadataManager.storeOffsets): the client looks for the coordinator again, retries, or
// learns that its commit is too large.
ErrorCode commit_error_for(ErrorCode append_error);

struct GroupTable {
  GroupTable(GroupConfig c, runtime::EventLoop& l, GroupLog& g) : config(c), loop(l), log(g) {}

  GroupConfig config;
  runtime::EventLoop& loop;
  GroupLog& log;
  int32_t partition_count = 0;
  std::map<int32_t, PartitionState> partitions;  // of __consumer_offsets led here
  std::map<std::string, std::unique_ptr<Group>> groups;
  bool stopped = false;
  // Expires when the coordinator is destroyed: timers and log completions hold it weakly and
  // do nothing once it is gone (they may outlive the coordinator on the loop).
  std::weak_ptr<void> alive;

  // Whether this broker coordinates `group_id` now (Kafka's validateGroupStatus after the
  // group id check): NONE, COORDINATOR_NOT_AVAILABLE once stopped,
  // COORDINATOR_LOAD_IN_PROGRESS while its partition loads, NOT_COORDINATOR otherwise.
  ErrorCode coordinator_error(const std::string& group_id) const;
  bool owns(int32_t partition) const;  // led here and loaded

  Group* find(const std::string& group_id);
  Group& get_or_create(const std::string& group_id);
  void transition(Group& g, GroupState to) { g.transition_to(to, loop.now_ms()); }

  // `fn` to run later (a timer, a completion) only while the coordinator lives.
  template <class Fn>
  auto guarded(Fn fn) const {
    return [alive = alive, fn = std::move(fn)](auto&&... args) mutable {
      if (auto keep = alive.lock()) fn(std::forward<decltype(args)>(args)...);
    };
  }
};

}  // namespace kb::coordinator
