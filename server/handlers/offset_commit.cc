// Handler for api OffsetCommit (key 8), versions 0..8.
#include <set>

#include "protocol/messages/offset_commit_request.h"
#include "protocol/messages/offset_commit_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_offset_commit(RequestContext& ctx, Respond respond) {
  msg::OffsetCommitRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  // Kafka: READ on the group (else every partition GROUP_AUTHORIZATION_FAILED), READ on each
  // topic (else its partitions TOPIC_AUTHORIZATION_FAILED).
  const Access access(ctx);
  const bool group_allowed = access.group(security::AclOperation::READ, req.group_id);
  auto refused = take_refused<msg::OffsetCommitResponse::OffsetCommitResponseTopic>(
      req.topics, [&](const std::string& t) { return !group_allowed || !access.topic(security::AclOperation::READ, t); },
      group_allowed ? ErrorCode::TOPIC_AUTHORIZATION_FAILED : ErrorCode::GROUP_AUTHORIZATION_FAILED);
  const bool all_refused = req.topics.empty() && !refused.empty();
  // Partitions that do not exist are answered UNKNOWN_TOPIC_OR_PARTITION, as Kafka does; the
  // coordinator decides, because its own error (not the coordinator, still loading) comes
  // first and is one clients retry.
  auto unknown = unknown_partitions(*broker.image(), req.topics);
  auto answer = [v = ctx.api_version, api = ctx.api_key, &metrics = broker.metrics(),
                 refused = std::move(refused), respond = std::move(respond)](msg::OffsetCommitResponse resp) mutable {
    resp.topics.insert(resp.topics.end(), refused.begin(), refused.end());
    for (const auto& t : resp.topics)
      for (const auto& p : t.partitions)
        if (p.error_code != 0) metrics.request_error(api, static_cast<ErrorCode>(p.error_code));
    send_response(v, respond, resp);
  };
  if (all_refused) return answer(msg::OffsetCommitResponse{});
  broker.groups().commit_offsets(std::move(req), std::move(unknown), client_info(ctx), std::move(answer));
}

}  // namespace kb::server
