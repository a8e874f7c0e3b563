// Handler for api OffsetForLeaderEpoch (key 23), versions 0..4: where a leader epoch ends in
// the leader's log (KIP-101, KIP-279; consumers since KIP-320 check their position after a
// leader change with it). Answered from the partition's leader-epoch cache: the largest epoch
// at or below the requested one and its end offset (the log end offset for the current
// epoch); UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET (-1, -1) when the cache cannot say.
// Only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere); current_leader_epoch (v2+)
// fences requests made with old or too new metadata (FENCED_LEADER_EPOCH,
// UNKNOWN_LEADER_EPOCH).
#include "protocol/messages/offset_for_leader_epoch_request.h"
#include "protocol/messages/offset_for_leader_epoch_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_offset_for_leader_epoch(RequestContext& ctx, Respond respond) {
  using Resp = msg::OffsetForLeaderEpochResponse;
  msg::OffsetForLeaderEpochRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  Resp resp;
  // Kafka: CLUSTER_ACTION (the followers' use, before KIP-320), else DESCRIBE on each topic.
  const Access access(ctx);
  const bool cluster_action = access.visible(security::AclOperation::CLUSTER_ACTION, security::ResourceType::CLUSTER,
                                             security::kClusterName);
  for (const auto& t : req.topics) {
    Resp::OffsetForLeaderTopicResult tr;
    tr.topic = t.topic;
    const bool authorized = cluster_action || access.topic(security::AclOperation::DESCRIBE, t.topic);
    for (const auto& p : t.partitions) {
      Resp::OffsetForLeaderTopicResult::EpochEndOffset r;
      r.partition = p.partition;
      r.leader_epoch = replication::kUndefinedEpoch;
      r.end_offset = replication::kUndefinedEpochOffset;
      TopicPartition tp{t.topic, p.partition};
      ErrorCode code = ErrorCode::NONE;
      if (!authorized) {
        code = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
      } else if (auto part = broker.replicas().get(tp)) {
        auto found = part->last_offset_for_leader_epoch(p.current_leader_epoch, p.leader_epoch, true);
        code = found.error;
        if (code == ErrorCode::NONE) {
          r.leader_epoch = found.end.epoch;
          r.end_offset = found.end.end_offset;
        }
      } else {
        code = broker.missing_partition_error(tp);
      }
      r.error_code = to_wire(code);
      if (code != ErrorCode::NONE) broker.metrics().request_error(ctx.api_key, code);
      tr.partitions.push_back(r);
    }
    resp.topics.push_back(std::move(tr));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
