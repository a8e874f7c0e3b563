// AVRO compatibility: the evolutions Confluent's documentation lists for each level, Avro's
// resolution rules (promotions, enums, unions, names, fixed sizes), the level rules
// (latest only or transitive, both directions for FULL) and the verbose messages.
#include "schema_test_util.h"

using namespace kbtest;
using L = CompatibilityLevel;

namespace {

Schema avro(const std::string& text) { return valid(SchemaType::kAvro, text); }

// A record "R" with the given fields (JSON text of each field).
Schema record(const std::vector<std::string>& fields) {
  std::string text = R"({"type":"record","name":"R","fields":[)";
  for (size_t i = 0; i < fields.size(); ++i) text += (i ? "," : "") + fields[i];
  return avro(text + "]}");
}

const std::string kId = R"({"name":"id","type":"long"})";
const std::string kName = R"({"name":"name","type":"string"})";
const std::string kNameWithDefault = R"({"name":"name","type":"string","default":""})";

}  // namespace

TEST_CASE("Avro evolutions Confluent documents, at each level") {
  check_evolutions({
      {"delete a field", record({kId, kName}), record({kId}), true, false},
      {"delete a field that had a default", record({kId, kNameWithDefault}), record({kId}), true, true},
      {"add a field with a default", record({kId}), record({kId, kNameWithDefault}), true, true},
      {"add a field without a default", record({kId}), record({kId, kName}), false, true},
      {"widen int to long", record({R"({"name":"n","type":"int"})"}),
       record({R"({"name":"n","type":"long"})"}), true, false},
      {"widen long to double", record({R"({"name":"n","type":"long"})"}),
       record({R"({"name":"n","type":"double"})"}), true, false},
      {"string to bytes and back", record({R"({"name":"s","type":"string"})"}),
       record({R"({"name":"s","type":"bytes"})"}), true, true},
      {"change string to int", record({R"({"name":"n","type":"string"})"}),
       record({R"({"name":"n","type":"int"})"}), false, false},
      {"make a field nullable", record({R"({"name":"n","type":"int"})"}),
       record({R"({"name":"n","type":["null","int"],"default":null})"}), true, false},
      {"add an enum symbol", avro(R"({"type":"enum","name":"E","symbols":["A","B"]})"),
       avro(R"({"type":"enum","name":"E","symbols":["A","B","C"]})"), true, false},
      {"add an enum symbol where the old enum has a default",
       avro(R"({"type":"enum","name":"E","symbols":["A","B"],"default":"A"})"),
       avro(R"({"type":"enum","name":"E","symbols":["A","B","C"],"default":"A"})"), true, true},
      {"rename a record", avro(R"({"type":"record","name":"A","fields":[]})"),
       avro(R"({"type":"record","name":"B","fields":[]})"), false, false},
      {"rename a record keeping the old name as alias", avro(R"({"type":"record","name":"a.A","fields":[]})"),
       avro(R"({"type":"record","name":"a.B","aliases":["A"],"fields":[]})"), true, false},
      {"move a record to another namespace", avro(R"({"type":"record","name":"x.A","fields":[]})"),
       avro(R"({"type":"record","name":"y.A","fields":[]})"), true, true},
      {"rename a field keeping the old name as alias", record({kId}),
       record({R"({"name":"key","type":"long","aliases":["id"]})"}), true, false},
      {"resize a fixed", avro(R"({"type":"fixed","name":"F","size":4})"),
       avro(R"({"type":"fixed","name":"F","size":8})"), false, false},
      {"add a union branch", avro(R"(["null","int"])"), avro(R"(["null","int","string"])"), true, false},
      {"array items widened", avro(R"({"type":"array","items":"int"})"),
       avro(R"({"type":"array","items":"long"})"), true, false},
      {"map values changed", avro(R"({"type":"map","values":"int"})"),
       avro(R"({"type":"map","values":"string"})"), false, false},
  });
}

TEST_CASE("a new Avro field without a default breaks BACKWARD with Confluent's verbose message") {
  auto v1 = record({kId});
  auto v2 = record({kId, kName});
  CHECK(check(L::kBackward, v2, {v1}) ==
        std::vector<std::string>{
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'name' at path "
            "'/fields/1' in the "
            "new schema has no default value and is missing in the old schema', additionalInfo:'name'}",
            "{oldSchemaVersion: 1}",
            R"({oldSchema: '{"type":"record","name":"R","fields":[{"name":"id","type":"long"}]}'})",
            "{compatibility: 'BACKWARD'}"});
}

TEST_CASE("FORWARD checks that the old schema reads the new one, and says so") {
  auto v1 = record({kId, kName});
  auto v2 = record({kId});
  auto problems = check(L::kForward, v2, {v1});
  REQUIRE(problems.size() == 4);
  CHECK(problems[0] ==
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'name' at path '/fields/1' "
        "in the old "
        "schema has no default value and is missing in the new schema', additionalInfo:'name'}");
  CHECK(problems[3] == "{compatibility: 'FORWARD'}");
}

TEST_CASE("Avro incompatibilities name their kind, their path in the reader and Avro's detail") {
  struct Case {
    const char* change;
    Schema old_schema, new_schema;
    std::string first_problem;
  };
  const Case cases[] = {
      {"nested field",
       avro(
           R"({"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"I","fields":[{"name":"a","type":"int"}]}}]})"),
       avro(
           R"({"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"I","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}}]})"),
       "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'b' at path "
       "'/fields/0/type/fields/1' in "
       "the new schema has no default value and is missing in the old schema', additionalInfo:'b'}"},
      {"type", record({R"({"name":"n","type":"long"})"}), record({R"({"name":"n","type":"int"})"}),
       "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a field in the new "
       "schema does not "
       "match with the old schema', additionalInfo:'reader type: INT not compatible with writer type: "
       "LONG'}"},
      {"enum symbols", avro(R"({"type":"enum","name":"E","symbols":["A","B","C","D"]})"),
       avro(R"({"type":"enum","name":"E","symbols":["A","B"]})"),
       "{errorType:'MISSING_ENUM_SYMBOLS', description:'The new schema is missing enum symbols '[C, D]' at "
       "path "
       "'/symbols' in the old schema', additionalInfo:'[C, D]'}"},
      {"name", avro(R"({"type":"fixed","name":"a.F","size":4})"),
       avro(R"({"type":"fixed","name":"a.G","size":4})"),
       "{errorType:'NAME_MISMATCH', description:'The name of the schema has changed (path '/name')', "
       "additionalInfo:'expected: a.F'}"},
      {"size", avro(R"({"type":"fixed","name":"F","size":4})"),
       avro(R"({"type":"fixed","name":"F","size":8})"),
       "{errorType:'FIXED_SIZE_MISMATCH', description:'The size of FIXED type field at path '/size' in the "
       "new schema "
       "does not match with the old schema', additionalInfo:'expected: 4, found: 8'}"},
      {"union branch", avro(R"(["null","int","string"])"), avro(R"(["null","int"])"),
       "{errorType:'MISSING_UNION_BRANCH', description:'The new schema is missing a type inside a union "
       "field at path "
       "'/2' in the old schema', additionalInfo:'reader union lacking writer type: STRING'}"},
      {"not a union any more", record({R"({"name":"n","type":["null","string"],"default":null})"}),
       record({R"({"name":"n","type":"string"})"}),
       "{errorType:'TYPE_MISMATCH', description:'The type (path '/') of a field in the new schema does not "
       "match with "
       "the old schema', additionalInfo:'reader type: STRING not compatible with writer type: NULL'}"},
  };
  for (const auto& c : cases) {
    INFO(c.change);
    auto problems = check(L::kBackward, c.new_schema, {c.old_schema});
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0] == c.first_problem);
  }
}

TEST_CASE("non-transitive levels look at the latest version only, transitive ones at all") {
  auto v1 = record({kId});
  auto v2 = record({kId, kNameWithDefault});
  auto v3 = record({kId, kName});  // reads v2's data, but not v1's
  CHECK(compatible(L::kBackward, v3, {v1, v2}));
  auto problems = check(L::kBackwardTransitive, v3, {v1, v2});
  REQUIRE(problems.size() == 4);
  CHECK(problems[1] == "{oldSchemaVersion: 1}");
  CHECK(problems[3] == "{compatibility: 'BACKWARD_TRANSITIVE'}");

  // v1 without "name" cannot read v3's data unless the default is there to skip it.
  auto w1 = record({kId, kNameWithDefault});
  auto w2 = record({kId, kNameWithDefault, R"({"name":"x","type":"int","default":0})"});
  auto w3 = record({kId});
  CHECK(compatible(L::kForward, w3, {w1, w2}));
  CHECK(compatible(L::kForwardTransitive, w3, {w1, w2}));
  CHECK(compatible(L::kFullTransitive, w3, {w1, w2}));
  auto w0 = record({kId, kName});
  CHECK(compatible(L::kFull, w3, {w0, w1, w2}));
  CHECK_FALSE(compatible(L::kFullTransitive, w3, {w0, w1, w2}));
  CHECK_FALSE(compatible(L::kForwardTransitive, w3, {w0, w1, w2}));
}

TEST_CASE("FULL reports both directions against the version it breaks") {
  auto v1 = record({kId, kName});
  auto v2 = record({kId, R"({"name":"email","type":"string"})"});
  auto problems = check(L::kFull, v2, {v1});
  REQUIRE(problems.size() == 5);
  CHECK_THAT(problems[0], Catch::Contains("The field 'name' at path '/fields/1' in the old schema"));
  CHECK_THAT(problems[1], Catch::Contains("The field 'email' at path '/fields/1' in the new schema"));
  CHECK(problems[2] == "{oldSchemaVersion: 1}");
  CHECK(problems[4] == "{compatibility: 'FULL'}");
}

TEST_CASE("a schema is compatible with no history and NONE accepts anything") {
  auto s = record({kId});
  CHECK(check(L::kBackward, s, {}).empty());
  CHECK(check(L::kNone, avro(R"("int")"), {s}).empty());
}

TEST_CASE("a schema of another type is incompatible") {
  auto json = valid(SchemaType::kJson, R"({"type":"object"})");
  CHECK(check(L::kBackward, record({kId}), {json}) ==
        std::vector<std::string>{"Incompatible because of different schema type",
                                 "{compatibility: 'BACKWARD'}"});
}

TEST_CASE("recursive Avro types are compared without endless recursion") {
  auto v1 = avro(
      R"({"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null}]})");
  auto v2 = avro(
      R"({"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"],"default":null}]})");
  CHECK(compatible(L::kBackward, v2, {v1}));
  CHECK_FALSE(compatible(L::kForward, v2, {v1}));
}

TEST_CASE("a reader field matching two writer fields is reported, not a crash") {
  auto writer = record({R"({"name":"a","type":"int"})", R"({"name":"b","type":"int"})"});
  auto reader = record({R"({"name":"a","type":"int","aliases":["b"]})"});
  auto problems = check(L::kBackward, reader, {writer});
  REQUIRE_FALSE(problems.empty());
  CHECK_THAT(problems[0],
             Catch::Contains("Unexpected exception during compatibility check: Reader record field a matches "
                             "multiple fields in writer record schema R"));
}

TEST_CASE("an old schema longer than 10 KiB is cut in the message") {
  std::vector<std::string> fields;
  for (int i = 0; i < 400; ++i)
    fields.push_back(R"({"name":"field_number_)" + std::to_string(i) + R"(","type":"string"})");
  auto old_schema = record(fields);
  fields.push_back(R"({"name":"extra","type":"string"})");
  auto problems = check(L::kBackward, record(fields), {old_schema});
  REQUIRE(problems.size() == 4);
  CHECK(problems[2].rfind("{oldSchema: <truncated> '", 0) == 0);
  CHECK(problems[2].size() ==
        std::string("{oldSchema: <truncated> '").size() + 10 * 1024 + std::string("...'}").size());
}
