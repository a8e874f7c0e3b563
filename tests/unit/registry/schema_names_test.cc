// Schema type and compatibility level names as Confluent's REST API spells them.
#include "schema_test_util.h"

using namespace kbtest;
using kb::registry::compatibility_level_from;
using kb::registry::schema_type_from;

TEST_CASE("schema type names round-trip and unknown names are refused") {
  for (auto t : {SchemaType::kAvro, SchemaType::kJson, SchemaType::kProtobuf}) {
    CHECK(schema_type_from(kb::registry::to_string(t)) == t);
  }
  CHECK(kb::registry::to_string(SchemaType::kJson) == "JSON");
  CHECK_FALSE(schema_type_from("XML").has_value());
  CHECK_FALSE(schema_type_from("").has_value());
}

TEST_CASE("compatibility level names round-trip and unknown names are refused") {
  const char* names[] = {"NONE", "BACKWARD",       "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
                         "FULL", "FULL_TRANSITIVE"};
  for (const char* n : names) {
    auto level = compatibility_level_from(n);
    REQUIRE(level.has_value());
    CHECK(kb::registry::to_string(*level) == n);
  }
  CHECK_FALSE(compatibility_level_from("SIDEWAYS").has_value());
}

TEST_CASE("message placeholders name the reader and the writer; a doubled percent is one") {
  using kb::registry::detail::escape_percent;
  using kb::registry::detail::fill_roles;
  CHECK(fill_roles("in the %s schema, not in the %s schema", "new", "old") ==
        "in the new schema, not in the old schema");
  CHECK(fill_roles("at '" + escape_percent("50%s") + "' in the %s schema", "old", "new") ==
        "at '50%s' in the old schema");
  CHECK(fill_roles("no placeholders, 100% plain", "new", "old") == "no placeholders, 100% plain");
}
