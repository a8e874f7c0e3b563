// Handler for api Heartbeat (key 12), versions 0..4.
#include "protocol/messages/heartbeat_request.h"
#include "protocol/messages/heartbeat_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_heartbeat(RequestContext& ctx, Respond respond) {
  msg::HeartbeatRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!Access(ctx).group(security::AclOperation::READ, req.group_id))
    return refuse_request<msg::HeartbeatResponse>(ctx, respond, ErrorCode::GROUP_AUTHORIZATION_FAILED);
  ctx.broker->groups().heartbeat(std::move(req), client_info(ctx),
                                 [v = ctx.api_version, respond = std::move(respond)](ErrorCode e) mutable {
                                   msg::HeartbeatResponse r;
                                   r.error_code = to_wire(e);
                                   send_response(v, respond, r);
                                 });
}

}  // namespace kb::server
