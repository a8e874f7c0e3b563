// JSON Schema compatibility with Confluent's rules: open and closed content models, required
// properties, type widening and narrowing, enums, bounds, combined schemas, $refs, and the
// verbose messages with Confluent's difference type names.
#include "schema_test_util.h"

using namespace kbtest;
using L = CompatibilityLevel;

namespace {

Schema json(const std::string& text) { return valid(SchemaType::kJson, text); }

// An object with the given properties (JSON text of "name": schema pairs), closed when asked.
Schema object(const std::string& properties, bool closed = false, const std::string& required = "") {
  std::string text = R"({"type":"object","properties":{)" + properties + "}";
  if (closed) text += R"(,"additionalProperties":false)";
  if (!required.empty()) text += R"(,"required":[)" + required + "]";
  return json(text + "}");
}

const std::string kName = R"("name":{"type":"string"})";
const std::string kAge = R"("age":{"type":"integer"})";

}  // namespace

TEST_CASE("JSON Schema evolutions at each level, by content model") {
  check_evolutions({
      {"open model: remove a property", object(kName + "," + kAge), object(kName), true, false},
      {"open model: add a property", object(kName), object(kName + "," + kAge), false, true},
      {"open model: add a property that allows anything", object(kName), object(kName + R"(,"any":{})"), true,
       true},
      {"closed model: add an optional property", object(kName, true), object(kName + "," + kAge, true), true,
       false},
      {"closed model: add a required property", object(kName, true),
       object(kName + "," + kAge, true, R"("age")"), false, false},
      {"closed model: add a required property with a default", object(kName, true),
       object(kName + R"(,"age":{"type":"integer","default":0})", true, R"("age")"), true, false},
      {"closed model: remove a property", object(kName + "," + kAge, true), object(kName, true), false, true},
      {"open the content model", object(kName, true), object(kName), true, false},
      {"make an existing property required", object(kName), object(kName, false, R"("name")"), false, true},
      {"integer to number", json(R"({"type":"integer"})"), json(R"({"type":"number"})"), true, false},
      {"string to integer", json(R"({"type":"string"})"), json(R"({"type":"integer"})"), false, false},
      {"string to string or null", json(R"({"type":"string"})"), json(R"({"type":["string","null"]})"), true,
       false},
      {"add an enum value", json(R"({"enum":["a","b"]})"), json(R"({"enum":["a","b","c"]})"), true, false},
      {"replace an enum value", json(R"({"enum":["a","b"]})"), json(R"({"enum":["a","c"]})"), false, false},
      {"add maxLength", json(R"({"type":"string"})"), json(R"({"type":"string","maxLength":10})"), false,
       true},
      {"raise maximum", json(R"({"type":"number","maximum":10})"), json(R"({"type":"number","maximum":20})"),
       true, false},
      {"raise minimum", json(R"({"type":"number","minimum":1})"), json(R"({"type":"number","minimum":2})"),
       false, true},
      {"change a pattern", json(R"({"type":"string","pattern":"^a"})"),
       json(R"({"type":"string","pattern":"^b"})"), false, false},
      {"add a oneOf branch", json(R"({"oneOf":[{"type":"string"},{"type":"integer"}]})"),
       json(R"({"oneOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]})"), true, false},
      {"allOf to anyOf", json(R"({"allOf":[{"type":"string"},{"maxLength":5}]})"),
       json(R"({"anyOf":[{"type":"string"},{"maxLength":5}]})"), true, false},
      {"array items change type", json(R"({"type":"array","items":{"type":"string"}})"),
       json(R"({"type":"array","items":{"type":"number"}})"), false, false},
      {"array gets uniqueItems", json(R"({"type":"array"})"), json(R"({"type":"array","uniqueItems":true})"),
       false, true},
      {"a $ref target changes type",
       json(R"({"definitions":{"v":{"type":"string"}},"properties":{"p":{"$ref":"#/definitions/v"}}})"),
       json(R"({"definitions":{"v":{"type":"boolean"}},"properties":{"p":{"$ref":"#/definitions/v"}}})"),
       false, false},
      {"a $ref replaced by what it referred to",
       json(R"({"definitions":{"v":{"type":"string"}},"properties":{"p":{"$ref":"#/definitions/v"}}})"),
       json(R"({"properties":{"p":{"type":"string"}}})"), true, true},
      {"anything becomes the empty schema", json(R"({"type":"object","properties":{"a":{"type":"string"}}})"),
       json(R"({})"), true, false},
  });
}

TEST_CASE("a property added to an open JSON content model breaks BACKWARD with Confluent's verbose message") {
  auto v1 = object(kName);
  auto v2 = object(kName + "," + kAge);
  CHECK(check(L::kBackward, v2, {v1}) ==
        std::vector<std::string>{
            "{errorType:\"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL\", description:\"The new schema has an open "
            "content model "
            "and has a property or item at path '#/properties/age' which is missing in the old schema'}",
            "{oldSchemaVersion: 1}",
            R"({oldSchema: '{"type":"object","properties":{"name":{"type":"string"}}}'})",
            "{compatibility: 'BACKWARD'}"});
}

TEST_CASE("JSON incompatibilities use Confluent's difference names and paths") {
  struct Case {
    Schema old_schema, new_schema;
    std::string first_problem;
  };
  const Case cases[] = {
      {object(kName, true), object(kName + "," + kAge, true, R"("age")"),
       "{errorType:\"REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL\", description:\"The new schema has an "
       "unopen "
       "content model and has a required property at path '#/properties/age' which is missing in the old "
       "schema'}"},
      {object(kName + "," + kAge, true), object(kName, true),
       "{errorType:\"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL\", description:\"The new has a closed "
       "content model and "
       "is missing a property or item present at path '#/properties/age' in the old schema'}"},
      {object(kName), object(kName, false, R"("name")"),
       "{errorType:\"REQUIRED_ATTRIBUTE_ADDED\", description:\"The keyword at path '#/required/name' in the "
       "new schema "
       "is not present in the old schema'}"},
      {json(R"({"type":"number"})"), json(R"({"type":"integer"})"),
       "{errorType:\"TYPE_NARROWED\", description:\"A type at path '#/' is different between the new schema "
       "and the "
       "old schema'}"},
      {json(R"({"properties":{"a":{"type":"string","minLength":1}}})"),
       json(R"({"properties":{"a":{"type":"string","minLength":2}}})"),
       "{errorType:\"MIN_LENGTH_INCREASED\", description:\"The value at path '#/properties/a/minLength' in "
       "the new "
       "schema is more than its value in the old schema'}"},
      {json(R"({"enum":["a","b"]})"), json(R"({"enum":["a"]})"),
       "{errorType:\"ENUM_ARRAY_NARROWED\", description:\"An array or combined type at path '#/enum' has "
       "fewer "
       "elements in the new schema than the old schema'}"},
      {json(R"({"anyOf":[{"type":"string"},{"type":"integer"}]})"),
       json(R"({"anyOf":[{"type":"string"},{"type":"boolean"}]})"),
       "{errorType:\"COMBINED_TYPE_SUBSCHEMAS_CHANGED\", description:\"A type at path '#/' is different "
       "between the new "
       "schema and the old schema'}"},
      {json(R"({"type":"string","pattern":"^a"})"), json(R"({"type":"string","pattern":"^b"})"),
       "{errorType:\"PATTERN_CHANGED\", description:\"The value at path '#/pattern' is different between the "
       "new and "
       "old schema'}"},
  };
  for (const auto& c : cases) {
    INFO(c.old_schema->canonical() << " -> " << c.new_schema->canonical());
    auto problems = check(L::kBackward, c.new_schema, {c.old_schema});
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0] == c.first_problem);
  }
}

TEST_CASE("a property name with a percent sign stays as written in the message") {
  auto problems = check(L::kBackward, object(R"("100%s":{"type":"string"})"), {object("")});
  REQUIRE_FALSE(problems.empty());
  CHECK_THAT(problems[0], Catch::Contains("path '#/properties/100%s' which is missing in the old schema"));
}

TEST_CASE("JSON transitive levels check every earlier version, newest first") {
  auto v1 = object(kName, true);
  auto v2 = object(kName + "," + kAge, true);
  auto v3 = object(kAge, true);  // v3 drops "name": the closed v1 and v2 both have it
  CHECK_FALSE(compatible(L::kBackward, v3, {v1, v2}));
  auto w1 = json(R"({"type":"integer"})");
  auto w2 = json(R"({"type":"number"})");
  auto w3 = json(R"({"type":"number","maximum":100})");
  CHECK_FALSE(compatible(L::kBackward, w3, {w1, w2}));
  auto w4 = json(R"({"type":"number"})");
  CHECK(compatible(L::kBackwardTransitive, w4, {w1, w2}));
  CHECK_FALSE(compatible(L::kForward, w4, {w1}));
  auto problems = check(L::kForwardTransitive, w4, {w1, w2});
  REQUIRE(problems.size() == 4);
  CHECK(problems[1] == "{oldSchemaVersion: 1}");
  CHECK(problems[3] == "{compatibility: 'FORWARD_TRANSITIVE'}");
}

TEST_CASE("recursive JSON schemas are compared without endless recursion") {
  auto v1 = json(R"({"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#"}}})");
  auto v2 = json(R"({"type":"object","properties":{"v":{"type":"number"},"next":{"$ref":"#"}}})");
  CHECK(compatible(L::kBackward, v2, {v1}));
  CHECK_FALSE(compatible(L::kForward, v2, {v1}));
}

TEST_CASE("JSON schemas that reference other subjects compare what the references resolve to") {
  Subjects subjects;
  subjects.add("address", 1, SchemaType::kJson,
               R"({"type":"object","properties":{"zip":{"type":"integer"}}})");
  subjects.add("address", 2, SchemaType::kJson,
               R"({"type":"object","properties":{"zip":{"type":"number"}}})");
  const std::string text = R"({"type":"object","properties":{"home":{"$ref":"address.json"}}})";
  auto v1 = valid(SchemaType::kJson, text, {{"address.json", "address", 1}}, &subjects);
  auto v2 = valid(SchemaType::kJson, text, {{"address.json", "address", 2}}, &subjects);
  CHECK(v1->canonical() == v2->canonical());
  CHECK(compatible(L::kBackward, v2, {v1}));
  CHECK_FALSE(compatible(L::kForward, v2, {v1}));
}

TEST_CASE("self-referring combined schemas are compared in bounded time and never pass for compatible") {
  auto self = json(R"({"allOf":[{"$ref":"#"}]})");
  auto other = json(R"({"type":"string"})");
  CHECK_FALSE(check(L::kFull, other, {self}).empty());
  CHECK_FALSE(check(L::kFull, self, {other}).empty());
  // Definitions whose anyOf branches refer to each other: every path through them differs.
  std::string defs;
  for (int i = 0; i < 24; ++i) {
    defs += (i ? "," : "") + std::string(R"("d)") + std::to_string(i) +
            R"(":{"anyOf":[{"$ref":"#/definitions/d)" + std::to_string((i + 1) % 24) +
            R"("},{"$ref":"#/definitions/d)" + std::to_string((i + 2) % 24) +
            R"("},{"type":"integer","maximum":)" + std::to_string(i) + "}]}";
  }
  auto tangled = json(R"({"definitions":{)" + defs + R"(},"$ref":"#/definitions/d0"})");
  auto tangled2 = json(R"({"definitions":{)" + defs + R"(},"$ref":"#/definitions/d1"})");
  check(L::kFull, tangled2, {tangled});
  SUCCEED("finished");
}
