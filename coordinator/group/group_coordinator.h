// The group coordinator: Kafka's classic consumer-group protocol (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup), committed offsets (OffsetCommit, OffsetFetch, OffsetDelete;
// TxnOffsetCommit, whose offsets take effect with their transaction's marker) and group
// administration (DescribeGroups, ListGroups, DeleteGroups) for the groups whose
// __consumer_offsets partition this broker leads.
//
// State lives in the compacted topic __consumer_offsets (Kafka's record format, see
// group_records.h): an offset commit is answered once its record is committed, group metadata
// (generation, members, assignments) is written when a rebalance completes, and a broker that
// becomes leader of a partition replays it to rebuild the groups there. The partition of a
// group is Kafka's: abs(Java hashCode of the group id) % partitions.
//
// Timers, never polling: each member's session timeout, the rebalance timeout (members that
// do not rejoin in time are removed), group.initial.rebalance.delay.ms for a new group, the
// sync timeout (members that do not fetch their assignment are removed), and the periodic
// expiry of offsets (offsets.retention.minutes).
//
// This class is the facade the handlers call; the work is done by its parts, each in its own
// file (Kafka's GroupCoordinator / GroupMetadataManager split): rebalance.h (membership and
// generations, join.cc for JoinGroup), offset_store.h (offsets, their expiry, deletion),
// group_loader.h (replaying a partition), group_table.h (the groups and partitions held).
// Requests are checked as Kafka's validateGroupStatus does: NOT_COORDINATOR when this broker
// does not lead the group's partition, COORDINATOR_LOAD_IN_PROGRESS while it loads (except
// Heartbeat, answered NONE, and SyncGroup, answered REBALANCE_IN_PROGRESS, as Kafka does), and
// COORDINATOR_NOT_AVAILABLE once stopped.
//
// Owner: the Broker. Threads: every public method may be called from any thread; it posts
// the work to the EventLoop, where all state lives and every callback is called. The loop and
// the GroupLog must outlive the coordinator; stop() before destroying either.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/group/group.h"
#include "coordinator/group/group_log.h"
#include "coordinator/group/group_table.h"
#include "coordinator/group/offset_store.h"
#include "coordinator/group/rebalance.h"
#include "protocol/messages/describe_groups_response.h"
#include "runtime/event_loop.h"

namespace kb::coordinator {

struct ListedGroup {
  std::string group_id;
  std::string protocol_type;
  GroupState state = GroupState::Empty;
};
struct ListedGroups {
  ErrorCode error = ErrorCode::NONE;  // COORDINATOR_LOAD_IN_PROGRESS while a partition loads
  std::vector<ListedGroup> groups;
};

// What /metrics shows of the groups (GroupCoordinator::snapshot).
struct GroupSnapshot {
  std::string group_id;
  GroupState state = GroupState::Empty;
  int members = 0;
  uint64_t rebalances = 0;
  std::map<TopicPartition, int64_t> committed;  // offsets
};

class GroupCoordinator {
 public:
  GroupCoordinator(GroupConfig config, runtime::EventLoop& loop, GroupLog& log);
  ~GroupCoordinator();

  // Kafka's partitionFor: abs(groupId.hashCode) % partitions, with Java's String.hashCode
  // over UTF-16 code units.
  static int32_t partition_for(std::string_view group_id, int32_t partitions);

  // This broker now leads `partition` of __consumer_offsets (which has `partitions`
  // partitions): its groups are loaded from the log; until then requests for them are
  // answered COORDINATOR_LOAD_IN_PROGRESS.
  void became_leader(int32_t partition, int32_t partitions);
  // This broker no longer leads `partition`: its groups are dropped from memory, waiting
  // joins and syncs are answered NOT_COORDINATOR.
  void resigned(int32_t partition);
  // Drops every group (waiting requests answered NOT_COORDINATOR) and cancels the timers;
  // nothing is posted afterwards. Must be called before the loop stops. Blocks (up to 5 s)
  // until the loop has done it; the second form calls `done` on the loop instead.
  void stop();
  void stop(std::function<void()> done);

  void join_group(msg::JoinGroupRequest req, ClientInfo client, JoinCallback done);
  void sync_group(msg::SyncGroupRequest req, ClientInfo client, SyncCallback done);
  void heartbeat(msg::HeartbeatRequest req, ClientInfo client, std::function<void(ErrorCode)> done);
  void leave_group(msg::LeaveGroupRequest req, ClientInfo client, std::function<void(msg::LeaveGroupResponse)> done);
  // `unknown`: the request's partitions that do not exist (the handler knows from its
  // metadata image); they are answered UNKNOWN_TOPIC_OR_PARTITION as Kafka does, but only
  // when this broker coordinates the group: otherwise every partition gets the coordinator
  // error (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS), which clients retry. The answer
  // has the request's topics and partitions, in order.
  void commit_offsets(msg::OffsetCommitRequest req, std::set<TopicPartition> unknown, ClientInfo client,
                      std::function<void(msg::OffsetCommitResponse)> done);
  // Offsets committed inside a transaction (Kafka's handleTxnCommitOffsets): written as one
  // transactional batch of the producer; once it is committed they are pending for that
  // producer, invisible to OffsetFetch, until complete_txn. An unknown group is created
  // (simple consumers commit without a generation); member id, generation and
  // group.instance.id are checked when any is given (v3+). `unknown` as for commit_offsets.
  void commit_txn_offsets(msg::TxnOffsetCommitRequest req, std::set<TopicPartition> unknown, ClientInfo client,
                          std::function<void(msg::TxnOffsetCommitResponse)> done);
  // The marker of `producer_id`'s transaction is replicated on `offsets_partition` of
  // __consumer_offsets (WriteTxnMarkers): its pending offsets in every group of that
  // partition become committed offsets (`committed`) or are dropped.
  void complete_txn(int32_t offsets_partition, int64_t producer_id, bool committed);
  // topics == nullopt: every committed offset of the group. require_stable (OffsetFetch v7+):
  // a partition with transactional offsets pending answers UNSTABLE_OFFSET_COMMIT.
  void fetch_offsets(std::string group_id, std::optional<std::map<std::string, std::vector<int32_t>>> topics,
                     bool require_stable, std::function<void(FetchedOffsets)> done);
  void describe_groups(std::vector<std::string> group_ids,
                       std::function<void(std::vector<msg::DescribeGroupsResponse::DescribedGroup>)> done);
  void list_groups(std::vector<std::string> states_filter, std::function<void(ListedGroups)> done);
  void delete_groups(std::vector<std::string> group_ids,
                     std::function<void(std::vector<std::pair<std::string, ErrorCode>>)> done);
  void delete_offsets(msg::OffsetDeleteRequest req, std::function<void(msg::OffsetDeleteResponse)> done);
  // Topics deleted from the cluster (every broker is told; each removes the committed offsets
  // of those topics from the groups it coordinates, as Kafka's onPartitionsDeleted does).
  void topics_deleted(std::set<std::string> topics);

  // The groups of this coordinator, for metrics. Blocks until the loop answers (at most
  // `timeout_ms`; empty then). Never call it on the loop's thread.
  std::vector<GroupSnapshot> snapshot(int64_t timeout_ms = 2000);
  // Records of __consumer_offsets skipped while loading partitions since start (they could
  // not be read; see SkippedRecords). Any thread.
  uint64_t skipped_records() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::coordinator
