// What the three ACL handlers share: Kafka answers them with SECURITY_DISABLED when no
// authorizer is configured (authorizer.class.name empty), and reads filters the same way.
#pragma once

#include <optional>
#include <string>

#include "security/acl.h"
#include "server/broker.h"
#include "server/request.h"

namespace kb::server {

inline constexpr const char* kNoAuthorizerMessage = "No Authorizer is configured.";

inline bool acls_disabled(const RequestContext& ctx) { return !ctx.broker->authorization().enabled(); }

// A DescribeAcls or DeleteAcls filter from its wire fields.
inline security::AclBindingFilter acl_filter(int8_t resource_type, const std::optional<std::string>& name,
                                             int8_t pattern_type, const std::optional<std::string>& principal,
                                             const std::optional<std::string>& host, int8_t operation,
                                             int8_t permission) {
  security::AclBindingFilter f;
  f.resource_type = security::resource_type_from(resource_type);
  f.resource_name = name;
  f.pattern_type = security::pattern_type_from(pattern_type);
  f.principal = principal;
  f.host = host;
  f.operation = security::operation_from(operation);
  f.permission = security::permission_from(permission);
  return f;
}

}  // namespace kb::server
