#include "server/authorization.h"

namespace kb::server {

Authorization::Authorization(bool enabled, security::AuthorizerConfig config)
    : enabled_(enabled), config_(std::move(config)) {
  set_acls({});
}

void Authorization::set_acls(const std::vector<security::AclBinding>& acls) {
  current_.store(std::make_shared<const security::Authorizer>(config_, acls), std::memory_order_release);
}

bool Authorization::allowed(std::string_view principal, std::string_view host, security::AclOperation operation,
                            security::ResourceType type, std::string_view name) const {
  if (!enabled_) return true;
  return current_.load(std::memory_order_acquire)->allowed(principal, host, operation, type, name);
}

}  // namespace kb::server
