// Kafka's StandardAuthorizer decision over a set of ACLs: may `principal` connecting from
// `host` do `operation` on a resource?
//
//   1. A super user (super.users) may do anything.
//   2. The ACLs that apply to the resource are its LITERAL name, the LITERAL wildcard "*", and
//      every PREFIXED pattern the name starts with. Of those, the ones for the principal or
//      "User:*", for the host or "*", and for the operation decide: a DENY wins over any ALLOW.
//      An ALLOW of READ, WRITE, DELETE or ALTER also allows DESCRIBE, and an ALLOW of
//      ALTER_CONFIGS also allows DESCRIBE_CONFIGS; a DENY covers only its own operation (or ALL).
//   3. With no matching rule: allowed only when no ACL at all applies to the resource and
//      allow.everyone.if.no.acl.found is true.
//
// An Authorizer is immutable: the broker builds a new one when the ACLs change (rarely) and
// swaps it in, so request threads read it without a lock.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "security/acl.h"

namespace kb::security {

struct AuthorizerConfig {
  std::set<std::string, std::less<>> super_users;  // "User:admin"
  bool allow_everyone_if_no_acl_found = false;
};

struct Decision {
  bool allowed = false;
  // Why, for the audit log: "SuperUser", "DefaultAllow", "DefaultDeny" or the deciding ACL.
  std::string rule;
};

class Authorizer {
 public:
  Authorizer(AuthorizerConfig config, const std::vector<AclBinding>& acls);

  Decision authorize(std::string_view principal, std::string_view host, AclOperation operation,
                     ResourceType resource_type, std::string_view resource_name) const;
  bool allowed(std::string_view principal, std::string_view host, AclOperation operation,
               ResourceType resource_type, std::string_view resource_name) const {
    return authorize(principal, host, operation, resource_type, resource_name).allowed;
  }
  // Kafka's authorizeByResourceType: may the principal do `operation` on some resource of the
  // type? Yes for a super user or when the default allows it; else an ALLOW for the operation
  // (or ALL) that no DENY covers (a DENY on the LITERAL "*" covers every one).
  bool allowed_on_any(std::string_view principal, std::string_view host, AclOperation operation,
                      ResourceType resource_type) const;
  bool is_super_user(std::string_view principal) const { return config_.super_users.count(principal) > 0; }
  size_t size() const { return size_; }

 private:
  // The ACLs of one resource type, by pattern name.
  struct Section {
    std::unordered_map<std::string, std::vector<AclBinding>> literal;   // names and "*"
    std::unordered_map<std::string, std::vector<AclBinding>> prefixed;
    std::set<size_t> prefix_lengths;  // so a lookup tries only the prefixes that exist
  };

  AuthorizerConfig config_;
  std::map<ResourceType, Section> sections_;
  size_t size_ = 0;
};

}  // namespace kb::security
