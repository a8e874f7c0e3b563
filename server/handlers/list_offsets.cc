// Handler for api ListOffsets (key 2), versions 0..7.
#include "protocol/messages/list_offsets_request.h"
#include "protocol/messages/list_offsets_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::ListOffsetsResponse;
using PartitionResp = Resp::ListOffsetsTopicResponse::ListOffsetsPartitionResponse;

// Special timestamps of the protocol.
constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;
constexpr int64_t kMaxTimestamp = -3;

PartitionResp list_partition(RequestContext& ctx, Broker& broker, const std::string& topic,
                             const msg::ListOffsetsRequest::ListOffsetsTopic::ListOffsetsPartition& rp,
                             int8_t isolation_level) {
  PartitionResp r;
  r.partition_index = rp.partition_index;
  r.timestamp = -1;
  r.offset = -1;
  auto p = broker.replicas().get(TopicPartition{topic, rp.partition_index});
  auto fail = [&](ErrorCode code) {
    r.error_code = to_wire(code);
    broker.metrics().request_error(ctx.api_key, code);
    return r;
  };
  if (!p || !p->is_leader()) return fail(broker.missing_partition_error(TopicPartition{topic, rp.partition_index}));
  if (rp.current_leader_epoch >= 0 && rp.current_leader_epoch != p->leader_epoch())
    return fail(rp.current_leader_epoch > p->leader_epoch() ? ErrorCode::UNKNOWN_LEADER_EPOCH
                                                            : ErrorCode::FENCED_LEADER_EPOCH);
  r.error_code = to_wire(ErrorCode::NONE);
  r.leader_epoch = p->leader_epoch();
  // Consumers see up to the high watermark, read_committed ones up to the last stable
  // offset (Kafka's lastFetchableOffset).
  Offset visible_end = isolation_level == 1 ? p->last_stable_offset() : p->high_watermark();
  if (rp.timestamp == kLatest) {
    r.offset = visible_end.value();
  } else if (rp.timestamp == kEarliest) {
    r.offset = p->log_start_offset().value();
  } else if (rp.timestamp == kMaxTimestamp) {
    if (ctx.api_version < 7) return fail(ErrorCode::UNSUPPORTED_VERSION);
    if (auto m = p->log().max_timestamp()) {
      r.timestamp = m->timestamp;
      r.offset = m->offset.value();
    }
  } else if (rp.timestamp < 0) {
    return fail(ErrorCode::INVALID_REQUEST);
  } else if (auto found = p->log().offset_for_timestamp(rp.timestamp);
             found && found->offset < visible_end) {
    r.timestamp = found->timestamp;
    r.offset = found->offset.value();
  }
  if (ctx.api_version == 0) {
    // v0 answers a list of offsets (at most max_num_offsets); -1 means none.
    if (r.offset >= 0 && rp.max_num_offsets > 0) r.old_style_offsets.push_back(r.offset);
  }
  return r;
}

}  // namespace

void handle_list_offsets(RequestContext& ctx, Respond respond) {
  msg::ListOffsetsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  Resp resp;
  for (const auto& t : req.topics) {
    Resp::ListOffsetsTopicResponse tr;
    tr.name = t.name;
    for (const auto& rp : t.partitions)
      tr.partitions.push_back(list_partition(ctx, broker, t.name, rp, req.isolation_level));
    resp.topics.push_back(std::move(tr));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
