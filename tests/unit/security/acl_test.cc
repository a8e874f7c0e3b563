#include <catch2/catch.hpp>

#include "security/acl.h"

using namespace kb;
using namespace kb::security;

namespace {

AclBinding binding(std::string name, PatternType pattern, AclOperation op = AclOperation::READ,
                   AclPermission permission = AclPermission::ALLOW) {
  return AclBinding{ResourceType::TOPIC, std::move(name), pattern, "User:alice", "*", op, permission};
}

}  // namespace

TEST_CASE("ACL filters: ANY matches every value, a name with ANY or the same pattern type matches exactly") {
  AclBindingFilter any;
  CHECK(any.matches(binding("t", PatternType::LITERAL)));
  CHECK(any.matches(binding("t", PatternType::PREFIXED)));

  AclBindingFilter named{.resource_name = "t"};
  CHECK(named.matches(binding("t", PatternType::LITERAL)));
  CHECK(named.matches(binding("t", PatternType::PREFIXED)));
  CHECK_FALSE(named.matches(binding("*", PatternType::LITERAL)));

  AclBindingFilter prefixed{.resource_name = "t", .pattern_type = PatternType::PREFIXED};
  CHECK_FALSE(prefixed.matches(binding("t", PatternType::LITERAL)));
  CHECK(prefixed.matches(binding("t", PatternType::PREFIXED)));
}

TEST_CASE("ACL filters: MATCH finds every pattern that applies to a resource name") {
  AclBindingFilter match{.resource_type = ResourceType::TOPIC, .resource_name = "orders-eu",
                         .pattern_type = PatternType::MATCH};
  CHECK(match.matches(binding("orders-eu", PatternType::LITERAL)));
  CHECK(match.matches(binding("*", PatternType::LITERAL)));
  CHECK(match.matches(binding("orders-", PatternType::PREFIXED)));
  CHECK(match.matches(binding("orders-eu", PatternType::PREFIXED)));
  CHECK_FALSE(match.matches(binding("orders", PatternType::LITERAL)));
  CHECK_FALSE(match.matches(binding("orders-eu-2", PatternType::PREFIXED)));
}

TEST_CASE("ACL filters: principal, host, operation and permission") {
  AclBindingFilter f{.principal = "User:alice", .host = "*", .operation = AclOperation::READ,
                     .permission = AclPermission::ALLOW};
  CHECK(f.matches(binding("t", PatternType::LITERAL)));
  CHECK_FALSE(f.matches(binding("t", PatternType::LITERAL, AclOperation::WRITE)));
  CHECK_FALSE(f.matches(binding("t", PatternType::LITERAL, AclOperation::READ, AclPermission::DENY)));
  f.principal = "User:bob";
  CHECK_FALSE(f.matches(binding("t", PatternType::LITERAL)));
  CHECK_FALSE(AclBindingFilter{}.has_unknown());
  CHECK(AclBindingFilter{.operation = AclOperation::UNKNOWN}.has_unknown());
}

TEST_CASE("a new ACL is validated as Kafka's controller does") {
  CHECK(validate(binding("t", PatternType::LITERAL)).ok());
  auto refused = [](AclBinding b) { return validate(b).error().message; };
  AclBinding b = binding("t", PatternType::LITERAL);
  b.resource_type = ResourceType::ANY;
  CHECK(refused(b) == "Invalid resourceType ANY");
  CHECK(refused(binding("t", PatternType::MATCH)) == "Invalid patternType MATCH");
  CHECK(refused(binding("t", PatternType::LITERAL, AclOperation::ANY)) == "Invalid operation ANY");
  CHECK(refused(binding("t", PatternType::LITERAL, AclOperation::READ, AclPermission::ANY)) ==
        "Invalid permissionType ANY");
  CHECK(refused(binding("", PatternType::LITERAL)) == "Resource name should not be empty");
  b = binding("t", PatternType::LITERAL);
  b.principal = "alice";
  CHECK(validate(b).code() == ErrorCode::INVALID_REQUEST);
}

TEST_CASE("ACL enums carry Kafka's codes and names") {
  CHECK(static_cast<int>(operation_named("describe_configs")) == 10);
  CHECK(name_of(AclOperation::IDEMPOTENT_WRITE) == "IDEMPOTENT_WRITE");
  CHECK(resource_type_named("Transactional_Id") == ResourceType::TRANSACTIONAL_ID);
  CHECK(resource_type_from(99) == ResourceType::UNKNOWN);
  CHECK(permission_from(3) == AclPermission::ALLOW);
  CHECK(pattern_type_named("prefixed") == PatternType::PREFIXED);
  CHECK(to_string(binding("t", PatternType::LITERAL)) ==
        "(principal=User:alice, host=*, operation=READ, permission=ALLOW) on TOPIC:LITERAL:t");
}
