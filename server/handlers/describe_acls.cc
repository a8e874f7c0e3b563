// Handler for api DescribeAcls (key 29), versions 0..3.
// Answered from this broker's metadata image (as Kafka's brokers answer from their authorizer's
// copy of the ACLs), grouped by resource pattern.
#include <map>
#include <tuple>

#include "protocol/messages/describe_acls_request.h"
#include "protocol/messages/describe_acls_response.h"
#include "server/handlers/access.h"
#include "server/handlers/acl_common.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_acls(RequestContext& ctx, Respond respond) {
  msg::DescribeAclsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  msg::DescribeAclsResponse resp;
  auto filter = acl_filter(req.resource_type_filter, req.resource_name_filter, req.pattern_type_filter,
                           req.principal_filter, req.host_filter, req.operation, req.permission_type);
  const bool disabled = acls_disabled(ctx);
  const bool denied = !disabled && !Access(ctx).api_allowed();  // DESCRIBE on the cluster
  if (disabled || denied || filter.has_unknown()) {
    const ErrorCode code = disabled ? ErrorCode::SECURITY_DISABLED
                           : denied ? ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                                    : ErrorCode::INVALID_REQUEST;
    resp.error_code = to_wire(code);
    resp.error_message = disabled ? kNoAuthorizerMessage
                         : denied ? "Authorization failed."
                                  : "The filter contains UNKNOWN elements";
    ctx.broker->metrics().request_error(ctx.api_key, code);
    send_response(ctx, respond, resp);
    return;
  }
  using Pattern = std::tuple<security::ResourceType, std::string, security::PatternType>;
  std::map<Pattern, std::vector<const security::AclBinding*>> by_pattern;
  auto image = ctx.broker->image();
  for (const auto& [id, b] : image->acls_by_id())
    if (filter.matches(b)) by_pattern[{b.resource_type, b.resource_name, b.pattern_type}].push_back(&b);
  resp.error_code = to_wire(ErrorCode::NONE);
  resp.error_message = std::nullopt;  // Kafka's null for success
  for (const auto& [pattern, bindings] : by_pattern) {
    auto& r = resp.resources.emplace_back();
    r.resource_type = static_cast<int8_t>(std::get<0>(pattern));
    r.resource_name = std::get<1>(pattern);
    r.pattern_type = static_cast<int8_t>(std::get<2>(pattern));
    for (const security::AclBinding* b : bindings) {
      auto& a = r.acls.emplace_back();
      a.principal = b->principal;
      a.host = b->host;
      a.operation = static_cast<int8_t>(b->operation);
      a.permission_type = static_cast<int8_t>(b->permission);
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
