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
// Owner: the Broker. Threads: every public method may be called from any thread; it posts
// the work to the EventLoop, where all state lives and every callback is called. The loop and
// the GroupLog must outlive the coordinator; stop() before destroying either.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/group/group.h"
#include "coordinator/group/group_log.h"
#include "protocol/messages/describe_groups_response.h"
#include "protocol/messages/heartbeat_request.h"
#include "protocol/messages/join_group_request.h"
#include "protocol/messages/leave_group_request.h"
#include "protocol/messages/leave_group_response.h"
#include "protocol/messages/offset_commit_request.h"
#include "protocol/messages/offset_commit_response.h"
#include "protocol/messages/offset_delete_request.h"
#include "protocol/messages/offset_delete_response.h"
#include "protocol/messages/sync_group_request.h"
#include "protocol/messages/txn_offset_commit_request.h"
#include "protocol/messages/txn_offset_commit_response.h"
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

// Who sent a request (member ids start with the client id; DescribeGroups shows both).
struct ClientInfo {
  std::string client_id;
  std::string client_host;
  int16_t api_version = 0;
};

struct FetchedOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;  // -1: nothing committed
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
  ErrorCode error = ErrorCode::NONE;
};
struct FetchedOffsets {
  ErrorCode error = ErrorCode::NONE;  // the group's (NOT_COORDINATOR, loading...)
  std::vector<FetchedOffset> partitions;
};

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

// An OffsetCommit answer shaped like `req` (same topics and partitions, in order), with each
// partition's error code from `code`.
msg::OffsetCommitResponse commit_response(const msg::OffsetCommitRequest& req,
                                          const std::function<int16_t(const std::string& topic, int32_t partition)>& code);

// The same for TxnOffsetCommit.
msg::TxnOffsetCommitResponse txn_commit_response(
    const msg::TxnOffsetCommitRequest& req,
    const std::function<int16_t(const std::string& topic, int32_t partition)>& code);

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
  // nothing is posted afterwards. Must be called before the loop stops.
  void stop();

  void join_group(msg::JoinGroupRequest req, ClientInfo client, JoinCallback done);
  void sync_group(msg::SyncGroupRequest req, ClientInfo client, SyncCallback done);
  void heartbeat(msg::HeartbeatRequest req, ClientInfo client, std::function<void(ErrorCode)> done);
  void leave_group(msg::LeaveGroupRequest req, ClientInfo client, std::function<void(msg::LeaveGroupResponse)> done);
  // The request's partitions must exist (the handler answers UNKNOWN_TOPIC_OR_PARTITION for
  // the others, as Kafka does before the coordinator sees them).
  void commit_offsets(msg::OffsetCommitRequest req, ClientInfo client,
                      std::function<void(msg::OffsetCommitResponse)> done);
  // Offsets committed inside a transaction (Kafka's handleTxnCommitOffsets): written as one
  // transactional batch of the producer; once it is committed they are pending for that
  // producer, invisible to OffsetFetch, until complete_txn. An unknown group is created
  // (simple consumers commit without a generation); member id, generation and
  // group.instance.id are checked when any is given (v3+). Same precondition as
  // commit_offsets for the partitions.
  void commit_txn_offsets(msg::TxnOffsetCommitRequest req, ClientInfo client,
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

  // The groups of this coordinator, for metrics. Blocks until the loop answers (at most
  // `timeout_ms`; empty then). Never call it on the loop's thread.
  std::vector<GroupSnapshot> snapshot(int64_t timeout_ms = 2000);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::coordinator
