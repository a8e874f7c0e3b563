// The PROTOBUF schema type, inside registry/schema (callers outside use schema.h).
//
// A schema arrives as .proto text or as a base64 FileDescriptorProto (what confluent-kafka's
// ProtobufSerializer registers). Either way it is built into a DescriptorPool of its own, with
// its imports: the files its references name, or the well-known google/protobuf/*.proto that
// libprotobuf carries. Everything else (canonical text, compatibility) reads the built, resolved
// descriptors, so text and descriptor input of one schema are the same schema.
#pragma once

#include <google/protobuf/descriptor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/schema/schema.h"

namespace kb::registry::pb {

// One parsed schema. Owns its pool; immutable once built, so it is safe to share between
// threads (DescriptorPool lookups are const and thread-safe).
class ProtobufSchema final : public ParsedSchema {
 public:
  ProtobufSchema(std::unique_ptr<google::protobuf::DescriptorPool> pool,
                 const google::protobuf::FileDescriptor* file, std::vector<SchemaReference> references,
                 std::map<std::string, SchemaReference> imported_through);

  SchemaType type() const override { return SchemaType::kProtobuf; }
  const std::string& canonical() const override { return canonical_; }
  const std::vector<SchemaReference>& references() const override { return references_; }
  std::string normalized() const override;
  // "" and "default": canonical(); "ignore_extensions": without custom options and extensions;
  // "serialized": base64 FileDescriptorProto (named "default", as Confluent names it).
  std::optional<std::string> formatted(std::string_view format) const override;
  std::optional<std::string> record_name(const std::vector<int32_t>& message_indexes) const override;

  const google::protobuf::FileDescriptor& file() const { return *file_; }
  // The direct reference `file` was imported through; nullopt for this schema's own file, a
  // well-known type, or an import of an import (Confluent's diff treats those alike).
  const SchemaReference* reference_of(const google::protobuf::FileDescriptor& file) const;

 private:
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
  const google::protobuf::FileDescriptor* file_;
  std::vector<SchemaReference> references_;
  std::map<std::string, SchemaReference> imported_through_;  // file name -> direct reference
  std::string canonical_;
};

// ---- Text rendering (protobuf_render.cc): Confluent's ProtobufSchemaUtils.toString layout.

struct RenderOptions {
  // Confluent's normalize: imports, options, fields, oneofs, enum values and reserved ranges
  // sorted; message and enum order kept (message indexes in records depend on it).
  bool normalize = false;
  // Confluent's "ignore_extensions" format: no custom options, extension ranges or extends.
  bool ignore_extensions = false;
};
// .proto text of `file`: types fully qualified (".pkg.Msg"), maps as map<K, V>, proto3 files
// with a syntax line and proto2 files without one; parsing it again gives the same descriptors.
std::string render(const google::protobuf::FileDescriptor& file, RenderOptions options);

// ---- Compatibility (protobuf_diff.cc): Confluent's protobuf-provider SchemaDiff.

// io.confluent.kafka.schemaregistry.protobuf.diff.Difference.Type, same names and meaning.
enum class DifferenceType {
  kPackageChanged,
  kMessageAdded,
  kMessageRemoved,
  kMessageMoved,
  kEnumAdded,
  kEnumRemoved,
  kEnumConstAdded,
  kEnumConstChanged,
  kEnumConstRemoved,
  kFieldAdded,
  kFieldRemoved,
  kFieldNameChanged,
  kFieldKindChanged,
  kFieldScalarKindChanged,
  kFieldNamedTypeChanged,
  kFieldNumericLabelChanged,
  kFieldStringOrBytesLabelChanged,
  kRequiredFieldAdded,
  kRequiredFieldRemoved,
  kOneofAdded,
  kOneofRemoved,
  kOneofFieldAdded,
  kOneofFieldRemoved,
  kOneofFieldMovedToTopLevel,
  kMultipleFieldsMovedToOneof,
  kFieldMovedToExistingOneof,
};
std::string_view to_string(DifferenceType type);  // "FIELD_REMOVED", ...
// Whether Confluent lets this difference through (SchemaDiff.COMPATIBLE_CHANGES).
bool is_compatible(DifferenceType type);

struct Difference {
  DifferenceType type;
  std::string path;  // Confluent's "#/Message/Nested/<field number>" (oneof names in between)
  bool operator==(const Difference&) const = default;
};

// Every difference from `original` (the writer's schema) to `update` (the reader's).
std::vector<Difference> differences(const ProtobufSchema& original, const ProtobufSchema& update);

// Confluent's verbose entry for one difference:
//   {errorType:"FIELD_KIND_CHANGED", description:"The type of a field at path '#/M/1' in the %s
//   schema does not match the %s schema"}
// The two %s are left for the caller, as Confluent leaves them for its SchemaValidatorBuilder:
// the first names the reader's role, the second the writer's ("new", "old" for BACKWARD).
std::string describe(const Difference& difference);

}  // namespace kb::registry::pb
