#include "server/authorization.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "config/settings.h"

namespace kb::server {

// super.users is Kafka's ';'-separated list (a principal may hold a ',').
security::AuthorizerConfig authorizer_config(const config::BrokerConfig& config) {
  security::AuthorizerConfig out;
  const std::string text = config.settings().super_users;
  std::string_view list = text;
  while (!list.empty()) {
    size_t end = std::min(list.find(';'), list.size());
    std::string_view item = list.substr(0, end);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (!item.empty()) out.super_users.emplace(item);
    list.remove_prefix(std::min(end + 1, list.size()));
  }
  out.allow_everyone_if_no_acl_found = config.settings().allow_everyone_if_no_acl_found;
  return out;
}


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
