// Committed offsets of the groups (Kafka's GroupMetadataManager storeOffsets / getOffsets /
// cleanupGroupMetadata): OffsetCommit, TxnOffsetCommit and the markers that end their
// transactions, OffsetFetch, OffsetDelete, DeleteGroups, and the periodic expiry of offsets
// (offsets.retention.minutes, checked every offsets.retention.check.interval.ms).
//
// An offset is applied once its record is committed in __consumer_offsets; a newer record
// wins when two commits of one partition complete out of order. A transactional offset stays
// pending for its producer until the transaction's marker (complete_txn).
//
// Owner: GroupCoordinator's Impl. Threads: the coordinator's loop only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/group/group_table.h"
#include "coordinator/group/rebalance.h"
#include "protocol/messages/offset_commit_request.h"
#include "protocol/messages/offset_commit_response.h"
#include "protocol/messages/offset_delete_request.h"
#include "protocol/messages/offset_delete_response.h"
#include "protocol/messages/txn_offset_commit_request.h"
#include "protocol/messages/txn_offset_commit_response.h"

namespace kb::coordinator {

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

class OffsetStore {
 public:
  OffsetStore(GroupTable& table, Rebalancer& members) : t_(table), members_(members) {}

  // `unknown`: partitions of the request that do not exist (answered
  // UNKNOWN_TOPIC_OR_PARTITION, as Kafka does before its coordinator sees them). Unless this
  // broker coordinates the group now: then every partition gets the coordinator's error.
  void commit_offsets(const msg::OffsetCommitRequest& req, const std::set<TopicPartition>& unknown,
                      const ClientInfo& client, std::function<void(msg::OffsetCommitResponse)> done);
  void commit_txn_offsets(const msg::TxnOffsetCommitRequest& req, const std::set<TopicPartition>& unknown,
                          std::function<void(msg::TxnOffsetCommitResponse)> done);
  void complete_txn(int32_t partition, int64_t producer_id, bool committed);
  FetchedOffsets fetch_offsets(const std::string& group_id,
                               const std::optional<std::map<std::string, std::vector<int32_t>>>& topics,
                               bool require_stable);
  void delete_offsets(const msg::OffsetDeleteRequest& req, std::function<void(msg::OffsetDeleteResponse)> done);
  void delete_groups(const std::vector<std::string>& ids,
                     std::function<void(std::vector<std::pair<std::string, ErrorCode>>)> done);

  // Offset expiry runs from the first partition this broker leads until stop().
  void start_expiry();
  void stop();
  void expire_offsets();
  // Topics deleted from the cluster: their committed offsets are removed from every group.
  void forget_topics(const std::set<std::string>& topics);

 private:
  using WrittenOffsets = std::vector<std::pair<TopicPartition, CommittedOffset>>;
  // Which committed offsets of a group go; nullptr: none of this group's.
  using OffsetFilter = std::function<bool(const TopicPartition&, const CommittedOffset&)>;
  void remove_offsets(const char* what, const std::function<OffsetFilter(const Group&)>& select);
  template <class Response, class Request, class Stamp>
  void write_offsets(Group& g, const Request& req, const std::set<TopicPartition>& unknown, Stamp stamp,
                     std::optional<TxnProducer> txn, std::function<void(Group&, WrittenOffsets&)> apply,
                     std::function<void(Response)> done);

  GroupTable& t_;
  Rebalancer& members_;  // a commit refreshes its member's session; DeleteGroups drops waiters
  std::shared_ptr<runtime::Timer> expiry_timer_;
};

}  // namespace kb::coordinator
