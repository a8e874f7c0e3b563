// Handler for api DeleteRecords (key 21), versions 0..2: moves partitions' log start offsets
// up (kafka-delete-records); records below become unreadable and whole segments below go.
// Internal topics are refused (INVALID_TOPIC_EXCEPTION), as in Kafka.
#include "protocol/messages/delete_records_request.h"
#include "protocol/messages/delete_records_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {
constexpr int64_t kHighWatermark = -1;  // "delete everything committed"
}

void handle_delete_records(RequestContext& ctx, Respond respond) {
  msg::DeleteRecordsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  msg::DeleteRecordsResponse resp;
  std::vector<std::pair<size_t, size_t>> moved;  // (topic, partition) indexes in resp
  const Access access(ctx);
  for (const auto& t : req.topics) {
    msg::DeleteRecordsResponse::DeleteRecordsTopicResult tr;
    tr.name = t.name;
    const bool authorized = access.topic(security::AclOperation::DELETE, t.name);
    for (const auto& p : t.partitions) {
      msg::DeleteRecordsResponse::DeleteRecordsTopicResult::DeleteRecordsPartitionResult pr;
      pr.partition_index = p.partition_index;
      pr.low_watermark = -1;
      TopicPartition tp{t.name, p.partition_index};
      auto part = broker.replicas().get(tp);
      ErrorCode code = ErrorCode::NONE;
      if (!authorized) {
        code = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
      } else if (is_internal_topic(t.name)) {
        // Kafka refuses it too: offsets and transactional ids below would be forgotten.
        code = ErrorCode::INVALID_TOPIC_EXCEPTION;
        spdlog::info("DeleteRecords of internal topic {} from {} refused", tp.to_string(), ctx.peer);
      } else if (!part || !part->is_leader()) {
        code = broker.missing_partition_error(tp);
      } else {
        // Only committed records may be deleted: up to the high watermark.
        int64_t to = p.offset == kHighWatermark ? part->high_watermark().value() : p.offset;
        if (to < 0 || to > part->high_watermark().value()) {
          code = ErrorCode::OFFSET_OUT_OF_RANGE;
        } else if (auto start = part->log().advance_log_start(Offset(to)); !start.ok()) {
          code = start.code();
        } else {
          pr.low_watermark = start->value();
          moved.emplace_back(resp.topics.size(), tr.partitions.size());
        }
      }
      pr.error_code = to_wire(code);
      if (code != ErrorCode::NONE) broker.metrics().request_error(ctx.api_key, code);
      tr.partitions.push_back(pr);
    }
    resp.topics.push_back(std::move(tr));
  }
  // Durable before the answer: a crash must not bring deleted records back. When the
  // checkpoint cannot be written the deletion is not acknowledged (the client retries).
  if (!moved.empty())
    if (auto s = broker.logs().checkpoint_recovery_points(); !s.ok()) {
      spdlog::error("log start offset checkpoint failed after DeleteRecords: {}", s.error().message);
      for (auto [t, p] : moved) {
        resp.topics[t].partitions[p].error_code = to_wire(ErrorCode::KAFKA_STORAGE_ERROR);
        broker.metrics().request_error(ctx.api_key, ErrorCode::KAFKA_STORAGE_ERROR);
      }
    }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
