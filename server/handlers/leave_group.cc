// Handler for api LeaveGroup (key 13), versions 0..5 (v3+: several members at once).
#include "protocol/messages/leave_group_request.h"
#include "protocol/messages/leave_group_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_leave_group(RequestContext& ctx, Respond respond) {
  msg::LeaveGroupRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!Access(ctx).group(security::AclOperation::READ, req.group_id))
    return refuse_request<msg::LeaveGroupResponse>(ctx, respond, ErrorCode::GROUP_AUTHORIZATION_FAILED);
  ctx.broker->groups().leave_group(std::move(req), client_info(ctx),
                                   [v = ctx.api_version, respond = std::move(respond)](msg::LeaveGroupResponse r) mutable {
                                     send_response(v, respond, r);
                                   });
}

}  // namespace kb::server
