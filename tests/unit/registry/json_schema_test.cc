// JSON schemas: what is valid (and why not), drafts, $ref resolution inside a document and to
// schemas registered under other subjects, Confluent's canonical text and normalize.
#include "schema_test_util.h"

using namespace kbtest;

namespace {

constexpr auto kJson = SchemaType::kJson;

}  // namespace

TEST_CASE("canonical JSON Schema text is compact, in the order written, with exact numbers") {
  auto s = valid(kJson, R"( {
      "type" : "object",
      "properties" : { "price" : { "type" : "number", "minimum" : 1.50, "maximum" : 1e3 } },
      "required" : [ "price" ]
    } )");
  CHECK(
      s->canonical() ==
      R"({"type":"object","properties":{"price":{"type":"number","minimum":1.50,"maximum":1E+3}},"required":["price"]})");
  CHECK(*s->formatted("") == s->canonical());
  CHECK_FALSE(s->formatted("resolved").has_value());
}

TEST_CASE("normalize sorts the keys of every object, so key order no longer matters") {
  auto a = valid(kJson, R"({"type":"object","properties":{"b":{"type":"string"},"a":{"type":"integer"}}})");
  auto b = valid(kJson, R"({"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"type":"object"})");
  CHECK(a->canonical() != b->canonical());
  CHECK(a->normalized() == b->normalized());
  CHECK(a->normalized() ==
        R"({"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"type":"object"})");
}

TEST_CASE("JSON Schema drafts 4, 6, 7, 2019-09 and 2020-12 are read by their $schema") {
  const char* schemas[] = {
      R"({"$schema":"http://json-schema.org/draft-04/schema#","id":"http://x/a.json","type":"number","minimum":0,"exclusiveMinimum":true})",
      R"({"$schema":"http://json-schema.org/draft-06/schema#","$id":"http://x/a.json","type":"number","exclusiveMinimum":0,"const":5})",
      R"({"$schema":"http://json-schema.org/draft-07/schema#","if":{"type":"string"},"then":{"minLength":1},"else":true})",
      R"({"$schema":"https://json-schema.org/draft/2019-09/schema","$defs":{"n":{"type":"number"}},"dependentRequired":{"a":["b"]},"$ref":"#/$defs/n"})",
      R"({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"}],"items":false})",
      // Without $schema: draft 7.
      R"({"definitions":{"node":{"type":"object","properties":{"next":{"$ref":"#/definitions/node"}}}},"$ref":"#/definitions/node"})",
      R"({"type":"object","properties":{"child":{"$ref":"#"}}})",
      R"({"$id":"http://example.com/root.json","definitions":{"a":{"$id":"#item","type":"string"}},"items":{"$ref":"#item"}})",
      R"(true)",
  };
  for (const char* s : schemas) {
    INFO(s);
    valid(kJson, s);
  }
}

TEST_CASE("invalid JSON schemas are refused with where and why") {
  struct Case {
    const char* schema;
    const char* reason;
  };
  const Case cases[] = {
      {R"({"type":"object",})", "Invalid JSON"},
      {R"([1,2])", "#: a JSON Schema is an object, found array"},
      {R"({"type":"strin"})", "#/type: unknown type 'strin'"},
      {R"({"type":["string","string"]})", "#/type: type 'string' listed twice"},
      {R"({"type":"object","properties":[]})", "#/properties: expected an object, found array"},
      {R"({"properties":{"a":5}})", "#/properties/a: expected a schema, found integer"},
      {R"({"properties":{"a":{"type":"string","minLength":-1}}})",
       "#/properties/a/minLength: expected a non-negative integer"},
      {R"({"type":"array","maxItems":1.5})", "#/maxItems: expected a non-negative integer, found number"},
      {R"({"required":"a"})", "#/required: expected an array of property names, found string"},
      {R"({"type":"number","multipleOf":0})", "#/multipleOf: expected a number greater than 0"},
      {R"({"type":"string","pattern":"(unclosed"})", "#/pattern: invalid regular expression '(unclosed'"},
      {R"({"allOf":[]})", "#/allOf: expected a non-empty array of schemas"},
      {R"({"not":"x"})", "#/not: expected a schema, found string"},
      {R"({"$ref":"#/definitions/missing"})", "#/$ref: unresolved reference '#/definitions/missing'"},
      {R"({"$ref":"other.json"})", "#/$ref: unresolved reference 'other.json'"},
      {R"({"definitions":{"bad":{"type":7}}})", "#/definitions/bad/type: expected a type name"},
      {R"({"$schema":"http://json-schema.org/draft-04/schema#","properties":{"a":true}})",
       "#/properties/a: expected a schema object, found boolean (draft-04 has no boolean schemas)"},
      {R"({"$schema":"http://json-schema.org/draft-04/schema#","type":"number","exclusiveMinimum":5})",
       "#/exclusiveMinimum: expected a boolean (draft-04)"},
      {R"({"type":"number","exclusiveMinimum":true})",
       "#/exclusiveMinimum: expected a number, found boolean"},
      {R"({"$schema":"https://json-schema.org/draft/2020-12/schema","items":[{"type":"string"}]})",
       "#/items: expected a schema (draft 2020-12 lists tuple items in prefixItems)"},
  };
  for (const auto& c : cases) {
    INFO(c.schema);
    CHECK_THAT(refusal(kJson, c.schema), Catch::Contains(c.reason));
  }
  std::string nested = std::string(200, '(') + "a" + std::string(200, ')');
  CHECK_THAT(refusal(kJson, R"({"type":"string","pattern":")" + nested + R"("})"),
             Catch::Contains("#/pattern: regular expression too complex"));
}

TEST_CASE("a chain of $refs deeper than the loader allows is refused, not a crash") {
  std::string defs;
  for (int i = 0; i < 400; ++i) {
    defs += (i ? "," : "") + std::string(R"("d)") + std::to_string(i) + R"(":{"$ref":"#/definitions/d)" +
            std::to_string(i + 1) + R"("})";
  }
  defs += R"(,"d400":{"type":"string"})";
  CHECK_THAT(refusal(kJson, R"({"definitions":{)" + defs + R"(},"$ref":"#/definitions/d0"})"),
             Catch::Contains("nested more than"));
}

TEST_CASE("$ref finds schemas registered under other subjects by the reference's name") {
  Subjects subjects;
  subjects.add(
      "address", 1, kJson,
      R"({"$id":"http://example.com/address.json","type":"object","properties":{"street":{"type":"string"}},)"
      R"("definitions":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}}})");
  subjects.add("person", 2, kJson, R"({"type":"object","properties":{"home":{"$ref":"address.json"}}})",
               {{"address.json", "address", 1}});

  SECTION("by the name as written") {
    auto s = valid(
        kJson,
        R"({"type":"object","properties":{"a":{"$ref":"address.json"},"zip":{"$ref":"address.json#/definitions/zip"}}})",
        {{"address.json", "address", 1}}, &subjects);
    CHECK(s->references().size() == 1);
  }
  SECTION("relative to the schema's own $id") {
    valid(kJson, R"({"$id":"http://example.com/customer.json","properties":{"a":{"$ref":"address.json"}}})",
          {{"http://example.com/address.json", "address", 1}}, &subjects);
  }
  SECTION("through a referenced schema's own references") {
    valid(kJson, R"({"properties":{"p":{"$ref":"person.json"}}})", {{"person.json", "person", 2}}, &subjects);
  }
  SECTION("a reference that is not registered is refused") {
    CHECK(refusal(kJson, R"({"$ref":"address.json"})", {{"address.json", "address", 9}}, &subjects) ==
          "No schema reference found for subject \"address\" and version 9");
  }
  SECTION("a $ref to a name not among the references is refused") {
    CHECK_THAT(refusal(kJson, R"({"$ref":"nowhere.json"})", {{"address.json", "address", 1}}, &subjects),
               Catch::Contains("unresolved reference 'nowhere.json'"));
  }
  SECTION("a pointer into a referenced schema must lead somewhere") {
    CHECK_THAT(refusal(kJson, R"({"$ref":"address.json#/definitions/nope"})",
                       {{"address.json", "address", 1}}, &subjects),
               Catch::Contains("nothing at '/definitions/nope'"));
  }
}
