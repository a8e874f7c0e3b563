// Handler for api ListOffsets (key 2), versions 0..7.
#include "protocol/messages/list_offsets_request.h"
#include "protocol/messages/list_offsets_response.h"
#include "replication/replica_manager.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::ListOffsetsResponse;
using PartitionResp = Resp::ListOffsetsTopicResponse::ListOffsetsPartitionResponse;

PartitionResp list_partition(RequestContext& ctx, Broker& broker, const std::string& topic,
                             const msg::ListOffsetsRequest::ListOffsetsTopic::ListOffsetsPartition& rp,
                             int8_t isolation_level) {
  using replication::ReplicaManager;
  // Consumers see up to the high watermark, read_committed ones up to the last stable offset.
  auto found = broker.replicas().fetch_offset_for_timestamp(
      TopicPartition{topic, rp.partition_index}, rp.timestamp,
      isolation_level == 1 ? replication::FetchIsolation::TxnCommitted : replication::FetchIsolation::HighWatermark,
      rp.current_leader_epoch);
  if (found.error == ErrorCode::NONE && rp.timestamp == ReplicaManager::kMaxTimestamp && ctx.api_version < 7)
    found.error = ErrorCode::UNSUPPORTED_VERSION;
  PartitionResp r;
  r.partition_index = rp.partition_index;
  r.timestamp = -1;
  r.offset = -1;
  r.error_code = to_wire(found.error);
  if (found.error != ErrorCode::NONE) {
    broker.metrics().request_error(ctx.api_key, found.error);
    return r;
  }
  r.leader_epoch = found.leader_epoch;
  r.timestamp = found.timestamp;
  r.offset = found.offset;
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
  const Access access(ctx);
  for (const auto& t : req.topics) {
    Resp::ListOffsetsTopicResponse tr;
    tr.name = t.name;
    const bool authorized = access.topic(security::AclOperation::DESCRIBE, t.name);
    for (const auto& rp : t.partitions) {
      if (authorized) {
        tr.partitions.push_back(list_partition(ctx, broker, t.name, rp, req.isolation_level));
        continue;
      }
      PartitionResp& r = tr.partitions.emplace_back();
      r.partition_index = rp.partition_index;
      r.timestamp = -1;
      r.offset = -1;
      r.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    }
    resp.topics.push_back(std::move(tr));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
