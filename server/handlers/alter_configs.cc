// Handler for api AlterConfigs (key 33), versions 0..2: a topic's overrides become exactly
// the configs given (the ones left out go back to their defaults).
#include "protocol/messages/alter_configs_request.h"
#include "protocol/messages/alter_configs_response.h"
#include "server/handlers/alter_configs_common.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_alter_configs(RequestContext& ctx, Respond respond) {
  msg::AlterConfigsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  msg::AlterConfigsResponse resp;
  std::set<std::pair<int8_t, std::string>> seen;
  for (const auto& r : req.resources) {
    alter_configs::Outcome out;
    if (auto refused = alter_configs::check_resource(r.resource_type, r.resource_name, seen)) {
      out = *refused;
    } else if (alter_configs::current_overrides(broker, r.resource_name, out)) {
      std::map<std::string, std::string> overrides;
      for (const auto& c : r.configs) {
        if (!c.value) {
          out = {ErrorCode::INVALID_REQUEST, "Null value not supported for topic configs: " + c.name};
          break;
        }
        overrides[c.name] = *c.value;
      }
      if (out.code == ErrorCode::NONE) out = alter_configs::write(broker, r.resource_name, overrides, req.validate_only);
    }
    alter_configs::add_result(resp, r.resource_type, r.resource_name, out, broker, ctx.api_key);
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
