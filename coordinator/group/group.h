// One consumer group as its coordinator holds it: Kafka's classic group protocol state
// (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead), its members with their
// protocols and assignments, its committed offsets and those of open transactions.
//
// Owner: GroupCoordinator (group_coordinator.h), on its event loop's thread only; no locks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages/join_group_response.h"
#include "protocol/messages/sync_group_response.h"
#include "protocol/types.h"
#include "runtime/event_loop.h"

namespace kb::coordinator {

enum class GroupState { Empty, PreparingRebalance, CompletingRebalance, Stable, Dead };

// Kafka's names, as DescribeGroups and ListGroups report them ("PreparingRebalance").
std::string_view state_name(GroupState s);
std::optional<GroupState> parse_state(std::string_view name);  // case-insensitive

// Kafka's GroupState.validPreviousStates: Empty <- PreparingRebalance; PreparingRebalance <-
// Stable, CompletingRebalance, Empty; CompletingRebalance <- PreparingRebalance; Stable <-
// CompletingRebalance; Dead <- every state but Dead.
bool is_legal_transition(GroupState from, GroupState to);
// Illegal transitions attempted in this process (each one also fails KB_ASSERT,
// which aborts in Debug builds); the unit tests check that it stays 0.
uint64_t illegal_group_transitions();

using JoinCallback = std::function<void(msg::JoinGroupResponse)>;
using SyncCallback = std::function<void(msg::SyncGroupResponse)>;

struct Protocol {
  std::string name;
  std::vector<uint8_t> metadata;
  bool operator==(const Protocol&) const = default;
};

struct Member {
  std::string id;
  std::optional<std::string> instance_id;  // static membership (group.instance.id)
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::vector<Protocol> protocols;  // in the member's order of preference
  std::vector<uint8_t> assignment;  // from the leader's SyncGroup
  uint64_t join_order = 0;          // the leader is the longest-standing member
  // Set while the member's JoinGroup waits for the rebalance to complete, or its SyncGroup
  // for the leader's assignment.
  JoinCallback awaiting_join;
  SyncCallback awaiting_sync;
  bool supports_skip_assignment = false;  // its JoinGroup is v9+
  std::shared_ptr<runtime::Timer> session_timer;

  const std::vector<uint8_t>* metadata_for(std::string_view protocol) const;
};

// A committed offset and where its record sits in __consumer_offsets (a newer record wins
// when commits for one partition complete out of order).
struct CommittedOffset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp = 0;
  int64_t expire_timestamp = -1;  // an explicit retention (OffsetCommit v1-4), else -1
  int64_t log_offset = -1;
};

struct Group {
  // A new group starts Empty (`now`: when it did).
  Group(std::string id, int32_t partition, int64_t now) : id(std::move(id)), partition(partition), state_timestamp_(now) {}

  std::string id;
  int32_t partition = 0;  // of __consumer_offsets
  int32_t generation = 0;
  std::string protocol_type;            // "consumer", "connect", ...; empty: never joined
  std::optional<std::string> protocol;  // selected at the last completed join
  std::optional<std::string> leader;
  std::map<std::string, Member> members;               // by member id
  std::map<std::string, std::string> static_members;   // group.instance.id -> member id
  std::map<std::string, std::shared_ptr<runtime::Timer>> pending_members;  // ids handed out with MEMBER_ID_REQUIRED
  std::set<std::string> awaiting_first_sync;  // members of this generation that have not synced
  std::map<TopicPartition, CommittedOffset> offsets;
  // Offsets of transactions not ended yet (TxnOffsetCommit written and committed, no marker
  // yet), by producer id: invisible to OffsetFetch until the COMMIT marker; an ABORT drops
  // them (Kafka's pendingTransactionalOffsetCommits).
  std::map<int64_t, std::map<TopicPartition, CommittedOffset>> pending_txn_offsets;
  std::shared_ptr<runtime::Timer> join_timer;  // rebalance timeout (or the initial delay)
  std::shared_ptr<runtime::Timer> sync_timer;  // members must sync within the rebalance timeout
  bool initial_delay = false;         // the join timer is group.initial.rebalance.delay.ms
  bool joined_during_delay = false;
  int32_t initial_delay_remaining_ms = 0;
  uint64_t next_join_order = 0;
  uint64_t rebalances = 0;

  GroupState state() const { return state_; }
  bool is(GroupState s) const { return state_ == s; }
  // When the current state began (offset expiry of empty groups).
  int64_t state_timestamp() const { return state_timestamp_; }
  // The only way a group changes state: `to` must be a legal successor (is_legal_transition;
  // KB_ASSERT), and its clock starts at `now`.
  void transition_to(GroupState to, int64_t now);
  // Loading only: the state a group read from __consumer_offsets starts in (Empty, or Stable
  // with members, as Kafka's loader builds it) and since when. Not a transition.
  void restore_state(GroupState s, int64_t since);

  bool has(const std::string& member_id) const { return members.count(member_id) != 0; }
  // Kafka's validateCurrentMember: a static member with a stale member id is
  // FENCED_INSTANCE_ID, an unknown member id UNKNOWN_MEMBER_ID; NONE otherwise.
  ErrorCode validate_member(const std::string& member_id, const std::optional<std::string>& instance_id) const;
  bool has_pending_txn_offset(const TopicPartition& tp) const;
  // The transaction of `producer_id` ended: with a commit its pending offsets replace the
  // committed ones, unless a committed one was written later in the log (a newer record
  // wins); with an abort they are dropped.
  void complete_txn(int64_t producer_id, bool committed);
  bool is_leader(const std::string& member_id) const { return leader && *leader == member_id; }
  int awaiting_join_count() const;
  bool all_members_joined() const;  // every member rejoined and no MEMBER_ID_REQUIRED pending
  int32_t max_rebalance_timeout_ms() const;
  // Protocols every member supports (in the longest-standing member's order).
  std::vector<std::string> candidate_protocols() const;
  // Each member votes for its most preferred candidate; the most votes win (ties: the
  // candidate earliest in the candidate order).
  std::optional<std::string> select_protocol() const;
  // Whether a member with these protocols may join (Kafka's supportsProtocols).
  bool supports_protocols(const std::string& type, const std::vector<Protocol>& protocols) const;
  // Topics the members subscribe to, read from their "consumer" protocol metadata;
  // nullopt when unknown (another protocol type, or unreadable metadata).
  std::optional<std::set<std::string>> subscribed_topics() const;
  std::vector<const Member*> members_in_join_order() const;

 private:
  GroupState state_ = GroupState::Empty;
  int64_t state_timestamp_ = 0;
};

// The topics of a ConsumerProtocolSubscription (any version); nullopt when it does not parse.
std::optional<std::vector<std::string>> parse_consumer_subscription(const std::vector<uint8_t>& metadata);

}  // namespace kb::coordinator
