// Client quotas in the controller: ClientQuotaRecord on the log and in the image (and its
// snapshot), Kafka's validation of AlterClientQuotas entries and its DescribeClientQuotas
// filter, and the controller writing them durably.
#include <catch2/catch.hpp>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

metadata::ClientQuotaRecord quota_record(std::vector<QuotaEntityPart> entity, std::string key, double value,
                                         bool remove = false) {
  metadata::ClientQuotaRecord r;
  for (auto& p : entity) {
    auto& e = r.entity.emplace_back();
    e.entity_type = p.type;
    e.entity_name = p.name;
  }
  r.key = std::move(key);
  r.value = value;
  r.remove = remove;
  return r;
}

QuotaEntityPart user(std::optional<std::string> name) { return {"user", std::move(name)}; }
QuotaEntityPart client(std::optional<std::string> name) { return {"client-id", std::move(name)}; }

ClientQuotaEntity entity(std::vector<QuotaEntityPart> parts) { return make_quota_entity(std::move(parts)).value(); }

}  // namespace

TEST_CASE("ClientQuotaRecord keeps Kafka's type id and survives encoding, a null name included") {
  auto r = quota_record({user("alice"), client(std::nullopt)}, "producer_byte_rate", 1048576);
  MetadataRecord rec = r;
  CHECK(record_type(rec) == 14);
  CHECK(record_name(rec) == "ClientQuotaRecord");
  auto back = decode_record(encode_record(rec));
  REQUIRE(back.ok());
  CHECK(back.value() == rec);
}

TEST_CASE("quota records set and remove values; an entity without values disappears") {
  MetadataImage img;
  REQUIRE(img.apply(quota_record({user("alice")}, "producer_byte_rate", 1000)).ok());
  // Parts in any order name the same entity.
  REQUIRE(img.apply(quota_record({client("app"), user("alice")}, "consumer_byte_rate", 2000)).ok());
  REQUIRE(img.apply(quota_record({user("alice"), client("app")}, "producer_byte_rate", 3000)).ok());
  const auto& q = img.client_quotas();
  REQUIRE(q.size() == 2);
  CHECK(q.at(entity({user("alice")})).at("producer_byte_rate") == 1000);
  CHECK(q.at(entity({user("alice"), client("app")})).at("consumer_byte_rate") == 2000);
  CHECK(q.at(entity({user("alice"), client("app")})).at("producer_byte_rate") == 3000);
  REQUIRE(img.apply(quota_record({user("alice")}, "producer_byte_rate", 0, true)).ok());
  CHECK(img.client_quotas().count(entity({user("alice")})) == 0);
  // Removing what is not there is no error (Kafka's image ignores it too).
  REQUIRE(img.apply(quota_record({user("bob")}, "producer_byte_rate", 0, true)).ok());

  MetadataImage rebuilt;
  for (const auto& r : img.to_records()) REQUIRE(rebuilt.apply(r).ok());
  CHECK(rebuilt.client_quotas() == img.client_quotas());
}

TEST_CASE("a delta says when client quotas changed") {
  auto before = std::make_shared<MetadataImage>();
  auto after = std::make_shared<MetadataImage>();
  auto r = quota_record({user(std::nullopt)}, "request_percentage", 50);
  REQUIRE(after->apply(r).ok());
  CHECK(MetadataDelta(before, after, {r}).client_quotas_changed());
  CHECK(MetadataDelta::between(before, after).client_quotas_changed());
  CHECK_FALSE(MetadataDelta::between(after, after).client_quotas_changed());
}

TEST_CASE("quota entities and values are checked as Kafka checks them") {
  CHECK(make_quota_entity({}).code() == ErrorCode::INVALID_REQUEST);
  CHECK(make_quota_entity({user("a"), user("b")}).code() == ErrorCode::INVALID_REQUEST);
  CHECK(make_quota_entity({{"group", "g"}}).code() == ErrorCode::UNSUPPORTED_VERSION);
  CHECK(make_quota_entity({user("")}).code() == ErrorCode::INVALID_REQUEST);
  CHECK(make_quota_entity({{"ip", "10.0.0.1"}, user("a")}).code() == ErrorCode::INVALID_REQUEST);
  REQUIRE(make_quota_entity({{"ip", std::nullopt}}).ok());

  auto alice = entity({user("alice")});
  CHECK(check_quota_op(alice, "producer_byte_rate", 1024, false).ok());
  CHECK(check_quota_op(alice, "request_percentage", 12.5, false).ok());
  CHECK(check_quota_op(alice, "controller_mutation_rate", 0.5, false).ok());
  auto bad_key = check_quota_op(alice, "bytes_per_second", 10, false);
  CHECK(bad_key.code() == ErrorCode::INVALID_REQUEST);
  CHECK(bad_key.error().message == "Invalid configuration key bytes_per_second");
  CHECK(check_quota_op(alice, "producer_byte_rate", 0, false).code() == ErrorCode::INVALID_REQUEST);
  CHECK(check_quota_op(alice, "producer_byte_rate", 10.5, false).code() == ErrorCode::INVALID_REQUEST);
  CHECK(check_quota_op(alice, "producer_byte_rate", 0, true).ok());  // a removal checks the key only
  // ip entities take connection_creation_rate and nothing else.
  auto ip = entity({{"ip", "10.0.0.1"}});
  CHECK(check_quota_op(ip, "connection_creation_rate", 10, false).ok());
  CHECK(check_quota_op(ip, "producer_byte_rate", 10, false).code() == ErrorCode::INVALID_REQUEST);
  CHECK(check_quota_op(alice, "connection_creation_rate", 10, false).code() == ErrorCode::INVALID_REQUEST);
}

TEST_CASE("the describe filter matches exact names, defaults and any name; strict leaves out wider entities") {
  ClientQuotaMap q;
  q[entity({user("alice")})]["producer_byte_rate"] = 1;
  q[entity({user("alice"), client("app")})]["producer_byte_rate"] = 2;
  q[entity({user(std::nullopt)})]["producer_byte_rate"] = 3;
  q[entity({client(std::nullopt)})]["consumer_byte_rate"] = 4;
  auto count = [&](std::vector<QuotaFilterPart> f, bool strict) {
    auto r = describe_client_quotas(q, f, strict);
    REQUIRE(r.ok());
    return r->size();
  };
  CHECK(count({{"user", 0, "alice"}}, false) == 2);
  CHECK(count({{"user", 0, "alice"}}, true) == 1);
  CHECK(count({{"user", 1, std::nullopt}}, false) == 1);
  CHECK(count({{"user", 2, std::nullopt}}, false) == 2);   // named users only
  CHECK(count({{"client-id", 1, std::nullopt}}, true) == 1);
  CHECK(count({}, false) == 4);
  CHECK(count({}, true) == 0);
  CHECK(describe_client_quotas(q, {{"user", 0, std::nullopt}}, false).code() == ErrorCode::INVALID_REQUEST);
  CHECK(describe_client_quotas(q, {{"user", 1, "x"}}, false).code() == ErrorCode::INVALID_REQUEST);
  CHECK(describe_client_quotas(q, {{"user", 7, std::nullopt}}, false).code() == ErrorCode::UNSUPPORTED_VERSION);
  CHECK(describe_client_quotas(q, {{"topic", 2, std::nullopt}}, false).code() == ErrorCode::UNSUPPORTED_VERSION);
  CHECK(describe_client_quotas(q, {{"user", 2, std::nullopt}, {"user", 1, std::nullopt}}, false).code() ==
        ErrorCode::INVALID_REQUEST);
  CHECK(describe_client_quotas(q, {{"ip", 2, std::nullopt}, {"user", 1, std::nullopt}}, false).code() ==
        ErrorCode::INVALID_REQUEST);
}

TEST_CASE("the controller writes quota changes durably, per entry, and validate_only writes nothing") {
  TempDir t;
  {
    Node n(t.path);
    REQUIRE(n.opened.ok());
    std::vector<ClientQuotaAlteration> entries = {
        {{user("alice")}, {{"producer_byte_rate", 1024, false}, {"consumer_byte_rate", 2048, false}}},
        {{client("app")}, {{"no_such_key", 1, false}}},
        {{user("bob")}, {{"producer_byte_rate", 5, false}, {"producer_byte_rate", 6, false}}},
    };
    auto results = n.ctl->alter_client_quotas(entries, false);
    REQUIRE(results.size() == 3);
    CHECK(results[0].ok());
    CHECK(results[1].code() == ErrorCode::INVALID_REQUEST);
    CHECK(results[2].code() == ErrorCode::INVALID_REQUEST);
    auto dry = n.ctl->alter_client_quotas({{{client("app")}, {{"producer_byte_rate", 7, false}}}}, true);
    CHECK(dry[0].ok());
    const auto& q = n.ctl->image()->client_quotas();
    REQUIRE(q.size() == 1);
    CHECK(q.at(entity({user("alice")})).size() == 2);
    auto removed = n.ctl->alter_client_quotas({{{user("alice")}, {{"consumer_byte_rate", 0, true}}}}, false);
    CHECK(removed[0].ok());
  }
  Node again(t.path);
  REQUIRE(again.opened.ok());
  const auto& q = again.ctl->image()->client_quotas();
  REQUIRE(q.size() == 1);
  CHECK(q.at(entity({user("alice")})) == ClientQuotaValues{{"producer_byte_rate", 1024}});
}
