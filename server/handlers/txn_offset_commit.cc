// Handler for api TxnOffsetCommit (key 28), versions 0..4: a transactional producer commits a
// consumer group's offsets inside its transaction (Kafka's KafkaApis.handleTxnOffsetCommitRequest).
// The group coordinator writes them as a transactional batch of the producer to the group's
// __consumer_offsets partition; they become the group's committed offsets only when the
// transaction coordinator's COMMIT marker lands there (WriteTxnMarkers -> complete_txn).
#include <set>

#include "protocol/messages/txn_offset_commit_request.h"
#include "protocol/messages/txn_offset_commit_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_txn_offset_commit(RequestContext& ctx, Respond respond) {
  msg::TxnOffsetCommitRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  // Kafka: WRITE on the transactional id, READ on the group (either refused answers every
  // partition), READ on each topic.
  const Access access(ctx);
  ErrorCode whole = ErrorCode::NONE;
  if (!access.transactional_id(security::AclOperation::WRITE, req.transactional_id))
    whole = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  else if (!access.group(security::AclOperation::READ, req.group_id))
    whole = ErrorCode::GROUP_AUTHORIZATION_FAILED;
  auto refused = take_refused<msg::TxnOffsetCommitResponse::TxnOffsetCommitResponseTopic>(
      req.topics,
      [&](const std::string& t) {
        return whole != ErrorCode::NONE || !access.topic(security::AclOperation::READ, t);
      },
      whole != ErrorCode::NONE ? whole : ErrorCode::TOPIC_AUTHORIZATION_FAILED);
  const bool all_refused = req.topics.empty() && !refused.empty();
  // As for OffsetCommit: unknown partitions are UNKNOWN_TOPIC_OR_PARTITION once the
  // coordinator's own checks pass.
  auto unknown = unknown_partitions(*broker.image(), req.topics);
  auto answer = [v = ctx.api_version, api = ctx.api_key, &metrics = broker.metrics(),
                 refused = std::move(refused), respond = std::move(respond)](msg::TxnOffsetCommitResponse resp) mutable {
    resp.topics.insert(resp.topics.end(), refused.begin(), refused.end());
    for (auto& t : resp.topics)
      for (auto& p : t.partitions) {
        // Producers before v2 (clients before 2.0) do not retry COORDINATOR_LOAD_IN_PROGRESS
        // here; Kafka answers them COORDINATOR_NOT_AVAILABLE (KAFKA-7296).
        if (v < 2 && p.error_code == to_wire(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
          p.error_code = to_wire(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        if (p.error_code != 0) metrics.request_error(api, static_cast<ErrorCode>(p.error_code));
      }
    send_response(v, respond, resp);
  };
  if (all_refused) return answer(msg::TxnOffsetCommitResponse{});
  broker.groups().commit_txn_offsets(std::move(req), std::move(unknown), client_info(ctx), std::move(answer));
}

}  // namespace kb::server
