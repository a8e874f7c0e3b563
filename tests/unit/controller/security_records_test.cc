// SCRAM credentials and ACLs in the metadata log: the records' round trip, the image and delta
// (refusing records that contradict it), snapshots, the controller's validation (Kafka's
// AclControlManager and ScramControlManager rules), bootstrap.scram.users and restarts.
#include <catch2/catch.hpp>

#include "config/scram_users.h"
#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;
using security::AclBinding;
using security::ScramMechanism;

namespace {

AclBinding acl(std::string principal, std::string topic, security::AclOperation op = security::AclOperation::READ,
               security::PatternType pattern = security::PatternType::LITERAL) {
  AclBinding b;
  b.resource_type = security::ResourceType::TOPIC;
  b.resource_name = std::move(topic);
  b.pattern_type = pattern;
  b.principal = std::move(principal);
  b.operation = op;
  return b;
}

ScramUpsertion upsert(std::string user, ScramMechanism m, const std::string& password, int32_t iterations = 4096) {
  std::string salt = "salt-of-" + user;
  return ScramUpsertion{user, static_cast<int8_t>(m), iterations, salt,
                        security::salted_password(m, password, salt, iterations)};
}

std::map<std::string, ErrorCode> errors_by_user(const std::vector<ScramAlterResult>& results) {
  std::map<std::string, ErrorCode> out;
  for (const auto& r : results) out[r.user] = r.error;
  return out;
}

}  // namespace

TEST_CASE("security records keep every field through encode and decode") {
  metadata::UserScramCredentialRecord s;
  s.name = "alice";
  s.mechanism = 2;
  s.salt = {1, 2, 3};
  s.stored_key = {4, 5};
  s.server_key = {6};
  s.iterations = 8192;
  metadata::AccessControlEntryRecord a = acl_record(Uuid::random(), acl("User:bob", "orders"));
  for (const MetadataRecord& r : std::vector<MetadataRecord>{s, a}) {
    auto back = decode_record(encode_record(r));
    REQUIRE(back.ok());
    CHECK(back.value() == r);
  }
  CHECK(record_type(MetadataRecord(s)) == 11);
  CHECK(record_type(MetadataRecord(a)) == 18);
  CHECK(record_type(MetadataRecord(metadata::RemoveAccessControlEntryRecord{})) == 19);
  CHECK(record_type(MetadataRecord(metadata::RemoveUserScramCredentialRecord{})) == 22);
}

TEST_CASE("the image keeps credentials and ACLs, refuses contradictions, and snapshots them") {
  MetadataImage img;
  auto cred = security::make_credential(ScramMechanism::SHA_256, "pw", "salt", 4096);
  REQUIRE(img.apply(scram_record("alice", ScramMechanism::SHA_256, cred)).ok());
  CHECK(img.scram_credential(ScramMechanism::SHA_256, "alice") == cred);
  CHECK_FALSE(img.scram_credential(ScramMechanism::SHA_512, "alice"));
  CHECK_FALSE(img.scram_credential(ScramMechanism::SHA_256, "bob"));

  const Uuid id = Uuid::random();
  REQUIRE(img.apply(acl_record(id, acl("User:bob", "orders"))).ok());
  CHECK_FALSE(img.apply(acl_record(id, acl("User:carol", "orders"))).ok());  // the same id twice
  CHECK_FALSE(img.apply(acl_record(Uuid::random(), acl("bob", "orders"))).ok());  // invalid principal
  REQUIRE(img.acls().size() == 1);
  CHECK(img.acls()[0] == acl("User:bob", "orders"));

  // A snapshot of the image rebuilds it.
  MetadataImage copy;
  for (const auto& r : img.to_records()) REQUIRE(copy.apply(r).ok());
  CHECK(copy.scram_credentials() == img.scram_credentials());
  CHECK(copy.acls_by_id() == img.acls_by_id());

  metadata::RemoveUserScramCredentialRecord rs;
  rs.name = "alice";
  rs.mechanism = static_cast<int8_t>(ScramMechanism::SHA_512);
  CHECK_FALSE(img.apply(rs).ok());  // not there
  rs.mechanism = static_cast<int8_t>(ScramMechanism::SHA_256);
  REQUIRE(img.apply(rs).ok());
  CHECK(img.scram_credentials().empty());
  metadata::RemoveAccessControlEntryRecord ra;
  ra.id = id;
  REQUIRE(img.apply(ra).ok());
  CHECK_FALSE(img.apply(ra).ok());
  CHECK(img.acls().empty());
}

TEST_CASE("a delta says whether ACLs or credentials changed") {
  auto before = std::make_shared<MetadataImage>();
  auto after = std::make_shared<MetadataImage>(*before);
  MetadataRecord r = acl_record(Uuid::random(), acl("User:bob", "orders"));
  REQUIRE(after->apply(r).ok());
  MetadataDelta d(before, after, {r});
  CHECK(d.acls_changed());
  CHECK_FALSE(d.scram_changed());
  auto between = MetadataDelta::between(before, after);
  CHECK(between.acls_changed());
  CHECK_FALSE(MetadataDelta::between(after, after).acls_changed());
}

TEST_CASE("the controller creates, deduplicates and deletes ACLs as Kafka does") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto read_orders = acl("User:alice", "orders");
  auto write_logs = acl("User:bob", "logs-", security::AclOperation::WRITE, security::PatternType::PREFIXED);
  AclBinding cluster_named_wrong = acl("User:alice", "c");
  cluster_named_wrong.resource_type = security::ResourceType::CLUSTER;
  auto created = n.ctl->create_acls({read_orders, write_logs, read_orders, acl("alice", "t"), cluster_named_wrong});
  REQUIRE(created.size() == 5);
  CHECK(created[0].ok());
  CHECK(created[1].ok());
  CHECK(created[2].ok());  // the same binding again: stored once, still a success
  CHECK(created[3].code() == ErrorCode::INVALID_REQUEST);
  CHECK(created[4].code() == ErrorCode::INVALID_REQUEST);
  CHECK(n.ctl->image()->acls().size() == 2);
  CHECK(n.ctl->create_acls({read_orders})[0].ok());
  CHECK(n.ctl->image()->acls().size() == 2);

  security::AclBindingFilter by_alice;
  by_alice.principal = "User:alice";
  security::AclBindingFilter topics;
  topics.resource_type = security::ResourceType::TOPIC;
  security::AclBindingFilter unknown;
  unknown.operation = security::AclOperation::UNKNOWN;
  auto deleted = n.ctl->delete_acls({by_alice, topics, unknown});
  REQUIRE(deleted.size() == 3);
  CHECK(deleted[0].deleted == std::vector<AclBinding>{read_orders});
  CHECK(deleted[1].deleted.size() == 2);  // alice's listed again: matched by both filters
  CHECK(deleted[2].error == ErrorCode::INVALID_REQUEST);
  CHECK(n.ctl->image()->acls().empty());
}

TEST_CASE("AlterUserScramCredentials follows Kafka's rules") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto ok = n.ctl->alter_scram_credentials({}, {upsert("alice", ScramMechanism::SHA_512, "alice-pw", 8192)});
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].error == ErrorCode::NONE);
  auto stored = n.ctl->image()->scram_credential(ScramMechanism::SHA_512, "alice");
  REQUIRE(stored);
  CHECK(*stored == security::make_credential(ScramMechanism::SHA_512, "alice-pw", "salt-of-alice", 8192));

  auto few = upsert("few", ScramMechanism::SHA_256, "x");
  few.iterations = 4095;
  auto many = upsert("many", ScramMechanism::SHA_256, "x");
  many.iterations = 16385;
  auto odd = upsert("odd", ScramMechanism::SHA_256, "x");
  odd.mechanism = 3;
  auto results = n.ctl->alter_scram_credentials(
      {{"ghost", 1}, {"twice", 1}},
      {few, many, odd, upsert("", ScramMechanism::SHA_256, "x"), upsert("twice", ScramMechanism::SHA_256, "x")});
  CHECK(errors_by_user(results) == std::map<std::string, ErrorCode>{{"ghost", ErrorCode::RESOURCE_NOT_FOUND},
                                                                    {"twice", ErrorCode::DUPLICATE_RESOURCE},
                                                                    {"few", ErrorCode::UNACCEPTABLE_CREDENTIAL},
                                                                    {"many", ErrorCode::UNACCEPTABLE_CREDENTIAL},
                                                                    {"odd", ErrorCode::UNSUPPORTED_SASL_MECHANISM},
                                                                    {"", ErrorCode::UNACCEPTABLE_CREDENTIAL}});
  CHECK(results[0].user == "ghost");  // in the order first named
  CHECK(n.ctl->image()->scram_credentials().size() == 1);

  auto removed = n.ctl->alter_scram_credentials({{"alice", static_cast<int8_t>(ScramMechanism::SHA_512)}}, {});
  CHECK(removed[0].error == ErrorCode::NONE);
  CHECK(n.ctl->image()->scram_credentials().empty());
}

TEST_CASE("bootstrap.scram.users are written into a new cluster and survive restarts with the ACLs") {
  TempDir t;
  const std::string extra = "bootstrap.scram.users: 'SCRAM-SHA-256=[name=admin,password=admin-secret] "
                            "SCRAM-SHA-512=[name=admin,password=other,iterations=8192]'\n";
  {
    Node n(t.path, extra);
    REQUIRE(n.opened.ok());
    auto c = n.ctl->image()->scram_credential(ScramMechanism::SHA_256, "admin");
    REQUIRE(c);
    CHECK(*c == security::make_credential(ScramMechanism::SHA_256, "admin-secret", c->salt, 4096));
    REQUIRE(n.ctl->image()->scram_credential(ScramMechanism::SHA_512, "admin"));
    CHECK(n.ctl->image()->scram_credential(ScramMechanism::SHA_512, "admin")->iterations == 8192);
    REQUIRE(n.ctl->create_acls({acl("User:alice", "orders")})[0].ok());
    REQUIRE(n.ctl->alter_scram_credentials({{"admin", static_cast<int8_t>(ScramMechanism::SHA_512)}}, {})[0].error ==
            ErrorCode::NONE);
  }
  Node again(t.path, extra);  // not a new cluster: the removed credential stays removed
  REQUIRE(again.opened.ok());
  CHECK(again.ctl->image()->scram_credential(ScramMechanism::SHA_256, "admin"));
  CHECK_FALSE(again.ctl->image()->scram_credential(ScramMechanism::SHA_512, "admin"));
  CHECK(again.ctl->image()->acls() == std::vector<AclBinding>{acl("User:alice", "orders")});
}

TEST_CASE("bootstrap.scram.users reads kafka-storage's --add-scram syntax and refuses mistakes") {
  auto users = config::parse_scram_users(
      "SCRAM-SHA-256=[name=admin,password=admin-secret]; SCRAM-SHA-512=[name=app,password=p=w,iterations=16384]");
  REQUIRE(users.ok());
  CHECK(users.value() == std::vector<config::ScramUserSpec>{{"SCRAM-SHA-256", "admin", "admin-secret", 4096},
                                                            {"SCRAM-SHA-512", "app", "p=w", 16384}});
  CHECK(config::parse_scram_users("").ok());
  for (const char* bad : {"SCRAM-SHA-1=[name=a,password=b]", "SCRAM-SHA-256=[password=b]",
                          "SCRAM-SHA-256=[name=a]", "SCRAM-SHA-256=[name=a,password=b,iterations=100]",
                          "SCRAM-SHA-256=[name=a,password=b,salt=c]", "SCRAM-SHA-256=[name=a,password=b",
                          "SCRAM-SHA-256=[name=a,password=b] SCRAM-SHA-256=[name=a,password=c]", "admin"}) {
    INFO(bad);
    auto r = config::parse_scram_users(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::INVALID_CONFIG);
  }
  CHECK_THROWS(kb::config::BrokerConfig::from_yaml("node.id: 1\nbootstrap.scram.users: 'SCRAM-SHA-1=[name=a]'\n"));
}
