// Handler for api OffsetDelete (key 47), version 0.
#include "protocol/messages/offset_delete_request.h"
#include "protocol/messages/offset_delete_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_offset_delete(RequestContext& ctx, Respond respond) {
  msg::OffsetDeleteRequest req;
  if (!decode_request(ctx, req, respond)) return;
  // Kafka: DELETE on the group (else the request's error), READ on each topic (else its
  // partitions TOPIC_AUTHORIZATION_FAILED).
  const Access access(ctx);
  if (!access.group(security::AclOperation::DELETE, req.group_id))
    return refuse_request<msg::OffsetDeleteResponse>(ctx, respond, ErrorCode::GROUP_AUTHORIZATION_FAILED);
  auto refused = take_refused<msg::OffsetDeleteResponse::OffsetDeleteResponseTopic>(
      req.topics, [&](const std::string& t) { return !access.topic(security::AclOperation::READ, t); },
      ErrorCode::TOPIC_AUTHORIZATION_FAILED);
  ctx.broker->groups().delete_offsets(
      std::move(req), [v = ctx.api_version, refused = std::move(refused),
                       respond = std::move(respond)](msg::OffsetDeleteResponse r) mutable {
        if (r.error_code == 0) r.topics.insert(r.topics.end(), refused.begin(), refused.end());
        send_response(v, respond, r);
      });
}

}  // namespace kb::server
