// Handler for api JoinGroup (key 11), versions 0..9.
#include "protocol/messages/join_group_request.h"
#include "protocol/messages/join_group_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_join_group(RequestContext& ctx, Respond respond) {
  msg::JoinGroupRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!Access(ctx).group(security::AclOperation::READ, req.group_id))
    return refuse_request<msg::JoinGroupResponse>(ctx, respond, ErrorCode::GROUP_AUTHORIZATION_FAILED);
  // The answer waits for the rebalance (up to the rebalance timeout): nothing of ctx is used
  // after this call returns.
  ctx.broker->groups().join_group(std::move(req), client_info(ctx),
                                  [v = ctx.api_version, respond = std::move(respond)](msg::JoinGroupResponse r) mutable {
                                    send_response(v, respond, r);
                                  });
}

}  // namespace kb::server
