// Handler for api BrokerHeartbeat (key 63), versions 0..1.
// A registered broker's session with the active controller (NOT_CONTROLLER from a standby).
#include "protocol/messages/broker_heartbeat_request.h"
#include "protocol/messages/broker_heartbeat_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_broker_heartbeat(RequestContext& ctx, Respond respond) {
  msg::BrokerHeartbeatRequest req;
  if (!decode_request(ctx, req, respond)) return;
  msg::BrokerHeartbeatResponse resp;
  auto r = ctx.broker->controller().heartbeat(req.broker_id, req.broker_epoch, req.current_metadata_offset,
                                              req.want_fence, req.want_shut_down, req.offline_log_dirs);
  resp.error_code = to_wire(r.error);
  resp.is_caught_up = r.caught_up;
  resp.is_fenced = r.fenced;
  resp.should_shut_down = r.should_shut_down;
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
