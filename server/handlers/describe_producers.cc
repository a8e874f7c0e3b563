// Handler for api DescribeProducers (key 61), version 0 (KIP-664): the idempotent and
// transactional producers a partition replica keeps state for, with their epoch, last
// sequence, last batch timestamp and open transaction. As in Kafka, any replica answers from
// its own producer state (admin clients ask the leader); a partition not hosted here is
// NOT_LEADER_OR_FOLLOWER when it exists, UNKNOWN_TOPIC_OR_PARTITION otherwise.
#include "protocol/messages/describe_producers_request.h"
#include "protocol/messages/describe_producers_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_producers(RequestContext& ctx, Respond respond) {
  using Resp = msg::DescribeProducersResponse;
  msg::DescribeProducersRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  Resp resp;
  const Access access(ctx);
  for (const auto& t : req.topics) {
    Resp::TopicResponse& tr = resp.topics.emplace_back();
    tr.name = t.name;
    const bool authorized = access.topic(security::AclOperation::READ, t.name);  // Kafka: READ
    for (int32_t index : t.partition_indexes) {
      Resp::TopicResponse::PartitionResponse& pr = tr.partitions.emplace_back();
      pr.partition_index = index;
      if (!authorized) {
        pr.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      TopicPartition tp{t.name, index};
      auto partition = broker.replicas().get(tp);
      if (!partition) {
        ErrorCode code = broker.missing_partition_error(tp);
        pr.error_code = to_wire(code);
        broker.metrics().request_error(ctx.api_key, code);
        continue;
      }
      for (const auto& [id, entry] : partition->producer_states()) {
        auto& p = pr.active_producers.emplace_back();
        p.producer_id = id;
        p.producer_epoch = entry.epoch;
        p.last_sequence = entry.last_seq();
        p.last_timestamp = entry.last_timestamp();
        p.coordinator_epoch = entry.coordinator_epoch;
        p.current_txn_start_offset = entry.current_txn_first_offset;
      }
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
