// Schemas as the Schema Registry sees them: parsing and validation of the three types
// Confluent's registry knows (AVRO, JSON, PROTOBUF), the canonical text used for equality,
// normalization, references between schemas, and compatibility between versions.
//
// Pure functions over text: no I/O, no threads, no clock. The registry service (registry/)
// owns subjects, versions and ids; it resolves references for the parser through a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kb::registry {

enum class SchemaType { kAvro, kJson, kProtobuf };

// "AVRO", "JSON", "PROTOBUF" (Confluent's schemaType strings).
std::string_view to_string(SchemaType t);
// The type named by a request's "schemaType"; nullopt for an unknown name.
std::optional<SchemaType> schema_type_from(std::string_view name);

// A reference from one schema to another registered one (Confluent's SchemaReference): `name`
// is how the referring schema names it (an Avro full type name, a JSON Schema $ref URL, a
// Protobuf import path).
struct SchemaReference {
  std::string name;
  std::string subject;
  int32_t version = 0;
  bool operator==(const SchemaReference&) const = default;
};

// A referenced schema as stored in the registry, found by the caller.
struct ResolvedReference {
  SchemaType type = SchemaType::kAvro;
  std::string schema;                       // its text as registered
  std::vector<SchemaReference> references;  // its own references, resolved the same way
};

// Looks up subject + version of a reference. nullopt when there is no such schema.
using ReferenceResolver = std::function<std::optional<ResolvedReference>(const SchemaReference&)>;

// Why a schema was refused: the parser's reason, in words a user can act on (the registry
// answers 42201 "Invalid schema" with it).
struct SchemaError {
  std::string message;
};

// A parsed, valid schema. Immutable; safe to share between threads.
class ParsedSchema {
 public:
  virtual ~ParsedSchema() = default;
  virtual SchemaType type() const = 0;
  // The form the registry stores and compares (Confluent's canonicalString()): two
  // registrations with equal canonical text are the same schema.
  virtual const std::string& canonical() const = 0;
  // The references this schema was parsed with.
  virtual const std::vector<SchemaReference>& references() const = 0;
  // Confluent's `normalize=true` form: a canonical text that ignores differences that do not
  // change meaning (e.g. order of JSON object keys, Protobuf option order, Avro aliases
  // order); equal to canonical() where the type has no such differences.
  virtual std::string normalized() const = 0;
  // The schema text to return for a "format" query parameter (e.g. Protobuf "serialized":
  // base64 FileDescriptorProto; Avro "resolved": references inlined); nullopt for a format
  // this type does not know.
  virtual std::optional<std::string> formatted(std::string_view format) const = 0;
  // The record name Confluent's RecordNameStrategy gives a record written with this schema: an
  // AVRO named type's full name, a JSON schema's "title", the full name of the PROTOBUF message
  // a record's message indexes point to ({0}: the file's first message; {1, 0}: the first
  // message nested in the second). nullopt when there is none.
  virtual std::optional<std::string> record_name(const std::vector<int32_t>& message_indexes) const = 0;
};

using ParseResult = std::variant<std::shared_ptr<const ParsedSchema>, SchemaError>;

// Parses and validates `text` of type `type`. `references` are resolved through `resolve`
// (recursively); a reference that does not resolve or does not parse is a SchemaError naming it.
ParseResult parse_schema(SchemaType type, std::string_view text, const std::vector<SchemaReference>& references,
                         const ReferenceResolver& resolve);

// Confluent's compatibility levels.
enum class CompatibilityLevel {
  kNone,
  kBackward,
  kBackwardTransitive,
  kForward,
  kForwardTransitive,
  kFull,
  kFullTransitive,
};
std::string_view to_string(CompatibilityLevel level);                       // "BACKWARD", ...
std::optional<CompatibilityLevel> compatibility_level_from(std::string_view name);  // exact names

// One earlier version of a subject.
struct VersionedSchema {
  int32_t version = 0;
  std::shared_ptr<const ParsedSchema> schema;
};

// Checks `proposed` against the earlier versions of its subject, `previous` oldest first (the
// non-transitive levels look only at the newest). Returns one message per incompatibility, in
// Confluent's verbose wording (each names the kind of difference, where it is, the old
// version it breaks and the level); empty when compatible. A schema of another type than
// `proposed` is incompatible with it.
std::vector<std::string> check_compatibility(CompatibilityLevel level, const ParsedSchema& proposed,
                                             const std::vector<VersionedSchema>& previous);

}  // namespace kb::registry
