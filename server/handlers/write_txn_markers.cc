// Handler for api WriteTxnMarkers (key 27), versions 0..1: the transaction coordinator asks
// this broker, as partition leader, to append the COMMIT or ABORT marker of a producer's
// transaction to each listed partition (Kafka's KafkaApis.handleWriteTxnMarkersRequest).
//
// The markers are appended through ReplicaManager::append_records (AppendEntry::marker;
// Partition::append_txn_marker fences markers of an older producer epoch,
// INVALID_PRODUCER_EPOCH, or coordinator epoch, TRANSACTION_COORDINATOR_FENCED) with acks=-1,
// as Kafka appends them: the answer waits until the high watermark has passed every marker (a
// transaction only becomes stable then anyway), or kTimeoutMs. Once the answer is known, the
// committed or aborted transactional offset commits of __consumer_offsets partitions take
// effect in their groups. Thread: the connection's; the answer is sent from where the wait
// completes.
#include "coordinator/group/replica_group_log.h"
#include "protocol/messages/write_txn_markers_request.h"
#include "protocol/messages/write_txn_markers_response.h"
#include "replication/replica_manager.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::WriteTxnMarkersResponse;

// The request has no timeout; Kafka waits request.timeout.ms (its default) for the ISR.
constexpr int32_t kTimeoutMs = 30000;

// Where one partition's answer sits in the response.
struct Slot {
  size_t marker, topic, partition;
};

}  // namespace

void handle_write_txn_markers(RequestContext& ctx, Respond respond) {
  msg::WriteTxnMarkersRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  Resp resp;
  // CLUSTER_ACTION on the cluster: only brokers write markers (Kafka answers each partition).
  const bool allowed = Access(ctx).api_allowed();
  std::vector<replication::AppendEntry> entries;
  std::vector<Slot> slots;  // parallel to `entries`
  for (const auto& m : req.markers) {
    auto& mr = resp.markers.emplace_back();
    mr.producer_id = m.producer_id;
    for (const auto& t : m.topics) {
      auto& tr = mr.topics.emplace_back();
      tr.name = t.name;
      for (int32_t index : t.partition_indexes) {
        tr.partitions.emplace_back().partition_index = index;
        if (!allowed) {
          tr.partitions.back().error_code = to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
          continue;
        }
        slots.push_back({resp.markers.size() - 1, mr.topics.size() - 1, tr.partitions.size() - 1});
        entries.push_back({TopicPartition{t.name, index}, {},
                           replication::AppendEntry::TxnMarker{m.producer_id, m.producer_epoch, m.coordinator_epoch,
                                                               m.transaction_result},
                           -1});
      }
    }
  }
  if (!allowed) return send_response(ctx, respond, resp);
  auto markers = entries;  // what each answer is about, for the groups and the log
  broker.replicas().append_records(
      std::move(entries), -1, kTimeoutMs, replication::AppendOrigin::Coordinator,
      [&broker, v = ctx.api_version, api = ctx.api_key, resp = std::move(resp), slots = std::move(slots),
       markers = std::move(markers), respond = std::move(respond)](std::vector<replication::AppendResult> results) mutable {
        for (size_t i = 0; i < results.size(); ++i) {
          const auto& r = results[i];
          const auto& e = markers[i];
          const auto& m = *e.marker;
          resp.markers[slots[i].marker].topics[slots[i].topic].partitions[slots[i].partition].error_code =
              to_wire(r.error);
          if (r.info) {
            broker.metrics().transaction_marker_written(m.commit);
            spdlog::debug("{}: {} marker of producer {} at offset {}", e.tp.to_string(), m.commit ? "COMMIT" : "ABORT",
                          m.producer_id, r.info->first_offset.value());
          }
          if (r.error == ErrorCode::NONE) {
            // A replicated marker on __consumer_offsets ends the producer's transactional
            // offset commits in the groups of that partition (Kafka's
            // GroupCoordinator.onTransactionCompleted).
            if (e.tp.topic == coordinator::ReplicaGroupLog::kTopic)
              broker.groups().complete_txn(e.tp.partition, m.producer_id, m.commit);
            continue;
          }
          if (!r.message.empty())
            spdlog::info("{}: {} marker of producer {} (epoch {}, coordinator epoch {}) refused: {} ({})",
                         e.tp.to_string(), m.commit ? "COMMIT" : "ABORT", m.producer_id, m.producer_epoch,
                         m.coordinator_epoch, error_name(r.error), r.message);
          broker.metrics().request_error(api, r.error);
        }
        send_response(v, respond, resp);
      });
}

}  // namespace kb::server
