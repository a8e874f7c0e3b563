#include <catch2/catch.hpp>

#include <set>

#include "server/authorization.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"

using namespace kb;
using namespace kb::server;
using security::AclBinding;
using security::AclOperation;
using security::ResourceType;

namespace {

RequestContext client(std::string principal = "User:alice") {
  RequestContext ctx;
  ctx.api_key = 0;
  ctx.principal = std::move(principal);
  ctx.host = "10.0.0.7";
  return ctx;
}

AclBinding allow(ResourceType type, std::string name, std::string principal, AclOperation op) {
  AclBinding b;
  b.resource_type = type;
  b.resource_name = std::move(name);
  b.principal = std::move(principal);
  b.operation = op;
  return b;
}

}  // namespace

TEST_CASE("access: every API served has exactly one rule, and the controller's APIs are the controller-only ones") {
  std::set<int16_t> keys;
  for (const ApiAccess& a : api_access()) {
    INFO("api key " << a.api_key);
    CHECK(keys.insert(a.api_key).second);
    CHECK(std::string(a.rule).size() > 0);
    // A cluster rule names its operation; no other kind carries one.
    CHECK((a.kind == AccessKind::kCluster) == (a.cluster_operation != AclOperation::UNKNOWN));
  }
  for (const HandlerInfo& h : handlers()) {
    INFO(h.name << " (api key " << h.api_key << ") needs a line in api_access() (server/handlers/access.cc)");
    const ApiAccess* a = find_api_access(h.api_key);
    REQUIRE(a != nullptr);
    CHECK((a->kind == AccessKind::kController) == h.controller_only);
  }
  // Only the APIs a client needs before it can authenticate, and DescribeCluster (Kafka checks
  // nothing there), are open.
  std::set<int16_t> open;
  for (const ApiAccess& a : api_access())
    if (a.kind == AccessKind::kOpen) open.insert(a.api_key);
  CHECK(open == std::set<int16_t>{17, 18, 36, 60});
}

TEST_CASE("access: without an authorizer every check passes and every operation is reported") {
  Authorization off(false, {});
  RequestContext ctx = client();
  Access access(off, ctx);
  CHECK_FALSE(access.enforced());
  CHECK(access.topic(AclOperation::WRITE, "orders"));
  CHECK(access.cluster(AclOperation::ALTER));
  CHECK(access.any(AclOperation::WRITE, ResourceType::TOPIC));
  // Kafka's bitfield: READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7) DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11).
  CHECK(access.operations(ResourceType::TOPIC, "orders") ==
        ((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11)));
  CHECK(access.operations(ResourceType::GROUP, "g") == ((1 << 3) | (1 << 6) | (1 << 8)));
}

TEST_CASE("access: with an authorizer the request's principal and host decide") {
  security::AuthorizerConfig config;
  config.super_users = {"User:admin"};
  Authorization on(true, config);
  on.set_acls({allow(ResourceType::TOPIC, "orders", "User:alice", AclOperation::READ)});

  RequestContext alice = client("User:alice");
  Access a(on, alice);
  CHECK(a.enforced());
  CHECK(a.topic(AclOperation::READ, "orders"));
  CHECK(a.topic(AclOperation::DESCRIBE, "orders"));  // implied by READ
  CHECK_FALSE(a.topic(AclOperation::WRITE, "orders"));
  CHECK_FALSE(a.topic(AclOperation::READ, "payments"));
  CHECK_FALSE(a.group(AclOperation::READ, "orders"));
  CHECK_FALSE(a.cluster(AclOperation::CREATE));
  CHECK(a.operations(ResourceType::TOPIC, "orders") == ((1 << 3) | (1 << 8)));
  CHECK(a.operations(ResourceType::TOPIC, "payments") == 0);

  RequestContext bob = client("User:bob");
  CHECK_FALSE(Access(on, bob).topic(AclOperation::READ, "orders"));
  RequestContext admin = client("User:admin");
  CHECK(Access(on, admin).cluster(AclOperation::ALTER));

  // The table's cluster rule of the request's API.
  RequestContext acls = client("User:alice");
  acls.api_key = 30;  // CreateAcls: ALTER on the cluster
  CHECK_FALSE(Access(on, acls).api_allowed());
  acls.principal = "User:admin";
  CHECK(Access(on, acls).api_allowed());
  acls.api_key = 3;  // Metadata: checked per topic, not by the table
  acls.principal = "User:alice";
  CHECK(Access(on, acls).api_allowed());
}

TEST_CASE("access: the broker's own requests are trusted, a forwarded client's request is not") {
  Authorization on(true, {});
  RequestContext own = client("User:ANONYMOUS");
  own.from_this_broker = true;
  CHECK(Access(on, own).cluster(AclOperation::CLUSTER_ACTION));

  // Inside an Envelope the client's principal counts, whoever carried it.
  RequestContext forwarded = client("User:ANONYMOUS");
  forwarded.forwarded = true;
  forwarded.from_this_broker = true;
  CHECK_FALSE(Access(on, forwarded).topic(AclOperation::CREATE, "t"));
  forwarded.principal = std::string(kThisBrokerPrincipal);
  CHECK(Access(on, forwarded).topic(AclOperation::CREATE, "t"));
  // The broker's principal means nothing outside an Envelope (no client can send one there).
  RequestContext pretender = client(std::string(kThisBrokerPrincipal));
  CHECK_FALSE(Access(on, pretender).topic(AclOperation::CREATE, "t"));
}

TEST_CASE("access: an envelope's principal survives the round trip in Kafka's form") {
  auto bytes = serialize_principal("User:alice");
  CHECK(deserialize_principal(bytes) == std::optional<std::string>("User:alice"));
  CHECK(deserialize_principal(serialize_principal(kThisBrokerPrincipal)) ==
        std::optional<std::string>(std::string(kThisBrokerPrincipal)));
  // Version 0, compact strings "User" and "alice", not token-authenticated, no tags.
  CHECK(bytes == std::vector<uint8_t>{0, 0, 5, 'U', 's', 'e', 'r', 6, 'a', 'l', 'i', 'c', 'e', 0, 0});
  CHECK_FALSE(deserialize_principal(std::vector<uint8_t>{0, 0, 5, 'U'}).has_value());
  CHECK_FALSE(deserialize_principal(std::vector<uint8_t>{0, 1, 1, 1, 0, 0}).has_value());
}
