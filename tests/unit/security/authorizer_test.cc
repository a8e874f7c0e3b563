#include <catch2/catch.hpp>

#include "security/authorizer.h"

using namespace kb;
using namespace kb::security;

namespace {

AclBinding acl(ResourceType type, std::string name, PatternType pattern, std::string principal, AclOperation op,
               AclPermission permission = AclPermission::ALLOW, std::string host = "*") {
  return AclBinding{type, std::move(name), pattern, std::move(principal), std::move(host), op, permission};
}

constexpr auto T = ResourceType::TOPIC;
constexpr auto LIT = PatternType::LITERAL;
constexpr auto PRE = PatternType::PREFIXED;

}  // namespace

TEST_CASE("authorizer: an ALLOW on the literal name allows that principal only") {
  Authorizer a({}, {acl(T, "orders", LIT, "User:alice", AclOperation::READ)});
  CHECK(a.allowed("User:alice", "10.0.0.1", AclOperation::READ, T, "orders"));
  CHECK_FALSE(a.allowed("User:bob", "10.0.0.1", AclOperation::READ, T, "orders"));
  CHECK_FALSE(a.allowed("User:alice", "10.0.0.1", AclOperation::WRITE, T, "orders"));
  CHECK_FALSE(a.allowed("User:alice", "10.0.0.1", AclOperation::READ, T, "orders2"));
  CHECK_FALSE(a.allowed("User:alice", "10.0.0.1", AclOperation::READ, ResourceType::GROUP, "orders"));
}

TEST_CASE("authorizer: DENY beats ALLOW wherever the two come from") {
  Authorizer a({}, {acl(T, "*", LIT, "User:*", AclOperation::ALL),
                    acl(T, "pay", PRE, "User:alice", AclOperation::WRITE, AclPermission::DENY)});
  CHECK(a.allowed("User:alice", "h", AclOperation::WRITE, T, "orders"));
  CHECK_FALSE(a.allowed("User:alice", "h", AclOperation::WRITE, T, "payments"));
  CHECK(a.allowed("User:alice", "h", AclOperation::READ, T, "payments"));
  CHECK(a.allowed("User:bob", "h", AclOperation::WRITE, T, "payments"));
  auto d = a.authorize("User:alice", "h", AclOperation::WRITE, T, "payments");
  CHECK(d.rule.find("permission=DENY") != std::string::npos);
}

TEST_CASE("authorizer: prefixed patterns match names that start with them, literals only themselves") {
  Authorizer a({}, {acl(T, "app.", PRE, "User:svc", AclOperation::READ),
                    acl(T, "app", LIT, "User:svc", AclOperation::WRITE)});
  CHECK(a.allowed("User:svc", "h", AclOperation::READ, T, "app.events"));
  CHECK(a.allowed("User:svc", "h", AclOperation::READ, T, "app."));
  CHECK_FALSE(a.allowed("User:svc", "h", AclOperation::READ, T, "app"));
  CHECK(a.allowed("User:svc", "h", AclOperation::WRITE, T, "app"));
  CHECK_FALSE(a.allowed("User:svc", "h", AclOperation::WRITE, T, "app.events"));
}

TEST_CASE("authorizer: ALLOW of READ, WRITE, DELETE or ALTER implies DESCRIBE; a DENY implies nothing") {
  for (auto op : {AclOperation::READ, AclOperation::WRITE, AclOperation::DELETE, AclOperation::ALTER}) {
    Authorizer a({}, {acl(T, "t", LIT, "User:u", op)});
    CHECK(a.allowed("User:u", "h", AclOperation::DESCRIBE, T, "t"));
  }
  Authorizer create({}, {acl(T, "t", LIT, "User:u", AclOperation::CREATE)});
  CHECK_FALSE(create.allowed("User:u", "h", AclOperation::DESCRIBE, T, "t"));
  Authorizer configs({}, {acl(T, "t", LIT, "User:u", AclOperation::ALTER_CONFIGS)});
  CHECK(configs.allowed("User:u", "h", AclOperation::DESCRIBE_CONFIGS, T, "t"));
  CHECK_FALSE(configs.allowed("User:u", "h", AclOperation::ALTER, T, "t"));

  Authorizer deny_read({}, {acl(T, "t", LIT, "User:u", AclOperation::DESCRIBE),
                            acl(T, "t", LIT, "User:u", AclOperation::READ, AclPermission::DENY)});
  CHECK(deny_read.allowed("User:u", "h", AclOperation::DESCRIBE, T, "t"));
  CHECK_FALSE(deny_read.allowed("User:u", "h", AclOperation::READ, T, "t"));
  Authorizer deny_all({}, {acl(T, "t", LIT, "User:u", AclOperation::READ),
                           acl(T, "t", LIT, "User:u", AclOperation::ALL, AclPermission::DENY)});
  CHECK_FALSE(deny_all.allowed("User:u", "h", AclOperation::DESCRIBE, T, "t"));
}

TEST_CASE("authorizer: host must match unless the ACL's host is *") {
  Authorizer a({}, {acl(T, "t", LIT, "User:u", AclOperation::READ, AclPermission::ALLOW, "10.0.0.5")});
  CHECK(a.allowed("User:u", "10.0.0.5", AclOperation::READ, T, "t"));
  CHECK_FALSE(a.allowed("User:u", "10.0.0.6", AclOperation::READ, T, "t"));
}

TEST_CASE("authorizer: super users may do anything; with no ACL the default decides") {
  AuthorizerConfig c;
  c.super_users = {"User:admin"};
  Authorizer a(c, {acl(T, "t", LIT, "User:u", AclOperation::READ)});
  CHECK(a.authorize("User:admin", "h", AclOperation::ALTER, ResourceType::CLUSTER, "kafka-cluster").rule ==
        "SuperUser");
  CHECK_FALSE(a.allowed("User:u", "h", AclOperation::READ, T, "no-acls-here"));

  c.allow_everyone_if_no_acl_found = true;
  Authorizer open(c, {acl(T, "t", LIT, "User:u", AclOperation::READ)});
  CHECK(open.authorize("User:x", "h", AclOperation::READ, T, "no-acls-here").rule == "DefaultAllow");
  CHECK(open.allowed("User:x", "h", AclOperation::READ, ResourceType::GROUP, "g"));
  // Some ACL applies to "t", though not to User:x: no default for it.
  CHECK_FALSE(open.allowed("User:x", "h", AclOperation::READ, T, "t"));
}

TEST_CASE("authorizer: the User:* principal and the * resource apply to everyone and everything") {
  Authorizer a({}, {acl(ResourceType::GROUP, "*", LIT, "User:*", AclOperation::READ)});
  CHECK(a.allowed("User:anyone", "h", AclOperation::READ, ResourceType::GROUP, "any-group"));
  CHECK(a.allowed("User:anyone", "h", AclOperation::DESCRIBE, ResourceType::GROUP, "*"));
  CHECK(a.size() == 1);
}

TEST_CASE("authorizer: allowed_on_any is Kafka's authorizeByResourceType") {
  const auto W = AclOperation::WRITE;
  // Nothing at all: denied, unless the no-ACL default allows or the principal is a super user.
  CHECK_FALSE(Authorizer({}, {}).allowed_on_any("User:alice", "h", W, T));
  AuthorizerConfig open;
  open.allow_everyone_if_no_acl_found = true;
  CHECK(Authorizer(open, {}).allowed_on_any("User:alice", "h", W, T));
  AuthorizerConfig su;
  su.super_users = {"User:root"};
  CHECK(Authorizer(su, {acl(T, "*", LIT, "User:*", W, AclPermission::DENY)}).allowed_on_any("User:root", "h", W, T));

  // One ALLOW anywhere is enough; a DENY covering it (same literal, a prefix of it, or the
  // wildcard) takes it away.
  Authorizer one({}, {acl(T, "orders-", PRE, "User:alice", W)});
  CHECK(one.allowed_on_any("User:alice", "h", W, T));
  CHECK_FALSE(one.allowed_on_any("User:bob", "h", W, T));
  CHECK_FALSE(one.allowed_on_any("User:alice", "h", AclOperation::READ, T));
  CHECK_FALSE(one.allowed_on_any("User:alice", "h", W, ResourceType::GROUP));
  CHECK_FALSE(Authorizer({}, {acl(T, "orders", LIT, "User:alice", W), acl(T, "ord", PRE, "User:alice", W,
                                                                          AclPermission::DENY)})
                  .allowed_on_any("User:alice", "h", W, T));
  CHECK_FALSE(Authorizer({}, {acl(T, "orders", LIT, "User:alice", W), acl(T, "*", LIT, "User:*", W,
                                                                          AclPermission::DENY)})
                  .allowed_on_any("User:alice", "h", W, T));
  CHECK(Authorizer({}, {acl(T, "orders", LIT, "User:alice", AclOperation::ALL),
                        acl(T, "payments", LIT, "User:alice", W, AclPermission::DENY)})
            .allowed_on_any("User:alice", "h", W, T));
}
