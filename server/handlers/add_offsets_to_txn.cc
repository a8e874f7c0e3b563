// Handler for api AddOffsetsToTxn (key 25), versions 0..3.
// A transactional producer will commit offsets of a consumer group in its transaction: the
// group's __consumer_offsets partition joins the transaction (Kafka's handleAddOffsetsToTxn).
#include "coordinator/group/replica_group_log.h"
#include "protocol/messages/add_offsets_to_txn_request.h"
#include "protocol/messages/add_offsets_to_txn_response.h"
#include "server/handlers/access.h"
#include "server/handlers/txn_common.h"

namespace kb::server {

void handle_add_offsets_to_txn(RequestContext& ctx, Respond respond) {
  msg::AddOffsetsToTxnRequest req;
  if (!decode_request(ctx, req, respond)) return;
  // Kafka: WRITE on the transactional id, then READ on the group.
  const Access access(ctx);
  if (!access.transactional_id(security::AclOperation::WRITE, req.transactional_id))
    return refuse_request<msg::AddOffsetsToTxnResponse>(ctx, respond, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  if (!access.group(security::AclOperation::READ, req.group_id))
    return refuse_request<msg::AddOffsetsToTxnResponse>(ctx, respond, ErrorCode::GROUP_AUTHORIZATION_FAILED);
  Broker& broker = *ctx.broker;
  auto reply = error_code_reply<msg::AddOffsetsToTxnResponse>(ctx, std::move(respond), 2);
  auto count = broker.ensure_offsets_topic();
  if (!count.ok()) return reply(count.code());
  TopicPartition tp{coordinator::ReplicaGroupLog::kTopic,
                    coordinator::GroupCoordinator::partition_for(req.group_id, count.value())};
  broker.transactions().add_partitions(req.transactional_id, req.producer_id, req.producer_epoch, {tp},
                                       std::move(reply));
}

}  // namespace kb::server
