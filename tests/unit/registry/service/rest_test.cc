// The REST API driven through the router as Confluent's API reference describes it: status
// codes and bodies of every endpoint, errors included.
#include <catch2/catch.hpp>

#include "registry/schema/schema.h"
#include "registry_test_util.h"

using namespace kb::registry;
using namespace kb::registry::test;

namespace {

struct Fixture {
  MemorySchemaLog log;
  Node node{log};
  HttpResponse call(std::string method, std::string target, std::string body = "") {
    return test::call(node.rest, std::move(method), std::move(target), std::move(body));
  }
  HttpResponse post(std::string target, std::string body) {
    return call("POST", std::move(target), std::move(body));
  }
  HttpResponse get(std::string target) { return call("GET", std::move(target)); }
  // Registers and returns the answer body (asserting 200).
  json reg(const std::string& subject, const std::string& body) {
    auto r = post("/subjects/" + subject + "/versions", body);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return body_of(r);
  }
};

// What the registry stores for a schema: the library's canonical form.
std::string canonical(SchemaType type, const std::string& text) {
  auto parsed = parse_schema(type, text, {}, [](const SchemaReference&) { return std::nullopt; });
  REQUIRE(std::holds_alternative<std::shared_ptr<const ParsedSchema>>(parsed));
  return std::get<std::shared_ptr<const ParsedSchema>>(parsed)->canonical();
}

void check_error(const HttpResponse& r, int status, int code, const std::string& message = "") {
  INFO(r.body);
  CHECK(r.status == status);
  CHECK(error_code(r) == code);
  if (!message.empty()) CHECK(body_of(r)["message"] == message);
}

const std::string kV1Schema = avro_record("r", {"a"});

}  // namespace

TEST_CASE("root, schema types, unknown paths and methods", "[registry][rest]") {
  Fixture f;
  auto root = f.get("/");
  CHECK(root.status == 200);
  CHECK(root.body == "{}");
  CHECK(root.content_type == "application/vnd.schemaregistry.v1+json");
  CHECK(body_of(f.get("/schemas/types")) == json::array({"JSON", "PROTOBUF", "AVRO"}));
  check_error(f.get("/nothing/here"), 404, 404, "HTTP 404 Not Found");
  check_error(f.call("PATCH", "/subjects"), 405, 405, "HTTP 405 Method Not Allowed");
  check_error(f.call("DELETE", "/schemas/types"), 405, 405);
}

TEST_CASE("register, read back by subject, version and id", "[registry][rest]") {
  Fixture f;
  const std::string stored = canonical(SchemaType::kAvro, kV1Schema);
  auto first = f.reg("orders-value", schema_body(kV1Schema));
  CHECK(first["id"] == 1);
  CHECK(first["version"] == 1);
  CHECK(first["schema"] == stored);
  CHECK_FALSE(first.contains("schemaType"));  // AVRO is the default clients assume

  SECTION("the same schema again is the same id and version") {
    auto again = f.reg("orders-value", schema_body(kV1Schema));
    CHECK(again["id"] == 1);
    CHECK(again["version"] == 1);
    CHECK(f.log.end_offset() == 1);  // nothing more written
  }
  SECTION("the same schema under another subject shares the id") {
    auto other = f.reg("payments-value", schema_body(kV1Schema));
    CHECK(other["id"] == 1);
    CHECK(other["version"] == 1);
    CHECK(
        body_of(f.get("/schemas/ids/1/versions")) ==
        json::parse(R"([{"subject":"orders-value","version":1},{"subject":"payments-value","version":1}])"));
    CHECK(body_of(f.get("/schemas/ids/1/subjects")) == json::parse(R"(["orders-value","payments-value"])"));
    auto by_subject = body_of(f.get("/schemas/ids/1?subject=payments-value"));
    CHECK(by_subject["subject"] == "payments-value");
    CHECK(by_subject["version"] == 1);
  }
  SECTION("reads") {
    CHECK(body_of(f.get("/subjects")) == json::array({"orders-value"}));
    CHECK(body_of(f.get("/subjects?subjectPrefix=pay")) == json::array());
    CHECK(body_of(f.get("/subjects/orders-value/versions")) == json::array({1}));
    for (const char* v : {"1", "latest", "-1", "LATEST"}) {
      auto r = body_of(f.get(std::string("/subjects/orders-value/versions/") + v));
      json expected = json::parse(R"({"subject":"orders-value","version":1,"id":1})");
      expected["schema"] = stored;
      CHECK(r == expected);
    }
    auto raw = f.get("/subjects/orders-value/versions/1/schema");
    CHECK(raw.status == 200);
    CHECK(raw.body == stored);
    auto by_id = body_of(f.get("/schemas/ids/1"));
    CHECK(by_id == json{{"schema", stored}});
    CHECK(f.get("/schemas/ids/1/schema").body == stored);
    auto all = body_of(f.get("/schemas"));
    REQUIRE(all.size() == 1);
    CHECK(all[0]["subject"] == "orders-value");
    CHECK(body_of(f.get("/subjects/orders-value/versions/1/referencedby")) == json::array());
  }
  SECTION("not found and invalid versions") {
    check_error(f.get("/subjects/nope/versions"), 404, 40401, "Subject 'nope' not found.");
    check_error(f.get("/subjects/nope/versions/1"), 404, 40401, "Subject 'nope' not found.");
    check_error(f.get("/subjects/orders-value/versions/9"), 404, 40402, "Version 9 not found.");
    check_error(
        f.get("/subjects/orders-value/versions/0"), 422, 42202,
        "The specified version '0' is not a valid version id. Allowed values are between [1, 2^31-1] and the "
        "string \"latest\"");
    check_error(f.get("/subjects/orders-value/versions/abc"), 422, 42202);
    check_error(f.get("/schemas/ids/99"), 404, 40403, "Schema 99 not found");
    check_error(f.get("/schemas/ids/99/versions"), 404, 40403, "Schema not found");
    check_error(f.get("/schemas/ids/abc"), 404, 404);
  }
  SECTION("lookup") {
    auto found = f.post("/subjects/orders-value", schema_body(kV1Schema));
    REQUIRE(found.status == 200);
    CHECK(body_of(found)["version"] == 1);
    CHECK(body_of(found)["id"] == 1);
    check_error(f.post("/subjects/orders-value", schema_body(avro_record("r", {"zz"}))), 404, 40403,
                "Schema not found");
    check_error(f.post("/subjects/nope", schema_body(kV1Schema)), 404, 40401, "Subject 'nope' not found.");
  }
}

TEST_CASE("a JSON schema keeps its type and gets the next id", "[registry][rest]") {
  Fixture f;
  f.reg("a", schema_body(kV1Schema));
  const std::string text = R"({"type":"object","properties":{"n":{"type":"number"}}})";
  auto r = f.reg("b", schema_body(text, "JSON"));
  CHECK(r["id"] == 2);
  CHECK(r["schemaType"] == "JSON");
  auto v = body_of(f.get("/subjects/b/versions/latest"));
  CHECK(v["schemaType"] == "JSON");
  CHECK(v["schema"] == canonical(SchemaType::kJson, text));
  CHECK(body_of(f.get("/schemas/ids/2"))["schemaType"] == "JSON");
}

TEST_CASE("malformed and invalid requests", "[registry][rest]") {
  Fixture f;
  check_error(f.post("/subjects/s/versions", "{not json"), 400, 400);
  check_error(f.post("/subjects/s/versions", "[1]"), 422, 422);
  check_error(f.post("/subjects/s/versions", R"({"schema": 5})"), 422, 422);
  check_error(f.post("/subjects/s/versions", R"({"schema": "\"int\"", "version": 99999999999})"), 422, 422);
  check_error(f.post("/subjects/s/versions", R"({"schema": "\"int\"", "references": [{"name": "a"}]})"), 422,
              422);
  check_error(f.post("/subjects/s/versions", R"({"schema": ""})"), 422, 42201, "Empty schema");
  check_error(f.post("/subjects/s/versions", R"({"schema": "{\"type\":\"record\"}"})"), 422, 42201);
  check_error(f.post("/subjects/s/versions", schema_body("{}", "XML")), 422, 42201,
              "Invalid schema type XML");
  check_error(f.post("/subjects/a%01b/versions", schema_body(kV1Schema)), 422, 42208,
              "The specified subject 'a\x01"
              "b' is not a valid.");
  check_error(test::call(f.node.rest, "POST", "/subjects/s/versions", schema_body(kV1Schema), "text/plain"),
              415, 415, "HTTP 415 Unsupported Media Type");
  // Confluent's other JSON media types, a charset parameter, or none at all are accepted.
  for (const char* type : {"application/json", "application/vnd.schemaregistry+json; charset=utf-8", ""}) {
    CHECK(test::call(f.node.rest, "POST", "/subjects/s/versions", schema_body(kV1Schema), type).status ==
          200);
  }
  CHECK(f.log.end_offset() == 1);
}

TEST_CASE("subject names are percent-decoded", "[registry][rest]") {
  Fixture f;
  f.reg("team%2Forders%20v", schema_body(kV1Schema));
  CHECK(body_of(f.get("/subjects")) == json::array({"team/orders v"}));
  CHECK(f.get("/subjects/team%2Forders%20v/versions/1").status == 200);
}

TEST_CASE("compatibility: registration refused with Confluent's message, checks with verbose",
          "[registry][rest]") {
  Fixture f;
  f.reg("s", schema_body(kV1Schema));
  // BACKWARD (the default): a new field needs a default.
  auto v2 = f.reg("s", schema_body(avro_record("r", {"a", "b"}, /*defaults=*/true)));
  CHECK(v2["version"] == 2);
  const std::string breaking = schema_body(avro_record("r", {"a", "b", "c"}));
  auto refused = f.post("/subjects/s/versions", breaking);
  CHECK(refused.status == 409);
  CHECK(error_code(refused) == 409);
  CHECK(body_of(refused)["message"].get<std::string>().rfind(
            "Schema being registered is incompatible with an earlier schema for subject \"s\", details: [",
            0) == 0);
  CHECK(f.node.registry.stats().compatibility_refusals == 1);

  auto check = f.post("/compatibility/subjects/s/versions/latest?verbose=true", breaking);
  REQUIRE(check.status == 200);
  CHECK(body_of(check)["is_compatible"] == false);
  CHECK_FALSE(body_of(check)["messages"].empty());
  CHECK(body_of(f.post("/compatibility/subjects/s/versions/latest", breaking)) ==
        json{{"is_compatible", false}});
  CHECK(body_of(f.post("/compatibility/subjects/s/versions", schema_body(kV1Schema))) ==
        json{{"is_compatible", true}});
  check_error(f.post("/compatibility/subjects/s/versions/7", breaking), 404, 40402, "Version 7 not found.");
  check_error(f.post("/compatibility/subjects/s/versions/x", breaking), 422, 42202);
  // A subject without versions is compatible with anything.
  CHECK(body_of(f.post("/compatibility/subjects/new/versions", breaking)) == json{{"is_compatible", true}});
  // An invalid schema: 42201, or with verbose a refusal naming why.
  check_error(f.post("/compatibility/subjects/s/versions", schema_body("{")), 422, 42201);
  auto verbose_invalid = body_of(f.post("/compatibility/subjects/s/versions?verbose=true", schema_body("{")));
  CHECK(verbose_invalid["is_compatible"] == false);
  CHECK(verbose_invalid["messages"].size() == 1);

  // NONE on the subject lets the breaking change in.
  CHECK(body_of(f.call("PUT", "/config/s", R"({"compatibility":"NONE"})")) ==
        json{{"compatibility", "NONE"}});
  CHECK(f.reg("s", breaking)["version"] == 3);
}

TEST_CASE("config: global and per subject, defaultToGlobal, delete", "[registry][rest]") {
  Fixture f;
  CHECK(body_of(f.get("/config")) == json{{"compatibilityLevel", "BACKWARD"}});
  CHECK(body_of(f.call("PUT", "/config", R"({"compatibility":"full"})")) == json{{"compatibility", "FULL"}});
  CHECK(body_of(f.get("/config")) == json{{"compatibilityLevel", "FULL"}});
  check_error(f.get("/config/s"), 404, 40408,
              "Subject 's' does not have subject-level compatibility configured");
  CHECK(body_of(f.get("/config/s?defaultToGlobal=true")) == json{{"compatibilityLevel", "FULL"}});
  CHECK(f.call("PUT", "/config/s", R"({"compatibility":"FORWARD_TRANSITIVE"})").status == 200);
  CHECK(body_of(f.get("/config/s")) == json{{"compatibilityLevel", "FORWARD_TRANSITIVE"}});
  check_error(
      f.call("PUT", "/config/s", R"({"compatibility":"SIDEWAYS"})"), 422, 42203,
      "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, "
      "forward_transitive, and full_transitive");
  check_error(f.call("PUT", "/config/s", R"({"compatibility":1})"), 422, 422);
  CHECK(body_of(f.call("DELETE", "/config/s")) == json{{"compatibilityLevel", "FORWARD_TRANSITIVE"}});
  check_error(f.call("DELETE", "/config/s"), 404, 40401, "Subject 's' not found.");
  CHECK(body_of(f.call("DELETE", "/config")) == json{{"compatibilityLevel", "FULL"}});
  CHECK(body_of(f.get("/config")) == json{{"compatibilityLevel", "BACKWARD"}});
  // What went to the log: Confluent's CONFIG keys and values, tombstones for the deletes.
  auto records = f.log.records();
  REQUIRE(records.size() == 4);
  CHECK(records[0].record ==
        LogRecord{R"({"keytype":"CONFIG","magic":0})", std::string(R"({"compatibilityLevel":"FULL"})")});
  CHECK(records[1].record ==
        LogRecord{R"({"keytype":"CONFIG","subject":"s","magic":0})",
                  std::string(R"({"subject":"s","compatibilityLevel":"FORWARD_TRANSITIVE"})")});
  CHECK(records[2].record == LogRecord{R"({"keytype":"CONFIG","subject":"s","magic":0})", std::nullopt});
  CHECK(records[3].record == LogRecord{R"({"keytype":"CONFIG","magic":0})", std::nullopt});
}

TEST_CASE("modes: READONLY refuses writes, IMPORT takes explicit ids and versions", "[registry][rest]") {
  Fixture f;
  CHECK(body_of(f.get("/mode")) == json{{"mode", "READWRITE"}});
  f.reg("s", schema_body(kV1Schema));

  SECTION("READONLY on a subject") {
    CHECK(body_of(f.call("PUT", "/mode/s", R"({"mode":"READONLY"})")) == json{{"mode", "READONLY"}});
    check_error(f.post("/subjects/s/versions", schema_body(avro_record("r", {"a", "b"}, true))), 422, 42205,
                "Subject s in context  is in read-only mode");
    check_error(f.call("DELETE", "/subjects/s"), 422, 42205);
    check_error(f.call("PUT", "/config/s", R"({"compatibility":"NONE"})"), 422, 42205);
    CHECK(f.post("/subjects/t/versions", schema_body(kV1Schema)).status == 200);
    CHECK(body_of(f.get("/mode/s")) == json{{"mode", "READONLY"}});
    check_error(f.get("/mode/t"), 404, 40409, "Subject 't' does not have subject-level mode configured");
    CHECK(body_of(f.get("/mode/t?defaultToGlobal=true")) == json{{"mode", "READWRITE"}});
    CHECK(body_of(f.call("DELETE", "/mode/s")) == json{{"mode", "READONLY"}});
    check_error(f.call("DELETE", "/mode/s"), 404, 40401);
    CHECK(f.post("/subjects/s/versions", schema_body(avro_record("r", {"a", "b"}, true))).status == 200);
  }
  SECTION("invalid modes") {
    check_error(f.call("PUT", "/mode", R"({"mode":"SOMETIMES"})"), 422, 42204);
    check_error(f.call("PUT", "/mode", R"({})"), 422, 42204);
  }
  SECTION("IMPORT") {
    check_error(f.call("PUT", "/mode", R"({"mode":"IMPORT"})"), 422, 42205,
                "Cannot import since found existing subjects");
    check_error(f.post("/subjects/s/versions", R"({"schema":"\"int\"","id":50,"version":1})"), 422, 42205,
                "Subject s in context  is not in import mode");
    CHECK(body_of(f.call("PUT", "/mode?force=true", R"({"mode":"import"})")) == json{{"mode", "import"}});
    auto imported = f.reg("imported", R"({"schema":"\"int\"","id":100,"version":5})");
    CHECK(imported["id"] == 100);
    CHECK(imported["version"] == 5);
    CHECK(body_of(f.get("/schemas/ids/100"))["schema"] == canonical(SchemaType::kAvro, "\"int\""));
    check_error(f.post("/subjects/x/versions", schema_body("\"long\"")), 422, 42205,
                "Subject x in context  is not in read-write mode");
    check_error(f.post("/subjects/x/versions", R"({"schema":"\"long\"","id":100})"), 422, 42205,
                "Overwrite new schema with id 100 in context  is not permitted.");
    CHECK(f.call("PUT", "/mode", R"({"mode":"READWRITE"})").status == 200);
    CHECK(f.reg("after", schema_body("\"double\""))["id"] == 101);  // next id = max + 1
  }
}

TEST_CASE("IMPORT mode on an empty registry, and on a subject whose versions are soft-deleted",
          "[registry][rest]") {
  Fixture f;
  CHECK(f.call("PUT", "/mode", R"({"mode":"IMPORT"})").status == 200);
  CHECK(f.call("PUT", "/mode", R"({"mode":"READWRITE"})").status == 200);
  f.reg("s", schema_body(kV1Schema));
  CHECK(f.call("DELETE", "/subjects/s").status == 200);
  CHECK(f.call("PUT", "/mode/s", R"({"mode":"IMPORT"})").status == 200);
  // The soft-deleted version went for good (tombstone), then CLEAR_SUBJECT, then the mode.
  auto records = f.log.records();
  REQUIRE(records.size() >= 3);
  CHECK(records[records.size() - 3].record.key == encode_key(RecordKey::schema("s", 1)));
  CHECK_FALSE(records[records.size() - 3].record.value);
  CHECK(records[records.size() - 2].record.key == encode_key(RecordKey::clear_subject("s")));
  CHECK(records.back().record ==
        LogRecord{encode_key(RecordKey::mode("s")), std::string(R"({"subject":"s","mode":"IMPORT"})")});
  check_error(f.get("/subjects/s/versions?deleted=true"), 404, 40401);
}

TEST_CASE("soft then permanent delete of versions and subjects", "[registry][rest]") {
  Fixture f;
  f.reg("s", schema_body(kV1Schema));
  f.reg("s", schema_body(avro_record("r", {"a", "b"}, true)));
  f.reg("s", schema_body(avro_record("r", {"a", "b", "c"}, true)));

  check_error(f.call("DELETE", "/subjects/s/versions/1?permanent=true"), 404, 40407,
              "Subject 's' Version 1 was not deleted first before being permanently deleted");
  CHECK(body_of(f.call("DELETE", "/subjects/s/versions/1")) == 1);
  check_error(f.call("DELETE", "/subjects/s/versions/1"), 404, 40406,
              "Subject 's' Version 1 was soft deleted.Set permanent=true to delete permanently");
  CHECK(body_of(f.get("/subjects/s/versions")) == json::array({2, 3}));
  CHECK(body_of(f.get("/subjects/s/versions?deleted=true")) == json::array({1, 2, 3}));
  CHECK(body_of(f.get("/subjects/s/versions?deletedOnly=true")) == json::array({1}));
  check_error(f.get("/subjects/s/versions/1"), 404, 40402);
  CHECK(f.get("/subjects/s/versions/1?deleted=true").status == 200);
  CHECK(f.get("/schemas/ids/1").status == 200);  // the id still decodes data
  CHECK(body_of(f.get("/schemas/ids/1/versions")) == json::array());
  CHECK(body_of(f.get("/schemas/ids/1/versions?deleted=true")).size() == 1);
  CHECK(body_of(f.call("DELETE", "/subjects/s/versions/1?permanent=true")) == 1);
  CHECK(body_of(f.get("/subjects/s/versions?deleted=true")) == json::array({2, 3}));
  check_error(f.get("/schemas/ids/1"), 404, 40403);
  check_error(f.call("DELETE", "/subjects/s/versions/9"), 404, 40402, "Version 9 not found.");
  check_error(f.call("DELETE", "/subjects/nope/versions/1"), 404, 40401);

  CHECK(body_of(f.call("DELETE", "/subjects/s/versions/latest")) == 3);
  check_error(f.call("DELETE", "/subjects/s?permanent=true"), 404, 40405,
              "Subject 's' was not deleted first before being permanently deleted");
  CHECK(body_of(f.call("DELETE", "/subjects/s")) == json::array({2}));
  check_error(f.call("DELETE", "/subjects/s"), 404, 40404,
              "Subject 's' was soft deleted.Set permanent=true to delete permanently");
  CHECK(body_of(f.get("/subjects")) == json::array());
  CHECK(body_of(f.get("/subjects?deleted=true")) == json::array({"s"}));
  CHECK(body_of(f.get("/subjects?deletedOnly=true")) == json::array({"s"}));
  auto records = f.log.records();
  CHECK(records.back().record == LogRecord{R"({"keytype":"DELETE_SUBJECT","subject":"s","magic":0})",
                                           std::string(R"({"subject":"s","version":2})")});

  CHECK(body_of(f.call("DELETE", "/subjects/s?permanent=true")) == json::array({2, 3}));
  check_error(f.get("/subjects/s/versions?deleted=true"), 404, 40401);
  check_error(f.call("DELETE", "/subjects/s"), 404, 40401);
  // Permanent deletes are tombstones on the versions' keys, newest first.
  records = f.log.records();
  CHECK(records[records.size() - 2].record == LogRecord{encode_key(RecordKey::schema("s", 3)), std::nullopt});
  CHECK(records.back().record == LogRecord{encode_key(RecordKey::schema("s", 2)), std::nullopt});
  // Everything gone: the subject starts over at version 1, with a new id.
  auto again = f.reg("s", schema_body(kV1Schema));
  CHECK(again["version"] == 1);
  CHECK(again["id"] == 4);
}

TEST_CASE("a schema registered again after a soft delete keeps its id under a new version",
          "[registry][rest]") {
  Fixture f;
  f.reg("s", schema_body(kV1Schema));
  CHECK(f.call("DELETE", "/subjects/s/versions/1").status == 200);
  auto again = f.reg("s", schema_body(kV1Schema));
  CHECK(again["id"] == 1);
  CHECK(again["version"] == 2);
  // The soft-deleted version with the same id was tombstoned in the same batch (Confluent's rule).
  auto records = f.log.records();
  REQUIRE(records.size() == 4);
  CHECK(records[2].record == LogRecord{encode_key(RecordKey::schema("s", 1)), std::nullopt});
  CHECK(body_of(f.get("/subjects/s/versions?deleted=true")) == json::array({2}));
}

TEST_CASE("references: referencedby and deletes held back by referrers", "[registry][rest]") {
  Fixture f;
  const std::string base =
      R"({"type":"record","name":"Base","namespace":"com.x","fields":[{"name":"a","type":"int"}]})";
  f.reg("base", schema_body(base));
  json user;
  user["schema"] =
      R"({"type":"record","name":"User","namespace":"com.x","fields":[{"name":"b","type":"com.x.Base"}]})";
  user["references"] = json::parse(R"([{"name":"com.x.Base","subject":"base","version":1}])");
  auto r = f.reg("user", user.dump());
  CHECK(r["id"] == 2);
  CHECK(r["references"] == user["references"]);
  CHECK(body_of(f.get("/subjects/base/versions/1/referencedby")) == json::array({2}));
  CHECK(body_of(f.get("/schemas/ids/2"))["references"] == user["references"]);
  check_error(f.call("DELETE", "/subjects/base/versions/1"), 422, 42206,
              "One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=base,version=1}.");
  check_error(f.call("DELETE", "/subjects/base"), 422, 42206);
  // A reference to a version that does not exist is an invalid schema.
  user["references"] = json::parse(R"([{"name":"com.x.Base","subject":"base","version":9}])");
  check_error(f.post("/subjects/user2/versions", user.dump()), 422, 42201);
}

TEST_CASE("normalize stores the normalized form", "[registry][rest]") {
  Fixture f;
  const std::string text = R"({"type":"object","properties":{"b":{"type":"string"},"a":{"type":"number"}}})";
  auto parsed =
      parse_schema(SchemaType::kJson, text, {}, [](const SchemaReference&) { return std::nullopt; });
  REQUIRE(std::holds_alternative<std::shared_ptr<const ParsedSchema>>(parsed));
  auto reply = f.post("/subjects/s/versions?normalize=true", schema_body(text, "JSON"));
  REQUIRE(reply.status == 200);
  auto r = body_of(reply);
  CHECK(r["schema"] == std::get<std::shared_ptr<const ParsedSchema>>(parsed)->normalized());
  // Looking it up with normalize finds it.
  CHECK(f.post("/subjects/s?normalize=true", schema_body(text, "JSON")).status == 200);
}

TEST_CASE("content negotiation, authentication and metrics", "[registry][rest]") {
  Fixture f;
  auto slot = std::make_shared<std::optional<HttpResponse>>();
  f.node.rest.handle(HttpRequest{"GET", "/subjects", "", "", "application/json", ""},
                     [slot](HttpResponse r) { *slot = std::move(r); });
  REQUIRE(slot->has_value());
  CHECK((*slot)->content_type == "application/json");

  struct Refuse : Authenticator {
    AuthDecision authenticate(std::string_view header) override {
      AuthDecision d;
      d.allowed = header == "Basic dTpw";
      d.message = "Unauthorized";
      d.challenge = "Basic realm=\"SchemaRegistry\"";
      return d;
    }
  } refuse;
  Rest guarded(f.node.registry, refuse, &f.node.metrics);
  auto denied = call(guarded, "GET", "/subjects");
  check_error(denied, 401, 401, "Unauthorized");
  REQUIRE(denied.headers.size() == 1);
  CHECK(denied.headers[0] ==
        std::make_pair(std::string("WWW-Authenticate"), std::string("Basic realm=\"SchemaRegistry\"")));
  guarded.handle(HttpRequest{"GET", "/subjects", "Basic dTpw", "", "", ""},
                 [slot](HttpResponse r) { *slot = r; });
  CHECK((*slot)->status == 200);

  f.reg("s", schema_body(kV1Schema));
  f.get("/nowhere");
  CHECK(f.node.metrics.count("POST /subjects/{subject}/versions", 200) == 1);
  CHECK(f.node.metrics.count("GET /subjects", 200) == 2);
  CHECK(f.node.metrics.count("GET /subjects", 401) == 1);
  CHECK(f.node.metrics.count("unmatched", 404) == 1);
  auto stats = f.node.registry.stats();
  CHECK(stats.subjects == 1);
  CHECK(stats.versions_by_type[SchemaType::kAvro] == 1);
}

TEST_CASE("PROTOBUF schemas: imports as references, the serialized format", "[registry][rest]") {
  Fixture f;
  const std::string common = "syntax = \"proto3\";\npackage acme;\nmessage Money {\n  int64 units = 1;\n}\n";
  const std::string order =
      "syntax = \"proto3\";\npackage acme;\nimport \"money.proto\";\nmessage Order {\n  string id = 1;\n  "
      "acme.Money total = 2;\n}\n";
  auto money = f.reg("money", schema_body(common, "PROTOBUF"));
  CHECK(money["schemaType"] == "PROTOBUF");
  json body;
  body["schema"] = order;
  body["schemaType"] = "PROTOBUF";
  body["references"] = json::parse(R"([{"name":"money.proto","subject":"money","version":1}])");
  auto r = f.reg("orders-value", body.dump());
  CHECK(r["id"] == 2);
  CHECK(body_of(f.get("/subjects/money/versions/1/referencedby")) == json::array({2}));
  auto serialized = body_of(f.get("/schemas/ids/2?format=serialized"));
  CHECK(serialized["schemaType"] == "PROTOBUF");
  CHECK(serialized["schema"] != body_of(f.get("/schemas/ids/2"))["schema"]);
  // The same .proto again is the same version; a removed field under BACKWARD is refused.
  CHECK(f.reg("orders-value", body.dump())["version"] == 1);
  body["schema"] =
      "syntax = \"proto3\";\npackage acme;\nimport \"money.proto\";\nmessage Order {\n  int32 id = 1;\n}\n";
  CHECK(f.post("/subjects/orders-value/versions", body.dump()).status == 409);
}
