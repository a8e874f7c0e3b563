// ACLs as Kafka defines them (org.apache.kafka.common.acl / resource): a binding is a resource
// pattern (type, name, LITERAL or PREFIXED) and an entry (principal, host, operation, ALLOW or
// DENY). The enums carry Kafka's wire codes (CreateAcls, DescribeAcls, DeleteAcls and the
// metadata log's AccessControlEntryRecord use them), the filters are what DescribeAcls and
// DeleteAcls match with, and validate() is what the controller checks before storing one.
//
// Values only: no locks, no threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/types.h"

namespace kb::security {

enum class ResourceType : int8_t {
  UNKNOWN = 0, ANY = 1, TOPIC = 2, GROUP = 3, CLUSTER = 4, TRANSACTIONAL_ID = 5, DELEGATION_TOKEN = 6, USER = 7
};
enum class PatternType : int8_t { UNKNOWN = 0, ANY = 1, MATCH = 2, LITERAL = 3, PREFIXED = 4 };
enum class AclOperation : int8_t {
  UNKNOWN = 0, ANY = 1, ALL = 2, READ = 3, WRITE = 4, CREATE = 5, DELETE = 6, ALTER = 7, DESCRIBE = 8,
  CLUSTER_ACTION = 9, DESCRIBE_CONFIGS = 10, ALTER_CONFIGS = 11, IDEMPOTENT_WRITE = 12, CREATE_TOKENS = 13,
  DESCRIBE_TOKENS = 14
};
enum class AclPermission : int8_t { UNKNOWN = 0, ANY = 1, DENY = 2, ALLOW = 3 };

// Wire codes outside Kafka's range read as UNKNOWN, as Kafka's fromCode does.
ResourceType resource_type_from(int8_t code);
PatternType pattern_type_from(int8_t code);
AclOperation operation_from(int8_t code);
AclPermission permission_from(int8_t code);

// Kafka's names ("TOPIC", "PREFIXED", "DESCRIBE_CONFIGS", "ALLOW"), for logs and tools.
std::string_view name_of(ResourceType t);
std::string_view name_of(PatternType t);
std::string_view name_of(AclOperation o);
std::string_view name_of(AclPermission p);
// Case-insensitive, as Kafka's fromString; UNKNOWN for an unknown name.
ResourceType resource_type_named(std::string_view name);
PatternType pattern_type_named(std::string_view name);
AclOperation operation_named(std::string_view name);
AclPermission permission_named(std::string_view name);

inline constexpr std::string_view kWildcard = "*";             // any resource name, host or principal name
inline constexpr std::string_view kWildcardPrincipal = "User:*";
inline constexpr std::string_view kClusterName = "kafka-cluster";  // the CLUSTER resource's name

struct AclBinding {
  ResourceType resource_type = ResourceType::TOPIC;
  std::string resource_name;
  PatternType pattern_type = PatternType::LITERAL;
  std::string principal;  // "User:alice"
  std::string host = std::string(kWildcard);
  AclOperation operation = AclOperation::ALL;
  AclPermission permission = AclPermission::ALLOW;
  auto operator<=>(const AclBinding&) const = default;
};

// A binding from its wire codes, as CreateAcls and AccessControlEntryRecord carry it (unknown
// codes read as UNKNOWN; validate() refuses them).
AclBinding acl_binding(int8_t resource_type, std::string resource_name, int8_t pattern_type, std::string principal,
                       std::string host, int8_t operation, int8_t permission);

// A DescribeAcls / DeleteAcls filter: nullopt names, principals and hosts match anything;
// ANY matches any value of an enum; pattern type MATCH matches every pattern that applies to
// the named resource (the literal name, the wildcard, and prefixes of it).
struct AclBindingFilter {
  ResourceType resource_type = ResourceType::ANY;
  std::optional<std::string> resource_name;
  PatternType pattern_type = PatternType::ANY;
  std::optional<std::string> principal;
  std::optional<std::string> host;
  AclOperation operation = AclOperation::ANY;
  AclPermission permission = AclPermission::ANY;

  bool matches(const AclBinding& b) const;
  // A filter with an UNKNOWN field is refused (INVALID_REQUEST), as Kafka's validateFilter.
  bool has_unknown() const;
};

// Kafka's rules for a new ACL (AclControlManager.validateNewAcl): a concrete resource type,
// LITERAL or PREFIXED, a concrete operation, ALLOW or DENY, a resource name, a "Type:name"
// principal. The error is INVALID_REQUEST with Kafka's message.
Status validate(const AclBinding& b);

// "User:alice" -> ("User", "alice"); nullopt without a ':'.
std::optional<std::pair<std::string_view, std::string_view>> split_principal(std::string_view principal);

// For logs: "(principal=User:alice, host=*, operation=READ, permission=ALLOW) on TOPIC:LITERAL:orders".
std::string to_string(const AclBinding& b);

}  // namespace kb::security
