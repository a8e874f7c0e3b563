// Handler for api DeleteAcls (key 31), versions 0..3.
// Forwarded to the active controller; each filter's result lists the ACLs it matched, which
// are gone (RemoveAccessControlEntryRecord) when the answer arrives.
#include "protocol/messages/delete_acls_request.h"
#include "protocol/messages/delete_acls_response.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/acl_common.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_delete_acls(RequestContext& ctx, Respond respond) {
  msg::DeleteAclsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto all_failed = [count = req.filters.size(), version](Respond& r, ErrorCode code, const std::string& message) {
    msg::DeleteAclsResponse resp;
    for (size_t i = 0; i < count; ++i) {
      auto& res = resp.filter_results.emplace_back();
      res.error_code = to_wire(code);
      res.error_message = message;
    }
    send_response(version, r, resp);
  };
  if (acls_disabled(ctx)) return all_failed(respond, ErrorCode::SECURITY_DISABLED, kNoAuthorizerMessage);
  if (forward_unless_controller(ctx, respond, all_failed)) return;
  if (!Access(ctx).api_allowed())  // ALTER on the cluster, checked by the controller
    return all_failed(respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed.");
  std::vector<security::AclBindingFilter> filters;
  for (const auto& f : req.filters)
    filters.push_back(acl_filter(f.resource_type_filter, f.resource_name_filter, f.pattern_type_filter,
                                 f.principal_filter, f.host_filter, f.operation, f.permission_type));
  msg::DeleteAclsResponse resp;
  for (const auto& result : ctx.broker->controller().delete_acls(filters)) {
    auto& res = resp.filter_results.emplace_back();
    res.error_code = to_wire(result.error);
    res.error_message = std::nullopt;  // Kafka's null for success
    if (result.error != ErrorCode::NONE) {
      res.error_message = result.message;
      ctx.broker->metrics().request_error(ctx.api_key, result.error);
    }
    for (const auto& b : result.deleted) {
      auto& m = res.matching_acls.emplace_back();
      m.error_code = to_wire(ErrorCode::NONE);
      m.error_message = std::nullopt;
      m.resource_type = static_cast<int8_t>(b.resource_type);
      m.resource_name = b.resource_name;
      m.pattern_type = static_cast<int8_t>(b.pattern_type);
      m.principal = b.principal;
      m.host = b.host;
      m.operation = static_cast<int8_t>(b.operation);
      m.permission_type = static_cast<int8_t>(b.permission);
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
