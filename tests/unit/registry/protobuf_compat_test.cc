// Protobuf compatibility: each of Confluent's difference types, found at its path and let
// through or refused as Confluent's protobuf-provider does, for BACKWARD (reader = new schema,
// writer = old) and FORWARD (the reverse).
#include <catch2/catch.hpp>
#include <map>

#include "registry/schema/protobuf.h"
#include "registry/schema/schema_types.h"

using namespace kb::registry;

namespace {

using Refs = std::vector<SchemaReference>;
using Subjects = std::map<std::pair<std::string, int32_t>, std::string>;

std::shared_ptr<const pb::ProtobufSchema> proto(std::string_view text, const Refs& refs = {},
                                                const Subjects& subjects = {}) {
  ParseResult r =
      detail::parse_protobuf(text, refs, [&](const SchemaReference& ref) -> std::optional<ResolvedReference> {
        auto it = subjects.find({ref.subject, ref.version});
        if (it == subjects.end()) return std::nullopt;
        return ResolvedReference{SchemaType::kProtobuf, it->second, {}};
      });
  if (auto* error = std::get_if<SchemaError>(&r)) FAIL("refused: " << error->message << "\n" << text);
  return std::dynamic_pointer_cast<const pb::ProtobufSchema>(
      std::get<std::shared_ptr<const ParsedSchema>>(r));
}

// Every difference from `from` to `to` as "TYPE path", sorted.
std::vector<std::string> changes(const pb::ProtobufSchema& from, const pb::ProtobufSchema& to) {
  std::vector<std::string> out;
  for (const pb::Difference& d : pb::differences(from, to))
    out.push_back(std::string(pb::to_string(d.type)) + " " + d.path);
  std::sort(out.begin(), out.end());
  return out;
}

struct Evolution {
  std::vector<std::string> changes;   // old -> new
  std::vector<std::string> backward;  // why the new schema cannot read old data
  std::vector<std::string> forward;   // why the old schema cannot read new data
};

Evolution evolve(std::string_view old_text, std::string_view new_text) {
  auto old_schema = proto(old_text), new_schema = proto(new_text);
  return {changes(*old_schema, *new_schema), detail::protobuf_read_problems(*new_schema, *old_schema),
          detail::protobuf_read_problems(*old_schema, *new_schema)};
}

std::string p3(std::string_view body) { return "syntax = \"proto3\";\n" + std::string(body); }

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("adding, removing and renaming fields is compatible both ways") {
  auto added = evolve(p3("message M { int32 a = 1; }"), p3("message M { int32 a = 1; string b = 2; }"));
  CHECK(added.changes == Strings{"FIELD_ADDED #/M/2"});
  CHECK(added.backward.empty());
  CHECK(added.forward.empty());  // FORWARD sees FIELD_REMOVED, also compatible

  auto renamed = evolve(p3("message M { int32 a = 1; }"), p3("message M { int32 alpha = 1; }"));
  CHECK(renamed.changes == Strings{"FIELD_NAME_CHANGED #/M/1"});
  CHECK(renamed.backward.empty());
  CHECK(renamed.forward.empty());

  auto renumbered = evolve(p3("message M { int32 a = 1; }"), p3("message M { int32 a = 2; }"));
  CHECK(renumbered.changes == Strings{"FIELD_ADDED #/M/2", "FIELD_REMOVED #/M/1"});
  CHECK(renumbered.backward.empty());
}

TEST_CASE("a changed package is incompatible both ways, reported in Confluent's words") {
  auto e = evolve(p3("package a; message M {}"), p3("package b; message M {}"));
  CHECK(e.changes == Strings{"PACKAGE_CHANGED #/"});
  CHECK(e.backward ==
        Strings{"{errorType:\"PACKAGE_CHANGED\", description:\"The package at '#/' in the %s schema does "
                "not match the package in the %s schema\"}"});
  CHECK(e.forward == e.backward);
}

TEST_CASE("removing a message breaks BACKWARD, adding one breaks FORWARD, moving one is fine") {
  auto removed = evolve(p3("message A {} message B {}"), p3("message A {}"));
  CHECK(removed.changes == Strings{"MESSAGE_REMOVED #/B"});
  CHECK(removed.backward == Strings{"{errorType:\"MESSAGE_REMOVED\", description:\"The %s schema is missing "
                                    "a MESSAGE type at path '#/B' in "
                                    "the %s schema\"}"});
  CHECK(removed.forward.empty());  // the old schema has everything the new one writes

  auto nested_removed = evolve(p3("message A { message Inner {} }"), p3("message A {}"));
  CHECK(nested_removed.changes == Strings{"MESSAGE_REMOVED #/A/Inner"});

  auto moved = evolve(p3("message A {} message B {}"), p3("message B {} message A {}"));
  CHECK(moved.changes == Strings{"MESSAGE_MOVED #/A", "MESSAGE_MOVED #/B"});
  CHECK(moved.backward.empty());
  CHECK(moved.forward.empty());
}

TEST_CASE("scalar types that share a wire encoding are compatible, others are not") {
  auto [from, to, compatible] = GENERATE(table<std::string, std::string, bool>({
      {"int32", "int64", true},
      {"int32", "uint32", true},
      {"uint64", "bool", true},
      {"sint32", "sint64", true},
      {"fixed32", "sfixed32", true},
      {"fixed64", "sfixed64", true},
      {"string", "bytes", true},
      {"int32", "sint32", false},
      {"int32", "fixed32", false},
      {"fixed32", "fixed64", false},
      {"float", "double", false},
      {"int64", "double", false},
      {"string", "int32", false},
      {"bytes", "sint64", false},
  }));
  INFO(from << " -> " << to);
  auto e = evolve(p3("message M { " + from + " x = 1; }"), p3("message M { " + to + " x = 1; }"));
  if (compatible) {
    CHECK(e.changes.empty());
  } else {
    CHECK(e.changes == Strings{"FIELD_SCALAR_KIND_CHANGED #/M/1"});
    CHECK(e.backward ==
          Strings{"{errorType:\"FIELD_SCALAR_KIND_CHANGED\", description:\"The kind of a SCALAR field at "
                  "path '#/M/1' in the %s schema does not match its kind in the %s schema\"}"});
    CHECK(e.forward.size() == 1);
  }
}

TEST_CASE("an enum field reads as an integer, but not as a message or a map") {
  auto to_enum =
      evolve(p3("message M { int32 c = 1; }"), p3("message M { Color c = 1; } enum Color { RED = 0; }"));
  CHECK(to_enum.changes == Strings{"ENUM_ADDED #/Color"});
  CHECK(to_enum.backward.empty());
  CHECK(to_enum.forward.empty());

  auto to_message = evolve(p3("message M { int32 c = 1; }"), p3("message M { C c = 1; } message C {}"));
  CHECK(to_message.changes == Strings{"FIELD_KIND_CHANGED #/M/1", "MESSAGE_ADDED #/C"});
  CHECK(to_message.backward.size() == 1);
  CHECK(to_message.forward.size() == 2);  // the old schema also lacks message C

  auto to_map = evolve(p3("message M { C c = 1; } message C {}"),
                       p3("message M { map<string, C> c = 1; } message C {}"));
  CHECK(to_map.changes == Strings{"FIELD_KIND_CHANGED #/M/1"});
  CHECK(to_map.backward ==
        Strings{"{errorType:\"FIELD_KIND_CHANGED\", description:\"The type of a field at path "
                "'#/M/1' in the %s schema does not match the %s schema\"}"});
}

TEST_CASE("map keys and values follow the scalar rules") {
  CHECK(evolve(p3("message M { map<string, int32> m = 1; }"), p3("message M { map<string, int64> m = 1; }"))
            .changes.empty());
  CHECK(evolve(p3("message M { map<string, int32> m = 1; }"), p3("message M { map<string, string> m = 1; }"))
            .changes == Strings{"FIELD_SCALAR_KIND_CHANGED #/M/1"});
  CHECK(evolve(p3("message M { map<int32, int32> m = 1; }"), p3("message M { map<sint32, int32> m = 1; }"))
            .changes == Strings{"FIELD_SCALAR_KIND_CHANGED #/M/1"});
}

TEST_CASE("a message field of another message type is incompatible") {
  auto e = evolve(p3("message M { A x = 1; } message A {} message B {}"),
                  p3("message M { B x = 1; } message A {} message B {}"));
  CHECK(e.changes == Strings{"FIELD_NAMED_TYPE_CHANGED #/M/1"});
  CHECK(e.backward ==
        Strings{"{errorType:\"FIELD_NAMED_TYPE_CHANGED\", description:\"The type of a MESSAGE field at "
                "path '#/M/1' in the %s schema does not match its type in the %s schema\"}"});
  CHECK(e.forward.size() == 1);
}

TEST_CASE("label changes: numbers may not change between optional and repeated, strings and messages may") {
  auto number = evolve(p3("message M { optional int32 x = 1; }"), p3("message M { repeated int32 x = 1; }"));
  CHECK(number.changes == Strings{"FIELD_NUMERIC_LABEL_CHANGED #/M/1"});
  CHECK(number.backward ==
        Strings{"{errorType:\"FIELD_NUMERIC_LABEL_CHANGED\", description:\"The label for a NUMERIC "
                "field at path '#/M/1' in the %s schema does not match its label in the %s schema\"}"});
  CHECK(number.forward.size() == 1);

  auto text = evolve(p3("message M { optional string x = 1; }"), p3("message M { repeated string x = 1; }"));
  CHECK(text.changes == Strings{"FIELD_STRING_OR_BYTES_LABEL_CHANGED #/M/1"});
  CHECK(text.backward.empty());
  CHECK(text.forward.empty());

  // Confluent compares labels only where both are written: a plain proto3 field has none
  CHECK(evolve(p3("message M { int32 x = 1; }"), p3("message M { repeated int32 x = 1; }")).changes.empty());
  CHECK(evolve(p3("message M { optional C c = 1; } message C {}"),
               p3("message M { repeated C c = 1; } message C {}"))
            .changes.empty());
  // proto2 "optional" to proto3's implicit presence: no label on one side either
  CHECK(evolve("package a; message M { optional int32 x = 1; }", p3("package a; message M { int32 x = 1; }"))
            .changes.empty());
}

TEST_CASE("required fields may be neither added nor removed") {
  auto added = evolve("message M { optional int32 a = 1; }",
                      "message M { optional int32 a = 1; required int32 b = 2; }");
  CHECK(added.changes == Strings{"REQUIRED_FIELD_ADDED #/M/2"});
  CHECK(added.backward ==
        Strings{"{errorType:\"REQUIRED_FIELD_ADDED\", description:\"A required field  at path "
                "'#/M/2' in the %s schema is missing in the %s schema\"}"});
  CHECK(added.forward ==
        Strings{"{errorType:\"REQUIRED_FIELD_REMOVED\", description:\"The %s schema is missing a "
                "required field at path: '#/M/2' in the %s schema\"}"});
}

TEST_CASE("oneofs: adding, renaming and dissolving them is compatible, merging fields into one is not") {
  SECTION("a new oneof with new fields") {
    auto e =
        evolve(p3("message M { int32 a = 1; }"), p3("message M { int32 a = 1; oneof o { string b = 2; } }"));
    CHECK(e.changes == Strings{"ONEOF_ADDED #/M/o", "ONEOF_FIELD_ADDED #/M/o/2"});
    CHECK(e.backward.empty());
    CHECK(e.forward.empty());  // ONEOF_REMOVED with all its fields
  }
  SECTION("a field dropped from a oneof that stays") {
    auto e = evolve(p3("message M { oneof o { string a = 1; string b = 2; } }"),
                    p3("message M { oneof o { string a = 1; } }"));
    CHECK(e.changes == Strings{"ONEOF_FIELD_REMOVED #/M/o/2"});
    CHECK(e.backward ==
          Strings{"{errorType:\"ONEOF_FIELD_REMOVED\", description:\"The %s schema is missing a oneof "
                  "field at path '#/M/o/2' in the %s schema\"}"});
    CHECK(e.forward.empty());  // ONEOF_FIELD_ADDED
  }
  SECTION("one top-level field moved into a new oneof") {
    auto e = evolve(p3("message M { int32 a = 1; }"), p3("message M { oneof o { int32 a = 1; } }"));
    CHECK(e.changes == Strings{"ONEOF_ADDED #/M/o"});
    CHECK(e.backward.empty());
    CHECK(e.forward.empty());  // ONEOF_FIELD_MOVED_TO_TOP_LEVEL and ONEOF_REMOVED
    CHECK(changes(*proto(p3("message M { oneof o { int32 a = 1; } }")),
                  *proto(p3("message M { int32 a = 1; }"))) ==
          Strings{"ONEOF_FIELD_MOVED_TO_TOP_LEVEL #/M/1", "ONEOF_REMOVED #/M/o"});
  }
  SECTION("a top-level field moved into an existing oneof") {
    auto e = evolve(p3("message M { int32 a = 1; oneof o { int32 b = 2; } }"),
                    p3("message M { oneof o { int32 a = 1; int32 b = 2; } }"));
    CHECK(e.changes == Strings{"FIELD_MOVED_TO_EXISTING_ONEOF #/M/o"});
    CHECK(e.backward ==
          Strings{"{errorType:\"FIELD_MOVED_TO_EXISTING_ONEOF\", description:\"A field in the oneof at "
                  "path '#/M/o' in the %s schema is outside an existing oneof in the %s schema\"}"});
  }
  SECTION("several top-level fields moved into one oneof") {
    auto e = evolve(p3("message M { int32 a = 1; int32 b = 2; }"),
                    p3("message M { oneof o { int32 a = 1; int32 b = 2; } }"));
    CHECK(e.changes == Strings{"MULTIPLE_FIELDS_MOVED_TO_ONEOF #/M/o", "ONEOF_ADDED #/M/o"});
    CHECK(e.backward ==
          Strings{"{errorType:\"MULTIPLE_FIELDS_MOVED_TO_ONEOF\", description:\"Multiple fields in the "
                  "oneof at path '#/M/o' in the %s schema are outside a oneof in the %s schema\"}"});
  }
  SECTION("a renamed oneof does not hide a type change inside it") {
    auto e =
        evolve(p3("message M { oneof a { int32 x = 1; } }"), p3("message M { oneof b { string x = 1; } }"));
    CHECK(e.changes ==
          Strings{"FIELD_SCALAR_KIND_CHANGED #/M/b/1", "ONEOF_ADDED #/M/b", "ONEOF_REMOVED #/M/a"});
    CHECK(e.backward.size() == 1);
  }
  SECTION("a whole oneof deleted with its fields") {
    auto e = evolve(p3("message M { int32 a = 1; oneof o { int32 b = 2; int32 c = 3; } }"),
                    p3("message M { int32 a = 1; }"));
    CHECK(e.changes == Strings{"ONEOF_REMOVED #/M/o"});
    CHECK(e.backward.empty());
  }
  SECTION("proto3 optional is not a oneof") {
    CHECK(evolve(p3("message M { optional int32 a = 1; }"), p3("message M { optional int32 a = 1; }"))
              .changes.empty());
  }
}

TEST_CASE("enum changes are all compatible") {
  auto e = evolve(p3("enum E { A = 0; B = 1; C = 2; } enum Gone { G = 0; }"),
                  p3("enum E { A = 0; BEE = 1; D = 3; } enum New { N = 0; }"));
  CHECK(e.changes == Strings{"ENUM_ADDED #/New", "ENUM_CONST_ADDED #/E/3", "ENUM_CONST_CHANGED #/E/1",
                             "ENUM_CONST_REMOVED #/E/2", "ENUM_REMOVED #/Gone"});
  CHECK(e.backward.empty());
  CHECK(e.forward.empty());
}

TEST_CASE("differences inside nested messages carry the nesting in their path") {
  auto e = evolve(p3("message Outer { message Inner { int32 a = 1; } Inner i = 1; }"),
                  p3("message Outer { message Inner { double a = 1; } Inner i = 1; }"));
  CHECK(e.changes == Strings{"FIELD_SCALAR_KIND_CHANGED #/Outer/Inner/1"});
}

TEST_CASE("a type from a reference is compared again when the reference points at another version") {
  Subjects subjects{
      {{"home", 1}, "syntax = \"proto3\"; package h; message Home { int32 id = 1; }"},
      {{"home", 2}, "syntax = \"proto3\"; package h; message Home { string id = 1; }"},
      {{"home", 3}, "syntax = \"proto3\"; package h; message Home { int32 id = 1; bool on = 2; }"}};
  std::string text = p3("import \"home.proto\"; message M { h.Home home = 1; }");
  auto v1 = proto(text, {{"home.proto", "home", 1}}, subjects);
  auto v2 = proto(text, {{"home.proto", "home", 2}}, subjects);
  auto v3 = proto(text, {{"home.proto", "home", 3}}, subjects);
  CHECK(changes(*v1, *v1).empty());
  CHECK(changes(*v1, *v2) == Strings{"FIELD_NAMED_TYPE_CHANGED #/M/1", "FIELD_SCALAR_KIND_CHANGED #/Home/1"});
  CHECK(detail::protobuf_read_problems(*v2, *v1).size() == 2);
  CHECK(changes(*v1, *v3) == Strings{"FIELD_ADDED #/Home/2"});
  CHECK(detail::protobuf_read_problems(*v3, *v1).empty());

  // the same definition moved from a reference into the schema itself is the same type
  auto local = proto(p3("package h; message M { Home home = 1; } message Home { int32 id = 1; }"));
  auto imported = proto(p3("package h; import \"home.proto\"; message M { Home home = 1; }"),
                        {{"home.proto", "home", 1}}, subjects);
  CHECK(changes(*local, *imported) == Strings{"MESSAGE_REMOVED #/Home"});
  CHECK(changes(*imported, *local) == Strings{"MESSAGE_ADDED #/Home"});
}

TEST_CASE("recursive message types from references compare without looping") {
  Subjects subjects{{{"node", 1}, "syntax = \"proto3\"; message Node { Node next = 1; int32 v = 2; }"},
                    {{"node", 2}, "syntax = \"proto3\"; message Node { Node next = 1; string v = 2; }"}};
  std::string text = p3("import \"node.proto\"; message List { Node head = 1; }");
  auto v1 = proto(text, {{"node.proto", "node", 1}}, subjects);
  auto v2 = proto(text, {{"node.proto", "node", 2}}, subjects);
  CHECK(changes(*v1, *v2) ==
        Strings{"FIELD_NAMED_TYPE_CHANGED #/List/1", "FIELD_SCALAR_KIND_CHANGED #/Node/2"});
}

TEST_CASE("the serialized form of a schema has no differences from its text") {
  auto text = proto(p3(R"(package a; import "google/protobuf/timestamp.proto";
    message M { map<string, N> m = 1; oneof o { string s = 2; N n = 3; } optional int64 t = 4;
                google.protobuf.Timestamp at = 5; message N { repeated E e = 1; } }
    enum E { Z = 0; })"));
  auto serialized = proto(*text->formatted("serialized"));
  CHECK(changes(*text, *serialized).empty());
  CHECK(changes(*serialized, *text).empty());
}

TEST_CASE("a schema of another type is incompatible with a Protobuf schema") {
  struct NotProtobuf final : ParsedSchema {
    SchemaType type() const override { return SchemaType::kAvro; }
    const std::string& canonical() const override { return text; }
    const std::vector<SchemaReference>& references() const override { return refs; }
    std::string normalized() const override { return text; }
    std::optional<std::string> formatted(std::string_view) const override { return std::nullopt; }
    std::optional<std::string> record_name(const std::vector<int32_t>&) const override { return std::nullopt; }
    std::string text = "\"string\"";
    std::vector<SchemaReference> refs;
  } avro;
  auto schema = proto(p3("message M {}"));
  CHECK(detail::protobuf_read_problems(*schema, avro) ==
        Strings{"Incompatible because of different schema type"});
  CHECK(detail::protobuf_read_problems(avro, *schema) ==
        Strings{"Incompatible because of different schema type"});
}
