// The _schemas record format: what we write is byte for byte what Confluent's Jackson mapper
// writes, and we read what Confluent and Karapace write.
#include "registry/records.h"

#include <catch2/catch.hpp>

using namespace kb::registry;

TEST_CASE("record keys are written as Confluent writes them", "[registry][records]") {
  CHECK(encode_key(RecordKey::schema("orders-value", 3)) ==
        R"({"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1})");
  CHECK(encode_key(RecordKey::config("orders-value")) ==
        R"({"keytype":"CONFIG","subject":"orders-value","magic":0})");
  CHECK(encode_key(RecordKey::config(std::nullopt)) == R"({"keytype":"CONFIG","magic":0})");
  CHECK(encode_key(RecordKey::mode("s")) == R"({"keytype":"MODE","subject":"s","magic":0})");
  CHECK(encode_key(RecordKey::mode(std::nullopt)) == R"({"keytype":"MODE","magic":0})");
  CHECK(encode_key(RecordKey::delete_subject("s")) ==
        R"({"keytype":"DELETE_SUBJECT","subject":"s","magic":0})");
  CHECK(encode_key(RecordKey::clear_subject("s")) ==
        R"({"keytype":"CLEAR_SUBJECT","subject":"s","magic":0})");
  CHECK(encode_key(RecordKey::noop()) == R"({"keytype":"NOOP","magic":0})");
}

TEST_CASE("record values are written as Confluent writes them", "[registry][records]") {
  SchemaValue avro{"test", 1, 1, SchemaType::kAvro, {}, R"({"type":"string"})", false};
  CHECK(
      encode_value(avro) ==
      R"({"subject":"test","version":1,"id":1,"schemaType":"AVRO","schema":"{\"type\":\"string\"}","deleted":false})");
  SchemaValue json_schema{"s", 2, 7, SchemaType::kJson, {{"other.json", "other", 1}}, R"({"type":"object"})",
                          true};
  CHECK(
      encode_value(json_schema) ==
      R"({"subject":"s","version":2,"id":7,"schemaType":"JSON","references":[{"name":"other.json","subject":"other","version":1}],"schema":"{\"type\":\"object\"}","deleted":true})");
  CHECK(encode_value(ConfigValue{"s", CompatibilityLevel::kFull, std::nullopt}) ==
        R"({"subject":"s","compatibilityLevel":"FULL"})");
  CHECK(encode_value(ConfigValue{std::nullopt, CompatibilityLevel::kNone, true}) ==
        R"({"normalize":true,"compatibilityLevel":"NONE"})");
  CHECK(encode_value(ModeValue{"s", Mode::kReadOnly}) == R"({"subject":"s","mode":"READONLY"})");
  CHECK(encode_value(ModeValue{std::nullopt, Mode::kImport}) == R"({"mode":"IMPORT"})");
  CHECK(encode_value(DeleteSubjectValue{"s", 3}) == R"({"subject":"s","version":3})");
  CHECK(encode_value(ClearSubjectValue{"s"}) == R"({"subject":"s"})");
  CHECK(encode_value(ClearSubjectValue{std::nullopt}) == R"({})");
}

TEST_CASE("keys and values round trip", "[registry][records]") {
  for (const auto& key : {RecordKey::schema("a/b", 12), RecordKey::config("x"),
                          RecordKey::config(std::nullopt), RecordKey::mode(std::nullopt),
                          RecordKey::delete_subject("d"), RecordKey::clear_subject("c"), RecordKey::noop()}) {
    auto decoded = decode_key(encode_key(key));
    REQUIRE(std::holds_alternative<RecordKey>(decoded));
    CHECK(std::get<RecordKey>(decoded) == key);
  }
  SchemaValue v{"s",  4, 9, SchemaType::kProtobuf, {{"a.proto", "a", 2}}, "syntax = \"proto3\";\n\u00e9",
                false};
  auto decoded = decode_value(RecordKey::schema("s", 4), encode_value(v));
  REQUIRE(std::holds_alternative<SchemaValue>(decoded));
  CHECK(std::get<SchemaValue>(decoded) == v);
}

TEST_CASE("values Confluent and Karapace wrote are read", "[registry][records]") {
  // Confluent's SchemaValuesTest value (no schemaType: AVRO) with offset and ts fields.
  auto key = decode_key(R"({"keytype":"SCHEMA","subject":"test","version":1,"magic":1})");
  REQUIRE(std::holds_alternative<RecordKey>(key));
  auto value = decode_value(
      std::get<RecordKey>(key),
      R"({"subject":"test","version":1,"id":1,"schema":"{\"type\":\"record\",\"name\":\"myrecord\",)"
      R"(\"fields\":[{\"name\":\"f1067572235\",\"type\":\"string\"}]}","deleted":true,"offset":1,"ts":123})");
  REQUIRE(std::holds_alternative<SchemaValue>(value));
  const auto& sv = std::get<SchemaValue>(value);
  CHECK(sv.type == SchemaType::kAvro);
  CHECK(sv.deleted);
  CHECK(sv.id == 1);

  // Karapace's key order and its "subject": null on the global config key.
  auto global = decode_key(R"({"subject":null,"magic":0,"keytype":"CONFIG"})");
  REQUIRE(std::holds_alternative<RecordKey>(global));
  CHECK(std::get<RecordKey>(global) == RecordKey::config(std::nullopt));

  // A legacy CONFIG value without subject takes the key's.
  auto config =
      decode_value(RecordKey::config("s"), R"({"compatibilityLevel":"FORWARD_TRANSITIVE","alias":"x"})");
  REQUIRE(std::holds_alternative<ConfigValue>(config));
  CHECK(std::get<ConfigValue>(config) ==
        ConfigValue{"s", CompatibilityLevel::kForwardTransitive, std::nullopt});
}

TEST_CASE("unknown keytypes and malformed records are told apart", "[registry][records]") {
  auto assoc = decode_key(R"({"keytype":"ASSOC","subject":"s","magic":0})");
  REQUIRE(std::holds_alternative<UnknownKey>(assoc));
  CHECK(std::get<UnknownKey>(assoc).keytype == "ASSOC");
  CHECK(std::holds_alternative<Malformed>(decode_key("not json")));
  CHECK(std::holds_alternative<Malformed>(decode_key(R"({"keytype":"SCHEMA","subject":"s","magic":1})")));
  CHECK(std::holds_alternative<Malformed>(
      decode_key(R"({"keytype":"SCHEMA","subject":"s","version":1,"magic":2})")));
  CHECK(std::holds_alternative<Malformed>(
      decode_value(RecordKey::schema("s", 1), R"({"subject":"s","version":1})")));
  CHECK(std::holds_alternative<Malformed>(decode_value(RecordKey::mode("s"), R"({"mode":"FORWARD"})")));
  CHECK(std::holds_alternative<std::monostate>(decode_value(RecordKey::noop(), "")));
}
