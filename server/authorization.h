// The broker's authorization state: whether an authorizer is configured
// (authorizer.class.name), and the current security::Authorizer over the ACLs of the metadata
// image. The metadata publisher calls set_acls when the ACLs change (rarely); request handlers
// call allowed() on every request, so the authorizer is an immutable snapshot swapped
// atomically, read without a lock.
//
// Owner: Broker. Threads: set_acls from the metadata publisher; everything else from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "security/authorizer.h"

namespace kb::server {

// The authorizer's settings: super.users and allow.everyone.if.no.acl.found.
security::AuthorizerConfig authorizer_config(const config::BrokerConfig& config);

class Authorization {
 public:
  // Disabled (everyone may do everything, as Kafka without an authorizer) when !enabled.
  Authorization(bool enabled, security::AuthorizerConfig config);

  bool enabled() const { return enabled_; }
  // Rebuilds the authorizer over `acls` and swaps it in.
  void set_acls(const std::vector<security::AclBinding>& acls);
  // The current snapshot; keep it for one request. Null when disabled.
  std::shared_ptr<const security::Authorizer> current() const {
    return enabled_ ? current_.load(std::memory_order_acquire) : nullptr;
  }
  bool allowed(std::string_view principal, std::string_view host, security::AclOperation operation,
               security::ResourceType type, std::string_view name) const;

 private:
  const bool enabled_;
  const security::AuthorizerConfig config_;
  std::atomic<std::shared_ptr<const security::Authorizer>> current_;
};

}  // namespace kb::server
