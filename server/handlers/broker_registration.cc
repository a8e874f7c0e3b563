// Handler for api BrokerRegistration (key 62), versions 0..4.
// A broker registers with the active controller (NOT_CONTROLLER from a standby); a lone
// broker with its own, through its ControllerChannel.
#include "protocol/messages/broker_registration_request.h"
#include "protocol/messages/broker_registration_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_broker_registration(RequestContext& ctx, Respond respond) {
  msg::BrokerRegistrationRequest req;
  if (!decode_request(ctx, req, respond)) return;
  msg::BrokerRegistrationResponse resp;
  auto image = ctx.broker->image();
  if (req.cluster_id != image->cluster_id()) {
    resp.error_code = to_wire(ErrorCode::INCONSISTENT_CLUSTER_ID);
    spdlog::warn("broker {} asked to register with cluster id {}, this cluster is {}", req.broker_id, req.cluster_id,
                 image->cluster_id());
  } else {
    controller::BrokerRegistration reg;
    reg.id = req.broker_id;
    reg.incarnation_id = req.incarnation_id;
    for (const auto& l : req.listeners) {
      reg.endpoints.push_back({l.name, l.host, l.port});
      reg.security_protocols.push_back(l.security_protocol);
    }
    reg.rack = req.rack;
    reg.log_dirs = req.log_dirs;
    auto epoch = ctx.broker->controller().register_broker(reg);
    resp.error_code = to_wire(epoch.code());
    if (epoch.ok()) resp.broker_epoch = epoch.value();
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
