#include "security/authorizer.h"

namespace kb::security {

namespace {

enum class Match { None, Allow, Deny };

bool implied_by_allow(AclOperation wanted, AclOperation granted) {
  switch (wanted) {
    case AclOperation::DESCRIBE:
      return granted == AclOperation::DESCRIBE || granted == AclOperation::READ || granted == AclOperation::WRITE ||
             granted == AclOperation::DELETE || granted == AclOperation::ALTER;
    case AclOperation::DESCRIBE_CONFIGS:
      return granted == AclOperation::DESCRIBE_CONFIGS || granted == AclOperation::ALTER_CONFIGS;
    default:
      return granted == wanted;
  }
}

// Kafka's findResult: the ACL's resource already applies; principal, host and operation decide.
Match match(const AclBinding& acl, std::string_view principal, std::string_view host, AclOperation operation) {
  if (acl.principal != principal && acl.principal != kWildcardPrincipal) return Match::None;
  if (acl.host != kWildcard && acl.host != host) return Match::None;
  if (acl.operation != AclOperation::ALL) {
    const bool applies = acl.permission == AclPermission::ALLOW ? implied_by_allow(operation, acl.operation)
                                                                : acl.operation == operation;
    if (!applies) return Match::None;
  }
  return acl.permission == AclPermission::ALLOW ? Match::Allow : Match::Deny;
}

}  // namespace

Authorizer::Authorizer(AuthorizerConfig config, const std::vector<AclBinding>& acls) : config_(std::move(config)) {
  for (const AclBinding& acl : acls) {
    Section& s = sections_[acl.resource_type];
    if (acl.pattern_type == PatternType::PREFIXED) {
      s.prefixed[acl.resource_name].push_back(acl);
      s.prefix_lengths.insert(acl.resource_name.size());
    } else {
      s.literal[acl.resource_name].push_back(acl);
    }
    ++size_;
  }
}

Decision Authorizer::authorize(std::string_view principal, std::string_view host, AclOperation operation,
                               ResourceType resource_type, std::string_view resource_name) const {
  if (is_super_user(principal)) return {true, "SuperUser"};
  auto no_rule = [&] {
    return config_.allow_everyone_if_no_acl_found ? Decision{true, "DefaultAllow"} : Decision{false, "DefaultDeny"};
  };
  auto section = sections_.find(resource_type);
  if (section == sections_.end()) return no_rule();
  const Section& s = section->second;

  bool resource_has_acls = false;
  const AclBinding* allow = nullptr;
  const AclBinding* deny = nullptr;
  auto consider = [&](const std::vector<AclBinding>& candidates) {
    resource_has_acls = true;
    for (const AclBinding& acl : candidates) {
      Match m = match(acl, principal, host, operation);
      if (m == Match::Deny) deny = &acl;
      if (m == Match::Allow && !allow) allow = &acl;
      if (deny) return;
    }
  };
  const std::string name(resource_name);
  if (auto it = s.literal.find(name); it != s.literal.end()) consider(it->second);
  if (!deny && name != kWildcard)
    if (auto it = s.literal.find(std::string(kWildcard)); it != s.literal.end()) consider(it->second);
  for (size_t len : s.prefix_lengths) {
    if (deny || len > name.size()) break;
    if (auto it = s.prefixed.find(name.substr(0, len)); it != s.prefixed.end()) consider(it->second);
  }
  if (deny) return {false, "MatchingAcl" + to_string(*deny)};
  if (allow) return {true, "MatchingAcl" + to_string(*allow)};
  if (!resource_has_acls) return no_rule();
  return {false, "DefaultDeny"};
}

bool Authorizer::allowed_on_any(std::string_view principal, std::string_view host, AclOperation operation,
                                ResourceType resource_type) const {
  // A name no ACL names: a super user, a wildcard ALLOW or the no-ACL default decides as for any.
  if (allowed(principal, host, operation, resource_type, "hardcode")) return true;
  auto section = sections_.find(resource_type);
  if (section == sections_.end()) return false;
  const Section& s = section->second;
  auto applies = [&](const AclBinding& acl, AclPermission permission) {
    return acl.permission == permission && (acl.principal == principal || acl.principal == kWildcardPrincipal) &&
           (acl.host == kWildcard || acl.host == host) &&
           (acl.operation == operation || acl.operation == AclOperation::ALL);
  };
  auto any_applies = [&](const std::vector<AclBinding>& acls, AclPermission permission) {
    for (const AclBinding& acl : acls)
      if (applies(acl, permission)) return true;
    return false;
  };
  std::set<std::string_view> denied_literal, denied_prefixes;
  for (const auto& [name, acls] : s.literal)
    if (any_applies(acls, AclPermission::DENY)) denied_literal.insert(name);
  for (const auto& [name, acls] : s.prefixed)
    if (any_applies(acls, AclPermission::DENY)) denied_prefixes.insert(name);
  if (denied_literal.count(kWildcard)) return false;
  auto under_denied_prefix = [&](std::string_view name) {
    for (std::string_view p : denied_prefixes)
      if (name.substr(0, p.size()) == p) return true;
    return false;
  };
  for (const auto& [name, acls] : s.literal)
    if (any_applies(acls, AclPermission::ALLOW) && !denied_literal.count(name) && !under_denied_prefix(name))
      return true;
  for (const auto& [name, acls] : s.prefixed)
    if (any_applies(acls, AclPermission::ALLOW) && !under_denied_prefix(name)) return true;
  return false;
}

}  // namespace kb::security
