#include "server/handlers/handlers.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>

#include "config/settings.h"
#include "server/broker.h"

namespace kb::server {

const std::vector<HandlerInfo>& handlers() {
  // Version ranges: from v0 where we can serve it (kafka-python and sarama don't negotiate;
  // librdkafka enables features by overlap), up to the newest version implemented.
  // `true` at the end: a controller-only API (see HandlerInfo::controller_only).
  // Produce 0-2 carry the legacy message formats (magic 0/1), converted to record batches on
  // arrival (librdkafka also compresses with gzip, snappy or lz4 only when Produce v0 is
  // advertised). Fetch 0-3 answer in those formats (batches down-converted on the way out).
  static const std::vector<HandlerInfo> table = [] {
    std::vector<HandlerInfo> t = {
        {0, "Produce", 0, 9, handle_produce},
        {1, "Fetch", 0, 13, handle_fetch},
        {2, "ListOffsets", 0, 7, handle_list_offsets},
        {3, "Metadata", 0, 12, handle_metadata},
        {8, "OffsetCommit", 0, 8, handle_offset_commit},
        {9, "OffsetFetch", 0, 8, handle_offset_fetch},
        {10, "FindCoordinator", 0, 4, handle_find_coordinator},
        {11, "JoinGroup", 0, 9, handle_join_group},
        {12, "Heartbeat", 0, 4, handle_heartbeat},
        {13, "LeaveGroup", 0, 5, handle_leave_group},
        {14, "SyncGroup", 0, 5, handle_sync_group},
        {15, "DescribeGroups", 0, 5, handle_describe_groups},
        {16, "ListGroups", 0, 4, handle_list_groups},
        {17, "SaslHandshake", 0, 1, handle_sasl_handshake},
        {18, "ApiVersions", 0, 3, handle_api_versions},
        {36, "SaslAuthenticate", 0, 2, handle_sasl_authenticate},
        {19, "CreateTopics", 0, 7, handle_create_topics},
        {20, "DeleteTopics", 0, 6, handle_delete_topics},
        {21, "DeleteRecords", 0, 2, handle_delete_records},
        {22, "InitProducerId", 0, 5, handle_init_producer_id},
        {23, "OffsetForLeaderEpoch", 0, 4, handle_offset_for_leader_epoch},
        {24, "AddPartitionsToTxn", 0, 4, handle_add_partitions_to_txn},
        {25, "AddOffsetsToTxn", 0, 3, handle_add_offsets_to_txn},
        {26, "EndTxn", 0, 4, handle_end_txn},
        {27, "WriteTxnMarkers", 0, 1, handle_write_txn_markers},
        {28, "TxnOffsetCommit", 0, 4, handle_txn_offset_commit},
        {29, "DescribeAcls", 0, 3, handle_describe_acls},
        {30, "CreateAcls", 0, 3, handle_create_acls},
        {31, "DeleteAcls", 0, 3, handle_delete_acls},
        {32, "DescribeConfigs", 0, 4, handle_describe_configs},
        {33, "AlterConfigs", 0, 2, handle_alter_configs},
        {35, "DescribeLogDirs", 0, 4, handle_describe_log_dirs},
        {37, "CreatePartitions", 0, 3, handle_create_partitions},
        {42, "DeleteGroups", 0, 2, handle_delete_groups},
        {43, "ElectLeaders", 0, 2, handle_elect_leaders},
        {44, "IncrementalAlterConfigs", 0, 1, handle_incremental_alter_configs},
        {45, "AlterPartitionReassignments", 0, 0, handle_alter_partition_reassignments},
        {46, "ListPartitionReassignments", 0, 0, handle_list_partition_reassignments},
        {47, "OffsetDelete", 0, 0, handle_offset_delete},
        {50, "DescribeUserScramCredentials", 0, 0, handle_describe_user_scram_credentials},
        {51, "AlterUserScramCredentials", 0, 0, handle_alter_user_scram_credentials},
        {52, "Vote", 0, 1, handle_vote, true},
        {53, "BeginQuorumEpoch", 0, 1, handle_begin_quorum_epoch, true},
        {56, "AlterPartition", 0, 3, handle_alter_partition, true},
        {58, "Envelope", 0, 0, handle_envelope, true},
        {59, "FetchSnapshot", 0, 1, handle_fetch_snapshot, true},
        {60, "DescribeCluster", 0, 1, handle_describe_cluster},
        {61, "DescribeProducers", 0, 0, handle_describe_producers},
        {62, "BrokerRegistration", 0, 4, handle_broker_registration, true},
        {63, "BrokerHeartbeat", 0, 1, handle_broker_heartbeat, true},
        {65, "DescribeTransactions", 0, 0, handle_describe_transactions},
        {66, "ListTransactions", 0, 1, handle_list_transactions},
        {67, "AllocateProducerIds", 0, 0, handle_allocate_producer_ids, true},
        {73, "AssignReplicasToDirs", 0, 0, handle_assign_replicas_to_dirs, true},
        // client quotas
        {48, "DescribeClientQuotas", 0, 1, handle_describe_client_quotas},
        {49, "AlterClientQuotas", 0, 1, handle_alter_client_quotas},
    };
    std::sort(t.begin(), t.end(), [](auto& a, auto& b) { return a.api_key < b.api_key; });
    return t;
  }();
  return table;
}

const HandlerInfo* find_handler(int16_t api_key) {
  for (const auto& h : handlers())
    if (h.api_key == api_key) return &h;
  return nullptr;
}

bool on_controller_listener(const RequestContext& ctx) {
  if (!ctx.broker) return false;
  auto same = [](char a, char b) {
    return std::toupper(static_cast<unsigned char>(a)) == std::toupper(static_cast<unsigned char>(b));
  };
  for (const auto& n : ctx.broker->config().settings().controller_listener_names)
    if (std::equal(n.begin(), n.end(), ctx.listener.begin(), ctx.listener.end(), same)) return true;
  return false;
}

void report_cut_strings(int16_t api_key, int16_t api_version, const wire::Writer& body) {
  static std::atomic<int64_t> last_ms{INT64_MIN / 2};
  constexpr int64_t kQuietMs = 10'000;
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t last = last_ms.load();
  if (now - last < kQuietMs || !last_ms.compare_exchange_strong(last, now)) return;
  const HandlerInfo* h = find_handler(api_key);
  const char* name = h ? h->name : "?";
  if (body.oversized_names())
    spdlog::error("{} v{} response: {} name/id string(s) over 32767 bytes cut to fit (they should have been "
                  "refused when they arrived)",
                  name, api_version, body.oversized_names());
  else
    spdlog::warn("{} v{} response: {} message string(s) over 32767 bytes cut to fit", name, api_version,
                 body.truncated_text());
}

}  // namespace kb::server
