// AVRO schemas: what is valid (and why not), Confluent's canonical text, normalize, and named
// types from schemas registered under other subjects.
#include "schema_test_util.h"

using namespace kbtest;

namespace {

constexpr auto kAvro = SchemaType::kAvro;

}  // namespace

TEST_CASE("canonical Avro text is Avro Java's compact form whatever the spacing and key order") {
  struct Case {
    const char* input;
    const char* canonical;
  };
  const Case cases[] = {
      {R"( { "fields" : [ { "type" : "string", "name" : "f1" } ], "name" : "myrecord", "type" : "record" } )",
       R"({"type":"record","name":"myrecord","fields":[{"name":"f1","type":"string"}]})"},
      {R"("string")", R"("string")"},
      {R"({"type": "string"})", R"("string")"},
      {R"({"logicalType": "date", "type": "int"})", R"({"type":"int","logicalType":"date"})"},
      {R"({"type":"array","items":{"type":"map","values":"long"}})",
       R"({"type":"array","items":{"type":"map","values":"long"}})"},
      // A named type is written in full once, then by name relative to the enclosing namespace.
      {R"({"type":"record","name":"a.R","fields":[
           {"name":"x","type":{"type":"fixed","name":"F","size":4}},
           {"name":"y","type":"F"},
           {"name":"z","type":{"type":"enum","name":"b.E","symbols":["A","B"],"default":"A"}},
           {"name":"w","type":["null","b.E"]}]})",
       R"({"type":"record","name":"R","namespace":"a","fields":[{"name":"x","type":{"type":"fixed","name":"F","size":4}},)"
       R"({"name":"y","type":"F"},{"name":"z","type":{"type":"enum","name":"E","namespace":"b","symbols":["A","B"],"default":"A"}},)"
       R"({"name":"w","type":["null","b.E"]}]})"},
      // Field attributes in Avro's order; unknown attributes kept where Avro keeps them.
      {R"({"type":"record","name":"R","doc":"a record","x-owner":"team","aliases":["Old"],"fields":[
           {"x-prop":1,"aliases":["g"],"order":"descending","default":1.5,"doc":"d","type":"double","name":"f"}]})",
       R"({"type":"record","name":"R","doc":"a record","fields":[{"name":"f","type":"double","doc":"d","default":1.5,)"
       R"("order":"descending","aliases":["g"],"x-prop":1}],"x-owner":"team","aliases":["Old"]})"},
      // A record in no namespace inside one that has a namespace says so.
      {R"({"type":"record","name":"a.Outer","fields":[{"name":"i","type":{"type":"record","name":"Inner","namespace":"","fields":[]}}]})",
       R"({"type":"record","name":"Outer","namespace":"a","fields":[{"name":"i","type":{"type":"record","name":"Inner","namespace":"","fields":[]}}]})"},
      // Numbers in defaults and properties as Jackson writes doubles.
      {R"({"type":"record","name":"R","fields":[{"name":"d","type":"double","default":1e7},{"name":"l","type":"long","default":10}]})",
       R"({"type":"record","name":"R","fields":[{"name":"d","type":"double","default":1.0E7},{"name":"l","type":"long","default":10}]})"},
  };
  for (const auto& c : cases) {
    INFO(c.input);
    CHECK(valid(kAvro, c.input)->canonical() == c.canonical);
  }
}

TEST_CASE("two Avro texts that differ only in spacing and key order are the same schema") {
  auto a = valid(
      kAvro,
      R"({"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"id","type":"long"}]})");
  auto b = valid(kAvro, R"({
      "namespace": "com.acme",
      "name": "User",
      "fields": [ {"type": "long", "name": "id"} ],
      "type": "record"
    })");
  CHECK(a->canonical() == b->canonical());
  auto c = valid(
      kAvro,
      R"({"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"id","type":"int"}]})");
  CHECK(a->canonical() != c->canonical());
}

TEST_CASE("invalid Avro schemas are refused with Avro's reason") {
  struct Case {
    const char* schema;
    const char* reason;
  };
  const Case cases[] = {
      {"not json", "Invalid JSON"},
      {"5", "Schema not yet supported: 5"},
      {R"({"name":"x"})", "No type: {\"name\":\"x\"}"},
      {R"({"type":"foo"})", "Type not supported: foo"},
      {R"("Undefined")", "Undefined name: \"Undefined\""},
      {R"({"type":"record","fields":[]})", "No name in schema"},
      {R"({"type":"record","name":"R"})", "Record has no fields"},
      {R"({"type":"record","name":"1bad","fields":[]})", "Illegal initial character: 1bad"},
      {R"({"type":"record","name":"a.b-c","fields":[]})", "Illegal character in: b-c"},
      {R"({"type":"record","name":"int","fields":[]})", "Schemas may not be named after primitives: int"},
      {R"({"type":"record","name":"R","fields":[{"type":"int"}]})", "No field name"},
      {R"({"type":"record","name":"R","fields":[{"name":"a"}]})", "No field type"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"string"}]})",
       "Duplicate field a in record R: a type:STRING pos:1 and a type:INT pos:0."},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"Unknown"}]})",
       "\"Unknown\" is not a defined name. The type of the \"a\" field must be a defined name or a "
       "{\"type\": ...} expression."},
      {R"({"type":"record","name":"R","fields":[{"name":"r","type":{"type":"record","name":"R","fields":[]}}]})",
       "Can't redefine: R"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"sideways"}]})",
       "Invalid field order"},
      {R"({"type":"enum","name":"E","symbols":["A","A"]})", "Duplicate enum symbol: A"},
      {R"({"type":"enum","name":"E","symbols":["A","9"]})", "Illegal initial character: 9"},
      {R"({"type":"enum","name":"E"})", "Enum has no symbols"},
      {R"({"type":"enum","name":"E","symbols":["A"],"default":"B"})",
       "The Enum Default: B is not in the enum symbol set: [A]"},
      {R"({"type":"fixed","name":"F"})", "Invalid or no size"},
      {R"({"type":"fixed","name":"F","size":-1})", "Length is negative"},
      {R"({"type":"array"})", "Array has no items type"},
      {R"({"type":"map"})", "Map has no values type"},
      {R"(["int","int"])", "Duplicate in union:int"},
      {R"(["null",["int"]])", "Nested union"},
      {R"({"type":"record","name":"R","aliases":"x","fields":[]})", "aliases not an array"},
      // Defaults must match their field's type (a union's default its first branch).
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]})",
       "Invalid default for field a: \"x\" not a \"int\""},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":3000000000}]})",
       "Invalid default for field a: 3000000000 not a \"int\""},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":["null","int"],"default":1}]})",
       "Invalid default for field a: 1 not a [\"null\",\"int\"]"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"string"},"default":[1]}]})",
       "Invalid default for field a"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":{"type":"enum","name":"E","symbols":["A"]},"default":null}]})",
       "Invalid default for field a"},
  };
  for (const auto& c : cases) {
    INFO(c.schema);
    CHECK_THAT(refusal(kAvro, c.schema), Catch::Contains(c.reason));
  }
}

TEST_CASE("defaults that match their field types are accepted") {
  valid(kAvro, R"({"type":"record","name":"R","fields":[
      {"name":"n","type":["null","string"],"default":null},
      {"name":"s","type":["string","null"],"default":"x"},
      {"name":"l","type":"long","default":3000000000},
      {"name":"d","type":"double","default":1},
      {"name":"f","type":"float","default":"NaN"},
      {"name":"b","type":"bytes","default":"\u00ff"},
      {"name":"m","type":{"type":"map","values":"int"},"default":{"a":1}},
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]},"default":"B"},
      {"name":"r","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int","default":0}]},"default":{}}]})");
}

TEST_CASE("a recursive record refers to itself by name") {
  auto list = valid(kAvro, R"({"type":"record","name":"Node","fields":[
      {"name":"value","type":"int"},{"name":"next","type":["null","Node"],"default":null}]})");
  CHECK(
      list->canonical() ==
      R"({"type":"record","name":"Node","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","Node"],"default":null}]})");
}

TEST_CASE("named types from schemas registered under other subjects are known by name") {
  Subjects subjects;
  subjects.add(
      "address", 1, kAvro,
      R"({"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"}]})");
  subjects.add("country", 3, kAvro,
               R"({"type":"enum","name":"Country","namespace":"com.acme","symbols":["DE","FR"]})");
  subjects.add(
      "city", 1, kAvro,
      R"({"type":"record","name":"City","namespace":"com.acme","fields":[{"name":"country","type":"Country"}]})",
      {{"com.acme.Country", "country", 3}});
  const std::string customer =
      R"({"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":"Address"},{"name":"city","type":"City"}]})";
  std::vector<SchemaReference> refs = {{"com.acme.Address", "address", 1}, {"com.acme.City", "city", 1}};

  auto parsed = valid(kAvro, customer, refs, &subjects);
  CHECK(parsed->canonical() == R"({"type":"record","name":"Customer","namespace":"com.acme","fields":[)"
                               R"({"name":"address","type":"Address"},{"name":"city","type":"City"}]})");
  CHECK(parsed->references() == refs);
  CHECK(
      *parsed->formatted("resolved") ==
      R"({"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":)"
      R"({"type":"record","name":"Address","fields":[{"name":"street","type":"string"}]}},{"name":"city","type":)"
      R"({"type":"record","name":"City","fields":[{"name":"country","type":{"type":"enum","name":"Country","symbols":["DE","FR"]}}]}}]})");
  CHECK(*parsed->formatted("") == parsed->canonical());
  CHECK_FALSE(parsed->formatted("serialized").has_value());

  SECTION("a reference that does not resolve names its subject and version") {
    CHECK(refusal(kAvro, customer, {{"com.acme.Address", "address", 2}}, &subjects) ==
          "No schema reference found for subject \"address\" and version 2");
  }
  SECTION("without the reference the type is unknown") {
    CHECK_THAT(refusal(kAvro, customer, {}, &subjects), Catch::Contains("\"Address\" is not a defined name"));
  }
  SECTION("a schema may not redefine a referenced type") {
    CHECK_THAT(refusal(kAvro, R"({"type":"record","name":"com.acme.Address","fields":[]})", refs, &subjects),
               Catch::Contains("Can't redefine: com.acme.Address"));
  }
  SECTION("a referenced schema of another type is refused") {
    subjects.add("json", 1, SchemaType::kJson, R"({"type":"object"})");
    CHECK_THAT(refusal(kAvro, R"("string")", {{"x", "json", 1}}, &subjects),
               Catch::Contains("is a JSON schema; AVRO schemas can only reference AVRO schemas"));
  }
}

TEST_CASE("normalize sorts properties and aliases and writes defaults in their field's type") {
  auto a = valid(kAvro, R"({"type":"record","name":"R","doc":"","aliases":["Z","A"],"fields":[
      {"name":"f","type":{"type":"bytes","scale":2,"precision":4,"logicalType":"decimal"},"b":1,"a":{"y":1,"x":2}},
      {"name":"d","type":"double","default":1,"aliases":["d2","d1"]},
      {"name":"m","type":{"type":"map","values":"double"},"default":{"z":1,"a":2}}]})");
  CHECK(
      a->normalized() ==
      R"({"type":"record","name":"R","fields":[{"name":"f","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2},)"
      R"("a":{"x":2,"y":1},"b":1},{"name":"d","type":"double","default":1.0,"aliases":["d1","d2"]},)"
      R"({"name":"m","type":{"type":"map","values":"double"},"default":{"a":2.0,"z":1.0}}],"aliases":["A","Z"]})");
  // The canonical form keeps what was written.
  CHECK(a->canonical().find(R"("aliases":["Z","A"])") != std::string::npos);

  auto b = valid(kAvro, R"({"aliases":["A","Z"],"type":"record","name":"R","fields":[
      {"b":1,"a":{"x":2,"y":1},"type":{"logicalType":"decimal","precision":4,"scale":2,"type":"bytes"},"name":"f"},
      {"name":"d","type":"double","default":1.0,"aliases":["d1","d2"]},
      {"name":"m","type":{"type":"map","values":"double"},"default":{"a":2.0,"z":1.0}}]})");
  CHECK(a->canonical() != b->canonical());
  CHECK(a->normalized() == b->normalized());
}

TEST_CASE("normalize puts a valid logical type's properties first and sorts an invalid one's with the rest") {
  CHECK(valid(kAvro, R"({"type":"bytes","precision":4,"logicalType":"decimal","a":1})")->normalized() ==
        R"({"type":"bytes","logicalType":"decimal","precision":4,"a":1})");
  CHECK(valid(kAvro, R"({"type":"bytes","precision":0,"logicalType":"decimal","a":1})")->normalized() ==
        R"({"type":"bytes","a":1,"logicalType":"decimal","precision":0})");
  // A 2-byte fixed holds at most 4 decimal digits.
  CHECK(valid(kAvro, R"({"type":"fixed","name":"F","size":2,"precision":5,"logicalType":"decimal","a":1})")
            ->normalized() ==
        R"({"type":"fixed","name":"F","size":2,"a":1,"logicalType":"decimal","precision":5})");
}
