// PROTOBUF schemas: parsing .proto text and base64 descriptors, imports, canonical text,
// normalization and formats.
#include "registry/schema/protobuf.h"

#include <google/protobuf/descriptor.pb.h>

#include <catch2/catch.hpp>
#include <map>

#include "registry/schema/schema_types.h"

using namespace kb::registry;

namespace {

// What confluent-kafka's ProtobufSerializer registers for the user.proto below: the base64
// of user_pb2.DESCRIPTOR.serialized_pb, generated with Debian's protoc 3.21.12 and read with
// Debian's python3-protobuf 3.21.12.
constexpr const char* kUserProto = R"(syntax = "proto3";
package kbroker.test;

import "google/protobuf/timestamp.proto";

message User {
  string name = 1;
  int32 favorite_number = 2;
  repeated string tags = 3;
  map<string, int64> counters = 4;
  google.protobuf.Timestamp created = 5;
  oneof contact {
    string email = 6;
    string phone = 7;
  }
  optional bool active = 8;
  Color color = 9;
  message Address {
    string city = 1;
  }
  Address address = 10;
}

enum Color {
  RED = 0;
  GREEN = 1;
}
)";
constexpr const char* kUserDescriptor =
    "Cgp1c2VyLnByb3RvEgxrYnJva2VyLnRlc3QaH2dvb2dsZS9wcm90b2J1Zi90aW1lc3RhbXAucHJvdG8ihAMKBFVzZXISDAoEbmFtZRgB"
    "IAEo"
    "CRIXCg9mYXZvcml0ZV9udW1iZXIYAiABKAUSDAoEdGFncxgDIAMoCRIyCghjb3VudGVycxgEIAMoCzIgLmticm9rZXIudGVzdC5Vc2Vy"
    "LkNv"
    "dW50ZXJzRW50cnkSKwoHY3JlYXRlZBgFIAEoCzIaLmdvb2dsZS5wcm90b2J1Zi5UaW1lc3RhbXASDwoFZW1haWwYBiABKAlIABIPCgVw"
    "aG9u"
    "ZRgHIAEoCUgAEhMKBmFjdGl2ZRgIIAEoCEgBiAEBEiIKBWNvbG9yGAkgASgOMhMua2Jyb2tlci50ZXN0LkNvbG9yEisKB2FkZHJlc3MY"
    "CiAB"
    "KAsyGi5rYnJva2VyLnRlc3QuVXNlci5BZGRyZXNzGi8KDUNvdW50ZXJzRW50cnkSCwoDa2V5GAEgASgJEg0KBXZhbHVlGAIgASgDOgI4"
    "ARoX"
    "CgdBZGRyZXNzEgwKBGNpdHkYASABKAlCCQoHY29udGFjdEIJCgdfYWN0aXZlKhsKBUNvbG9yEgcKA1JFRBAAEgkKBUdSRUVOEAFiBnBy"
    "b3Rv"
    "Mw==";
// timestamp_pb2.DESCRIPTOR.serialized_pb from the same python3-protobuf: what the serializer
// registers under the subject "google/protobuf/timestamp.proto" before the schema above.
constexpr const char* kTimestampDescriptor =
    "Ch9nb29nbGUvcHJvdG9idWYvdGltZXN0YW1wLnByb3RvEg9nb29nbGUucHJvdG9idWYiKwoJVGltZXN0YW1wEg8KB3NlY29uZHMYASAB"
    "KAMS"
    "DQoFbmFub3MYAiABKAVChQEKE2NvbS5nb29nbGUucHJvdG9idWZCDlRpbWVzdGFtcFByb3RvUAFaMmdvb2dsZS5nb2xhbmcub3JnL3By"
    "b3Rv"
    "YnVmL3R5cGVzL2tub3duL3RpbWVzdGFtcHBi+"
    "AEBogIDR1BCqgIeR29vZ2xlLlByb3RvYnVmLldlbGxLbm93blR5cGVzYgZwcm90bzM=";

// Subjects and their schemas, as the registry would resolve references.
struct Registry {
  std::map<std::pair<std::string, int32_t>, ResolvedReference> schemas;
  ReferenceResolver resolver() const {
    return [this](const SchemaReference& ref) -> std::optional<ResolvedReference> {
      auto it = schemas.find({ref.subject, ref.version});
      if (it == schemas.end()) return std::nullopt;
      return it->second;
    };
  }
};

ParseResult parse(std::string_view text, const std::vector<SchemaReference>& refs = {},
                  const Registry& registry = {}) {
  return detail::parse_protobuf(text, refs, registry.resolver());
}

std::shared_ptr<const ParsedSchema> parsed(std::string_view text,
                                           const std::vector<SchemaReference>& refs = {},
                                           const Registry& registry = {}) {
  ParseResult r = parse(text, refs, registry);
  if (auto* error = std::get_if<SchemaError>(&r)) FAIL("refused: " << error->message << "\n" << text);
  return std::get<std::shared_ptr<const ParsedSchema>>(r);
}

std::string refusal(std::string_view text, const std::vector<SchemaReference>& refs = {},
                    const Registry& registry = {}) {
  ParseResult r = parse(text, refs, registry);
  if (!std::holds_alternative<SchemaError>(r)) FAIL("accepted: " << text);
  return std::get<SchemaError>(r).message;
}

std::string to_base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= uint8_t(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

const SchemaReference kTimestampRef{"google/protobuf/timestamp.proto", "google/protobuf/timestamp.proto", 1};

Registry timestamp_registry() {
  Registry r;
  r.schemas[{kTimestampRef.subject, 1}] = {SchemaType::kProtobuf, kTimestampDescriptor, {}};
  return r;
}

}  // namespace

TEST_CASE("a proto3 schema renders as Confluent's canonical text: qualified types, maps, oneofs last") {
  auto schema = parsed(R"(
    // comments and layout do not matter
    syntax = "proto3";  package shop.v1;
    import "google/protobuf/timestamp.proto";
    option java_package = "com.shop";
    message Order {
      oneof payment { string card = 3; string iban = 4; }
      string id = 1;
      map<string, Item> items = 2;
      google.protobuf.Timestamp at = 5 [deprecated = true];
      message Item { int64 count = 1; Kind kind = 2; }
      enum Kind { KIND_UNSPECIFIED = 0; BOOK = 1; }
    }
    service Orders { rpc Place (Order) returns (stream Order); }
  )");
  CHECK(schema->type() == SchemaType::kProtobuf);
  CHECK(schema->canonical() == R"(syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";

option java_package = "com.shop";

message Order {
  string id = 1;
  map<string, .shop.v1.Order.Item> items = 2;
  .google.protobuf.Timestamp at = 5 [deprecated = true];

  oneof payment {
    string card = 3;
    string iban = 4;
  }

  message Item {
    int64 count = 1;
    .shop.v1.Order.Kind kind = 2;
  }
  enum Kind {
    KIND_UNSPECIFIED = 0;
    BOOK = 1;
  }
}

service Orders {
  rpc Place (.shop.v1.Order) returns (stream .shop.v1.Order);
}
)");
}

TEST_CASE("a proto2 schema keeps labels, defaults, groups, extensions and custom options") {
  auto schema = parsed(R"(
    package p;
    import "google/protobuf/descriptor.proto";
    extend google.protobuf.FieldOptions { optional string doc = 50001; }
    message M {
      required int32 a = 1 [default = 7, (doc) = "the \"a\""];
      optional string s = 2 [json_name = "ess"];
      repeated int32 r = 3 [packed = true];
      optional group Result = 4 { optional int32 u = 1; }
      reserved 8 to 10, 1000 to max;
      reserved "old";
      extensions 100 to 199;
    }
    extend M { optional int32 ext = 100; })");
  CHECK(schema->canonical() == R"(package p;

import "google/protobuf/descriptor.proto";

message M {
  reserved 8 to 10;
  reserved 1000 to max;
  reserved "old";

  required int32 a = 1 [
    (p.doc) = "the \"a\"",
    default = 7
  ];
  optional string s = 2 [json_name = "ess"];
  repeated int32 r = 3 [packed = true];
  optional group Result = 4 {
    optional int32 u = 1;
  }

  extensions 100 to 199;
}

extend .google.protobuf.FieldOptions {
  optional string doc = 50001;
}
extend .p.M {
  optional int32 ext = 100;
}
)");
  CHECK(schema->formatted("ignore_extensions") == R"(package p;

import "google/protobuf/descriptor.proto";

message M {
  reserved 8 to 10;
  reserved 1000 to max;
  reserved "old";

  required int32 a = 1 [default = 7];
  optional string s = 2 [json_name = "ess"];
  repeated int32 r = 3 [packed = true];
  optional group Result = 4 {
    optional int32 u = 1;
  }
}
)");
}

TEST_CASE("canonical text parses back to the same schema") {
  for (const char* text :
       {kUserProto, kUserDescriptor, kTimestampDescriptor,
        "package a; message M { optional group G = 1 { repeated string s = 2; } }",
        R"(syntax = "proto3"; message M { bytes b = 1; optional double d = 2 [json_name = "dd"]; }
                              enum E { option allow_alias = true; A = 0; B = 0 [deprecated = true]; reserved 5 to 9; })",
        R"(package a; message M { optional string s = 1 [default = "x\ty\001"];
                                                    optional bytes b = 2 [default = "\000\377"];
                                                    optional float f = 3 [default = -inf]; })"}) {
    std::vector<SchemaReference> refs;
    if (text == kUserDescriptor) refs = {kTimestampRef};
    auto schema = parsed(text, refs, timestamp_registry());
    INFO(schema->canonical());
    auto again = parsed(schema->canonical(), refs, timestamp_registry());
    CHECK(again->canonical() == schema->canonical());
    CHECK(parsed(schema->normalized(), refs, timestamp_registry())->normalized() == schema->normalized());
  }
}

TEST_CASE("the base64 descriptor python3-protobuf registers is the same schema as its .proto text") {
  auto from_python = parsed(kUserDescriptor, {kTimestampRef}, timestamp_registry());
  auto from_text = parsed(kUserProto);  // google/protobuf/timestamp.proto is well known
  CHECK(from_python->canonical() == from_text->canonical());
  CHECK(from_python->normalized() == from_text->normalized());
  CHECK(from_python->references() == std::vector<SchemaReference>{kTimestampRef});
  CHECK(from_python->canonical().find("map<string, int64> counters = 4;") != std::string::npos);
  CHECK(from_python->canonical().find("optional bool active = 8;") != std::string::npos);

  // the registered dependency itself, as python registers it, is the well-known file
  auto timestamp = parsed(kTimestampDescriptor);
  CHECK(timestamp->canonical().find("message Timestamp {\n  int64 seconds = 1;\n  int32 nanos = 2;\n}\n") !=
        std::string::npos);
}

TEST_CASE("a FileDescriptorProto built in C++ reads as its text and serializes back to the same bytes") {
  google::protobuf::FileDescriptorProto file;
  file.set_name("default");
  file.set_package("hello");
  auto* message = file.add_message_type();
  message->set_name("Greeting");
  auto* field = message->add_field();
  field->set_name("text");
  field->set_number(1);
  field->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
  field->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
  file.set_syntax("proto3");
  std::string base64 = to_base64(file.SerializeAsString());

  auto schema = parsed(base64);
  CHECK(schema->canonical() ==
        "syntax = \"proto3\";\npackage hello;\n\nmessage Greeting {\n  string text = 1;\n}\n");
  CHECK(schema->canonical() ==
        parsed("syntax = 'proto3'; package hello; message Greeting { string text = 1; }")->canonical());
  CHECK(schema->formatted("serialized") == base64);
  CHECK(parsed("syntax = 'proto3'; package hello; message Greeting { string text = 1; }")
            ->formatted("serialized") == base64);
  CHECK(schema->formatted("default") == schema->canonical());
  CHECK(schema->formatted("") == schema->canonical());
  CHECK_FALSE(schema->formatted("resolved").has_value());
}

TEST_CASE("an invalid .proto is refused with the parser's line, column and reason") {
  CHECK(refusal("syntax = \"proto3\";\nmessage A {\n  int32 x = 1\n}") ==
        "Could not parse Protobuf - line 4:1: Expected \";\".");
  CHECK(refusal("syntax = \"proto4\";") ==
        "Could not parse Protobuf - line 1:10: Unrecognized syntax identifier \"proto4\".  This parser only "
        "recognizes "
        "\"proto2\" and \"proto3\".");
  CHECK(refusal("not a schema at all") ==
        "Could not parse Protobuf - line 1:1: Expected top-level statement (e.g. \"message\").");
}

TEST_CASE("a schema that parses but does not build is refused at the element's line") {
  CHECK(refusal("syntax = \"proto3\";\nmessage A {\n  Missing x = 1;\n}") ==
        "line 3:3: \"Missing\" is not defined.");
  CHECK(refusal("syntax = \"proto3\";\nmessage A { required int32 x = 1; }") ==
        "line 2:22: Required fields are not allowed in proto3.");
  CHECK(refusal("syntax = \"proto3\";\nenum E { ONE = 1; }") ==
        "line 2:16: The first enum value must be zero in proto3.");
  CHECK(refusal("syntax = \"proto3\";\nmessage A { int32 x = 1; int32 y = 1; }") ==
        "line 2:36: Field number 1 has already been used in \"A\" by field \"x\".");
  CHECK(refusal("syntax = \"proto3\";\nmessage A { int32 x = 1 [default = 2]; }") ==
        "line 2:36: Explicit default values are not allowed in proto3.");
}

TEST_CASE("well-known google/protobuf imports resolve without a reference") {
  auto schema = parsed(R"(syntax = "proto3";
    import "google/protobuf/any.proto";
    import "google/protobuf/duration.proto";
    import "google/protobuf/struct.proto";
    import "google/protobuf/wrappers.proto";
    import "google/protobuf/empty.proto";
    message M { google.protobuf.Any a = 1; google.protobuf.Duration d = 2; google.protobuf.Struct s = 3;
                google.protobuf.StringValue v = 4; google.protobuf.Empty e = 5; })");
  CHECK(schema->canonical().find(".google.protobuf.StringValue v = 4;") != std::string::npos);
  CHECK(refusal("syntax = \"proto3\"; import \"google/type/date.proto\";") ==
        "import \"google/type/date.proto\" is neither one of the schema's references nor a well-known type");
}

TEST_CASE("imports resolve through references, recursively, as the importing file names them") {
  Registry registry;
  registry.schemas[{"money", 1}] = {
      SchemaType::kProtobuf, "syntax = \"proto3\"; package m; message Money { int64 cents = 1; }", {}};
  registry.schemas[{"line", 3}] = {
      SchemaType::kProtobuf,
      "syntax = \"proto3\"; package l; import \"money.proto\"; message Line { m.Money price = 1; }",
      {{"money.proto", "money", 1}}};
  auto schema =
      parsed(R"(syntax = "proto3"; import "shop/line.proto"; message Cart { repeated l.Line lines = 1; })",
             {{"shop/line.proto", "line", 3}}, registry);
  CHECK(schema->canonical() ==
        "syntax = \"proto3\";\n\nimport \"shop/line.proto\";\n\nmessage Cart {\n  repeated .l.Line lines = "
        "1;\n}\n");
  CHECK(schema->references() == std::vector<SchemaReference>{{"shop/line.proto", "line", 3}});

  SECTION("a reference that does not resolve is named") {
    CHECK(refusal("syntax = \"proto3\"; import \"x.proto\";", {{"x.proto", "x", 9}}, registry) ==
          "reference \"x.proto\" (subject \"x\" version 9) not found");
  }
  SECTION("a reference of another type is refused") {
    registry.schemas[{"avro", 1}] = {SchemaType::kAvro, "\"string\"", {}};
    CHECK(refusal("syntax = \"proto3\"; import \"a.proto\";", {{"a.proto", "avro", 1}}, registry) ==
          "reference \"a.proto\" (subject \"avro\" version 1) is not a PROTOBUF schema");
  }
  SECTION("an invalid referenced schema is refused with its own reason") {
    registry.schemas[{"bad", 1}] = {
        SchemaType::kProtobuf, "syntax = \"proto3\"; message B { Nope n = 1; }", {}};
    CHECK(refusal("syntax = \"proto3\"; import \"b.proto\";", {{"b.proto", "bad", 1}}, registry) ==
          "reference \"b.proto\" (subject \"bad\" version 1): line 1:32: \"Nope\" is not defined.");
  }
  SECTION("an import that no reference names is refused") {
    CHECK(refusal("syntax = \"proto3\"; import \"shop/line.proto\";", {}, registry) ==
          "import \"shop/line.proto\" is neither one of the schema's references nor a well-known type");
  }
  SECTION("an import cycle is refused") {
    registry.schemas[{"a", 1}] = {
        SchemaType::kProtobuf, "syntax = \"proto3\"; import \"b.proto\";", {{"b.proto", "b", 1}}};
    registry.schemas[{"b", 1}] = {
        SchemaType::kProtobuf, "syntax = \"proto3\"; import \"a.proto\";", {{"a.proto", "a", 1}}};
    CHECK(refusal("syntax = \"proto3\"; import \"a.proto\";", {{"a.proto", "a", 1}}, registry) ==
          "reference \"b.proto\" (subject \"b\" version 1): import cycle through \"a.proto\"");
  }
}

TEST_CASE("equivalent spellings of one schema share one canonical text") {
  std::string canonical = parsed(R"(syntax = "proto3"; package a.b;
    message Outer { Inner inner = 1; message Inner { int32 x = 1; } })")
                              ->canonical();
  CHECK(parsed(R"(syntax = "proto3";
    package a.b;
    // fully qualified, other spacing
    message Outer {
      .a.b.Outer.Inner inner = 1;
      message Inner {
        int32 x = 1;
      }
    })")
            ->canonical() == canonical);
  CHECK(parsed("syntax = \"proto3\"; package a.b; message Outer { b.Outer.Inner inner = 1; message Inner { "
               "int32 x = 1; } }")
            ->canonical() == canonical);
  // field order and option order are part of the canonical text, not of the normalized one
  auto one = parsed(
      "syntax = \"proto3\"; option java_package = \"p\"; option go_package = \"g\"; message M { int32 a = 1; "
      "int32 b = 2; }");
  auto two = parsed(
      "syntax = \"proto3\"; option go_package = \"g\"; option java_package = \"p\"; message M { int32 b = 2; "
      "int32 a = 1; }");
  CHECK(one->canonical() != two->canonical());
  CHECK(one->normalized() == two->normalized());
}

TEST_CASE(
    "normalize sorts imports, options, fields, oneofs, enum values and reserved ranges but keeps type "
    "order") {
  auto schema = parsed(R"(syntax = "proto3";
    import "google/protobuf/wrappers.proto";
    import "google/protobuf/any.proto";
    option java_package = "p";
    option go_package = "g";
    message Z {
      reserved 9, 3;
      reserved "b", "a";
      oneof second { int32 s = 20; }
      oneof first { int32 f2 = 11; int32 f1 = 10; }
      int32 y = 2 [json_name = "why", deprecated = true];
      int32 x = 1;
    }
    message A { enum E { option allow_alias = true; ZERO = 0; TWO = 2; ONE = 1; UNO = 1; } })");
  CHECK(schema->normalized() == R"(syntax = "proto3";

import "google/protobuf/any.proto";
import "google/protobuf/wrappers.proto";

option go_package = "g";
option java_package = "p";

message Z {
  reserved 3;
  reserved 9;
  reserved "a";
  reserved "b";

  int32 x = 1;
  int32 y = 2 [
    deprecated = true,
    json_name = "why"
  ];

  oneof first {
    int32 f1 = 10;
    int32 f2 = 11;
  }
  oneof second {
    int32 s = 20;
  }
}
message A {
  enum E {
    option allow_alias = true;
    ZERO = 0;
    ONE = 1;
    UNO = 1;
    TWO = 2;
  }
}
)");
}

TEST_CASE("an empty schema is a valid, empty file") {
  CHECK(parsed("")->canonical().empty());
  CHECK(parsed("syntax = \"proto3\";")->canonical() == "syntax = \"proto3\";\n");
}

TEST_CASE("nested messages keep their index (records name them by it) around map fields") {
  auto nested_names = [](const ParsedSchema& schema) {
    const auto& outer = *dynamic_cast<const pb::ProtobufSchema&>(schema).file().message_type(0);
    std::vector<std::string> names;
    for (int i = 0; i < outer.nested_type_count(); ++i) names.push_back(outer.nested_type(i)->name());
    return names;
  };
  auto before = parsed(
      "syntax = \"proto3\"; message Outer { message A {} map<string, int32> m = 1; int32 x = 2; message B {} "
      "}");
  CHECK(nested_names(*before) == std::vector<std::string>{"A", "MEntry", "B"});
  CHECK(before->canonical() == R"(syntax = "proto3";

message Outer {
  message A {}
  map<string, int32> m = 1;
  message B {}

  int32 x = 2;
}
)");
  CHECK(nested_names(*parsed(before->canonical())) == nested_names(*before));
  CHECK(nested_names(*parsed(before->normalized())) == nested_names(*before));

  // the usual layout when it keeps them
  auto after = parsed("syntax = \"proto3\"; message Outer { map<string, int32> m = 1; message A {} }");
  CHECK(after->canonical() ==
        "syntax = \"proto3\";\n\nmessage Outer {\n  map<string, int32> m = 1;\n\n  message A {}\n}\n");
}

namespace {
// Field order inside a message is free in .proto text; everything else must survive.
void sort_fields(google::protobuf::DescriptorProto& message) {
  auto* fields = message.mutable_field();
  std::sort(fields->begin(), fields->end(), [](auto& a, auto& b) { return a.number() < b.number(); });
  for (auto& nested : *message.mutable_nested_type()) sort_fields(nested);
}
}  // namespace

TEST_CASE("every well-known file survives its canonical text unchanged") {
  for (const char* name :
       {"google/protobuf/descriptor.proto", "google/protobuf/any.proto", "google/protobuf/api.proto",
        "google/protobuf/duration.proto", "google/protobuf/empty.proto", "google/protobuf/field_mask.proto",
        "google/protobuf/source_context.proto", "google/protobuf/struct.proto",
        "google/protobuf/timestamp.proto", "google/protobuf/type.proto", "google/protobuf/wrappers.proto"}) {
    INFO(name);
    google::protobuf::FileDescriptorProto original;
    google::protobuf::DescriptorPool::generated_pool()->FindFileByName(name)->CopyTo(&original);
    original.set_name("default");
    std::vector<SchemaReference> refs;
    for (const auto& import : original.dependency()) refs.push_back({import, import, 1});
    Registry registry;
    for (const auto& import : original.dependency()) {
      google::protobuf::FileDescriptorProto dependency;
      google::protobuf::DescriptorPool::generated_pool()->FindFileByName(import)->CopyTo(&dependency);
      registry.schemas[{import, 1}] = {SchemaType::kProtobuf, to_base64(dependency.SerializeAsString()), {}};
    }
    auto schema =
        parsed(parsed(to_base64(original.SerializeAsString()), refs, registry)->canonical(), refs, registry);
    google::protobuf::FileDescriptorProto again;
    dynamic_cast<const pb::ProtobufSchema&>(*schema).file().CopyTo(&again);
    for (auto* file : {&original, &again}) {
      for (auto& message : *file->mutable_message_type()) sort_fields(message);
    }
    CHECK(again.DebugString() == original.DebugString());
  }
}
