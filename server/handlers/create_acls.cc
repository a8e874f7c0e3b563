// Handler for api CreateAcls (key 30), versions 0..3.
// Forwarded to the active controller, which stores each new ACL as an AccessControlEntryRecord.
#include "protocol/messages/create_acls_request.h"
#include "protocol/messages/create_acls_response.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/acl_common.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_create_acls(RequestContext& ctx, Respond respond) {
  msg::CreateAclsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto all_failed = [count = req.creations.size(), version](Respond& r, ErrorCode code, const std::string& message) {
    msg::CreateAclsResponse resp;
    for (size_t i = 0; i < count; ++i) {
      auto& res = resp.results.emplace_back();
      res.error_code = to_wire(code);
      res.error_message = message;
    }
    send_response(version, r, resp);
  };
  if (acls_disabled(ctx)) return all_failed(respond, ErrorCode::SECURITY_DISABLED, kNoAuthorizerMessage);
  if (forward_unless_controller(ctx, respond, all_failed)) return;
  if (!Access(ctx).api_allowed())  // ALTER on the cluster, checked by the controller
    return all_failed(respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed.");
  std::vector<security::AclBinding> bindings;
  for (const auto& c : req.creations)
    bindings.push_back(security::acl_binding(c.resource_type, c.resource_name, c.resource_pattern_type, c.principal,
                                             c.host, c.operation, c.permission_type));
  msg::CreateAclsResponse resp;
  for (const Status& s : ctx.broker->controller().create_acls(bindings)) {
    auto& res = resp.results.emplace_back();
    res.error_code = to_wire(s.code());
    res.error_message = std::nullopt;  // Kafka's null for success
    if (!s.ok()) {
      res.error_message = s.error().message;
      ctx.broker->metrics().request_error(ctx.api_key, s.code());
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
