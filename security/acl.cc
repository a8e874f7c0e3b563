#include "security/acl.h"

#include <array>
#include <strings.h>

namespace kb::security {

namespace {

constexpr std::array<std::string_view, 8> kResourceTypes = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"};
constexpr std::array<std::string_view, 5> kPatternTypes = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
constexpr std::array<std::string_view, 15> kOperations = {
    "UNKNOWN", "ANY",      "ALL",            "READ",           "WRITE",
    "CREATE",  "DELETE",   "ALTER",          "DESCRIBE",       "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"};
constexpr std::array<std::string_view, 4> kPermissions = {"UNKNOWN", "ANY", "DENY", "ALLOW"};

template <class E, size_t N>
E from_code(int8_t code, const std::array<std::string_view, N>&) {
  return code >= 0 && static_cast<size_t>(code) < N ? static_cast<E>(code) : static_cast<E>(0);
}

template <class E, size_t N>
std::string_view name_in(E value, const std::array<std::string_view, N>& names) {
  auto i = static_cast<size_t>(value);
  return i < N ? names[i] : names[0];
}

template <class E, size_t N>
E named_in(std::string_view name, const std::array<std::string_view, N>& names) {
  for (size_t i = 0; i < N; ++i)
    if (names[i].size() == name.size() && strncasecmp(names[i].data(), name.data(), name.size()) == 0)
      return static_cast<E>(i);
  return static_cast<E>(0);
}

}  // namespace

ResourceType resource_type_from(int8_t code) { return from_code<ResourceType>(code, kResourceTypes); }
PatternType pattern_type_from(int8_t code) { return from_code<PatternType>(code, kPatternTypes); }
AclOperation operation_from(int8_t code) { return from_code<AclOperation>(code, kOperations); }
AclPermission permission_from(int8_t code) { return from_code<AclPermission>(code, kPermissions); }

AclBinding acl_binding(int8_t resource_type, std::string resource_name, int8_t pattern_type, std::string principal,
                       std::string host, int8_t operation, int8_t permission) {
  AclBinding b;
  b.resource_type = resource_type_from(resource_type);
  b.resource_name = std::move(resource_name);
  b.pattern_type = pattern_type_from(pattern_type);
  b.principal = std::move(principal);
  b.host = std::move(host);
  b.operation = operation_from(operation);
  b.permission = permission_from(permission);
  return b;
}

std::string_view name_of(ResourceType t) { return name_in(t, kResourceTypes); }
std::string_view name_of(PatternType t) { return name_in(t, kPatternTypes); }
std::string_view name_of(AclOperation o) { return name_in(o, kOperations); }
std::string_view name_of(AclPermission p) { return name_in(p, kPermissions); }

ResourceType resource_type_named(std::string_view n) { return named_in<ResourceType>(n, kResourceTypes); }
PatternType pattern_type_named(std::string_view n) { return named_in<PatternType>(n, kPatternTypes); }
AclOperation operation_named(std::string_view n) { return named_in<AclOperation>(n, kOperations); }
AclPermission permission_named(std::string_view n) { return named_in<AclPermission>(n, kPermissions); }

bool AclBindingFilter::matches(const AclBinding& b) const {
  // The resource pattern (Kafka's ResourcePatternFilter.matches).
  if (resource_type != ResourceType::ANY && resource_type != b.resource_type) return false;
  if (pattern_type != PatternType::ANY && pattern_type != PatternType::MATCH && pattern_type != b.pattern_type)
    return false;
  if (resource_name) {
    if (pattern_type == PatternType::ANY || pattern_type == b.pattern_type) {
      if (*resource_name != b.resource_name) return false;
    } else if (b.pattern_type == PatternType::LITERAL) {  // MATCH
      if (*resource_name != b.resource_name && b.resource_name != kWildcard) return false;
    } else if (b.pattern_type == PatternType::PREFIXED) {
      if (!std::string_view(*resource_name).starts_with(b.resource_name)) return false;
    } else {
      return false;
    }
  }
  // The entry (Kafka's AccessControlEntryFilter.matches).
  if (principal && *principal != b.principal) return false;
  if (host && *host != b.host) return false;
  if (operation != AclOperation::ANY && operation != b.operation) return false;
  return permission == AclPermission::ANY || permission == b.permission;
}

bool AclBindingFilter::has_unknown() const {
  return resource_type == ResourceType::UNKNOWN || pattern_type == PatternType::UNKNOWN ||
         operation == AclOperation::UNKNOWN || permission == AclPermission::UNKNOWN;
}

Status validate(const AclBinding& b) {
  auto invalid = [](std::string_view what, std::string_view value) {
    return Status(ErrorCode::INVALID_REQUEST, "Invalid " + std::string(what) + " " + std::string(value));
  };
  if (b.resource_type == ResourceType::UNKNOWN || b.resource_type == ResourceType::ANY)
    return invalid("resourceType", name_of(b.resource_type));
  if (b.pattern_type != PatternType::LITERAL && b.pattern_type != PatternType::PREFIXED)
    return invalid("patternType", name_of(b.pattern_type));
  if (b.operation == AclOperation::UNKNOWN || b.operation == AclOperation::ANY)
    return invalid("operation", name_of(b.operation));
  if (b.permission != AclPermission::ALLOW && b.permission != AclPermission::DENY)
    return invalid("permissionType", name_of(b.permission));
  if (b.resource_name.empty()) return Status(ErrorCode::INVALID_REQUEST, "Resource name should not be empty");
  if (!split_principal(b.principal))
    return Status(ErrorCode::INVALID_REQUEST, "Could not parse principal from `" + b.principal +
                                                  "` (no colon is present separating the principal type from the "
                                                  "principal name)");
  return {};
}

std::optional<std::pair<std::string_view, std::string_view>> split_principal(std::string_view principal) {
  size_t colon = principal.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return std::pair{principal.substr(0, colon), principal.substr(colon + 1)};
}

std::string to_string(const AclBinding& b) {
  return "(principal=" + b.principal + ", host=" + b.host + ", operation=" + std::string(name_of(b.operation)) +
         ", permission=" + std::string(name_of(b.permission)) + ") on " + std::string(name_of(b.resource_type)) +
         ":" + std::string(name_of(b.pattern_type)) + ":" + b.resource_name;
}

}  // namespace kb::security
