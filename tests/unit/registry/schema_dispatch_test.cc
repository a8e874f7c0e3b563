// parse_schema and check_compatibility: each schema type reaches its own parser and rules
// through the one entry point the registry service calls.
#include "registry/schema/schema.h"
#include "schema_test_util.h"

using namespace kbtest;
using kb::registry::check_compatibility;
using kb::registry::parse_schema;
using L = CompatibilityLevel;

namespace {

Schema parsed(SchemaType type, const std::string& text) {
  auto r = parse_schema(type, text, {}, {});
  if (auto* e = std::get_if<SchemaError>(&r)) FAIL("refused: " << e->message);
  return std::get<Schema>(r);
}

std::vector<VersionedSchema> history(std::initializer_list<Schema> schemas) {
  std::vector<VersionedSchema> out;
  int32_t v = 0;
  for (const auto& s : schemas) out.push_back({++v, s});
  return out;
}

}  // namespace

TEST_CASE("each schema type is parsed by its own parser") {
  CHECK(parsed(SchemaType::kAvro, R"({"type":"string"})")->canonical() == R"("string")");
  CHECK(parsed(SchemaType::kJson, R"( {"type": "string"} )")->canonical() == R"({"type":"string"})");
  CHECK(parsed(SchemaType::kProtobuf, "syntax = \"proto3\";\nmessage M { string a = 1; }\n")->type() ==
        SchemaType::kProtobuf);
  // The same text is valid for one type and not for another.
  CHECK(std::holds_alternative<SchemaError>(parse_schema(SchemaType::kAvro, R"({"type":"object"})", {}, {})));
  CHECK(std::holds_alternative<SchemaError>(parse_schema(SchemaType::kProtobuf, R"({"type":"object"})", {}, {})));
}

TEST_CASE("check_compatibility applies the proposed schema's type rules at the subject's level") {
  auto avro_v1 = parsed(SchemaType::kAvro, R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})");
  auto avro_v2 = parsed(SchemaType::kAvro,
                        R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]})");
  auto problems = check_compatibility(L::kBackward, *avro_v2, history({avro_v1}));
  REQUIRE(problems.size() == 4);
  CHECK_THAT(problems[0], Catch::Contains("READER_FIELD_MISSING_DEFAULT_VALUE"));
  CHECK(check_compatibility(L::kForward, *avro_v2, history({avro_v1})).empty());

  auto json_v1 = parsed(SchemaType::kJson, R"({"type":"integer"})");
  auto json_v2 = parsed(SchemaType::kJson, R"({"type":"number"})");
  CHECK(check_compatibility(L::kBackward, *json_v2, history({json_v1})).empty());
  CHECK_THAT(check_compatibility(L::kFull, *json_v2, history({json_v1}))[0], Catch::Contains("TYPE_NARROWED"));

  auto pb_v1 = parsed(SchemaType::kProtobuf, "syntax = \"proto3\";\nmessage A { int32 x = 1; }\nmessage B { int32 y = 1; }\n");
  auto pb_v2 = parsed(SchemaType::kProtobuf, "syntax = \"proto3\";\nmessage A { int32 x = 1; }\n");
  auto pb_problems = check_compatibility(L::kBackward, *pb_v2, history({pb_v1}));
  REQUIRE_FALSE(pb_problems.empty());
  CHECK_THAT(pb_problems[0], Catch::Contains("MESSAGE_REMOVED") && Catch::Contains("The new schema") &&
                                 Catch::Contains("in the old schema"));
  CHECK(check_compatibility(L::kNone, *pb_v2, history({pb_v1})).empty());

  CHECK(check_compatibility(L::kBackward, *json_v2, history({avro_v1})) ==
        std::vector<std::string>{"Incompatible because of different schema type", "{compatibility: 'BACKWARD'}"});
}
