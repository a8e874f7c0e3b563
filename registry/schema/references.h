// Inside registry/schema: the schemas a schema references, found through the caller's resolver
// the way Confluent's AbstractSchemaProvider.resolveReferences finds them.
#pragma once

#include <variant>
#include <vector>

#include "registry/schema/json_value.h"
#include "registry/schema/schema.h"

namespace kb::registry::detail {

struct ReferencedSchema {
  SchemaReference reference;
  ResolvedReference resolved;
};

// Every schema `references` needs, directly or through their own references: depth first,
// each one after the schemas it references, each reference name once (so a cycle ends).
// A reference that does not resolve is a SchemaError naming its subject and version.
std::variant<std::vector<ReferencedSchema>, SchemaError> resolve_references(
    const std::vector<SchemaReference>& references, const ReferenceResolver& resolve);

// The same, read as JSON documents (AVRO and JSON schemas): each must be of `type` and be
// valid JSON, or the SchemaError names the reference.
struct ReferencedDocument {
  SchemaReference reference;
  Json json;
};
std::variant<std::vector<ReferencedDocument>, SchemaError> resolve_json_references(
    SchemaType type, const std::vector<SchemaReference>& references, const ReferenceResolver& resolve);

// "reference 'name' (subject 's' version 1)", for messages.
std::string describe(const SchemaReference& ref);

}  // namespace kb::registry::detail
