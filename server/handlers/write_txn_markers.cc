// Handler for api WriteTxnMarkers (key 27), versions 0..1: the transaction coordinator asks
// this broker, as partition leader, to append the COMMIT or ABORT marker of a producer's
// transaction to each listed partition (Kafka's KafkaApis.handleWriteTxnMarkersRequest).
//
// Each marker is a control batch appended through the partition (replication::Partition::
// append_txn_marker), which fences markers of an older producer epoch
// (INVALID_PRODUCER_EPOCH) or coordinator epoch (TRANSACTION_COORDINATOR_FENCED). Kafka
// appends markers with acks=-1: a partition's answer waits in the produce purgatory until the
// high watermark has passed its marker (the transaction only becomes stable then anyway), or
// kTimeoutMs. Thread: the connection's; completions run where the purgatory completes them.
#include "coordinator/group/replica_group_log.h"
#include "protocol/messages/write_txn_markers_request.h"
#include "protocol/messages/write_txn_markers_response.h"
#include "replication/delayed_produce.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"
#include "runtime/event_loop.h"
#include "storage/files.h"

namespace kb::server {

namespace {

using Resp = msg::WriteTxnMarkersResponse;
using MarkerResult = Resp::WritableTxnMarkerResult;
using TopicResult = MarkerResult::WritableTxnMarkerTopicResult;
using PartitionResult = TopicResult::WritableTxnMarkerPartitionResult;

// The request has no timeout; Kafka waits request.timeout.ms (its default) for the ISR.
constexpr int32_t kTimeoutMs = 30000;

// Where one waiting partition's answer sits in the response, and its marker.
struct Slot {
  size_t marker, topic, partition;
  TopicPartition tp;
  int64_t producer_id;
  bool commit;
};

// A replicated marker on __consumer_offsets ends the producer's transactional offset commits
// in the groups of that partition (Kafka's GroupCoordinator.onTransactionCompleted).
void complete_group_txn(Broker& broker, const TopicPartition& tp, int64_t producer_id, bool commit) {
  if (tp.topic == coordinator::ReplicaGroupLog::kTopic)
    broker.groups().complete_txn(tp.partition, producer_id, commit);
}

}  // namespace

void handle_write_txn_markers(RequestContext& ctx, Respond respond) {
  msg::WriteTxnMarkersRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  const int64_t now = storage::now_ms();
  Resp resp;
  std::vector<replication::DelayedProduce::Waiting> waiting;
  std::vector<Slot> slots;  // parallel to `waiting`
  for (const auto& m : req.markers) {
    MarkerResult mr;
    mr.producer_id = m.producer_id;
    for (const auto& t : m.topics) {
      TopicResult tr;
      tr.name = t.name;
      for (int32_t index : t.partition_indexes) {
        PartitionResult pr;
        pr.partition_index = index;
        TopicPartition tp{t.name, index};
        auto p = broker.replicas().get(tp);
        ErrorCode code = ErrorCode::NONE;
        if (!p || !p->is_leader()) {
          code = broker.missing_partition_error(tp);
        } else if (!p->enough_in_sync_for_acks_all()) {
          code = ErrorCode::NOT_ENOUGH_REPLICAS;
        } else if (auto info = p->append_txn_marker(m.producer_id, m.producer_epoch, m.coordinator_epoch,
                                                    m.transaction_result, now);
                   !info.ok()) {
          code = info.code();
          spdlog::info("{}: {} marker of producer {} (epoch {}, coordinator epoch {}) refused: {} ({})",
                       tp.to_string(), m.transaction_result ? "COMMIT" : "ABORT", m.producer_id, m.producer_epoch,
                       m.coordinator_epoch, error_name(code), info.error().message);
        } else {
          spdlog::debug("{}: {} marker of producer {} at offset {}", tp.to_string(),
                        m.transaction_result ? "COMMIT" : "ABORT", m.producer_id, info->first_offset.value());
          broker.metrics().transaction_marker_written(m.transaction_result);
          broker.replicas().fetch_purgatory().check(tp);
          if (p->high_watermark() <= info->last_offset) {
            waiting.push_back({p, info->last_offset + 1});
            slots.push_back({resp.markers.size(), mr.topics.size(), tr.partitions.size(), tp, m.producer_id,
                             m.transaction_result});
          } else {
            complete_group_txn(broker, tp, m.producer_id, m.transaction_result);
          }
        }
        pr.error_code = to_wire(code);
        if (code != ErrorCode::NONE) broker.metrics().request_error(ctx.api_key, code);
        tr.partitions.push_back(pr);
      }
      mr.topics.push_back(std::move(tr));
    }
    resp.markers.push_back(std::move(mr));
  }
  if (waiting.empty()) return send_response(ctx, respond, resp);

  // acks=-1: answered once every marker is on the ISR (or the timeout), no thread waiting.
  auto op = std::make_shared<replication::DelayedProduce>(
      std::move(waiting), [v = ctx.api_version, api = ctx.api_key, &broker, resp = std::move(resp),
                           slots = std::move(slots), respond = std::move(respond)](const auto& done) mutable {
        for (size_t i = 0; i < done.size() && i < slots.size(); ++i) {
          const Slot& s = slots[i];
          if (done[i].result == ErrorCode::NONE) {
            complete_group_txn(broker, s.tp, s.producer_id, s.commit);
            continue;
          }
          broker.metrics().request_error(api, done[i].result);
          resp.markers[s.marker].topics[s.topic].partitions[s.partition].error_code = to_wire(done[i].result);
        }
        send_response(v, respond, resp);
      });
  auto keys = op->keys();
  // The timer fires unless cancelled; holding the operation weakly frees a completed one now.
  auto timer = ctx.scheduler->after_ms(kTimeoutMs, [weak = std::weak_ptr(op), keys, &broker] {
    if (auto op = weak.lock()) op->force_complete();
    for (const auto& k : keys) broker.replicas().produce_purgatory().purge(k);
  });
  broker.replicas().produce_purgatory().watch(keys, op);
  if (op->completed()) timer->cancel();
}

}  // namespace kb::server
