// Handler for api LeaveGroup (key 13), versions 0..5 (v3+: several members at once).
#include "protocol/messages/leave_group_request.h"
#include "protocol/messages/leave_group_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_leave_group(RequestContext& ctx, Respond respond) {
  msg::LeaveGroupRequest req;
  if (!decode_request(ctx, req, respond)) return;
  ctx.broker->groups().leave_group(std::move(req), client_info(ctx),
                                   [v = ctx.api_version, respond = std::move(respond)](msg::LeaveGroupResponse r) mutable {
                                     send_response(v, respond, r);
                                   });
}

}  // namespace kb::server
