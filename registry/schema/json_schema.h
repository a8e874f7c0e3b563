// Inside registry/schema: JSON Schema documents loaded into the schema model Confluent's
// compatibility rules are written against (the Everit library's: a schema is an object,
// array, string, number, boolean, null, enum, const, combined (allOf/anyOf/oneOf), not,
// reference, conditional, empty, true or false schema), and the comparison of two of them
// (Confluent's json.diff.SchemaDiff).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "registry/schema/json_value.h"

namespace kb::registry::detail::jsonschema {

enum class Draft { k4, k6, k7, k2019, k2020 };

enum class Kind : uint8_t {
  kEmpty,
  kTrue,
  kFalse,
  kObject,
  kArray,
  kString,
  kNumber,
  kBoolean,
  kNull,
  kEnum,
  kConst,
  kCombined,
  kNot,
  kReference,
  kConditional,
};

enum class Criterion : uint8_t { kAllOf, kAnyOf, kOneOf };
std::string_view criterion_name(Criterion c);  // "allOf", "anyOf", "oneOf"

struct Schema {
  Kind kind = Kind::kEmpty;
  // Equal for two subschemas that are the same schema (Confluent collapses duplicate
  // subschemas of a combined schema): the kind and the JSON it was loaded from.
  std::string identity;

  std::optional<std::string> id, title, description;
  std::optional<Json> default_value;
  std::optional<std::string> connect_type;  // the "connect.type" annotation of Kafka Connect

  // string
  std::optional<int64_t> min_length, max_length;
  std::optional<std::string> pattern;
  // number ("integer" is a number that requires an integer)
  bool requires_integer = false;
  std::optional<double> minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;
  // object
  std::vector<std::pair<std::string, const Schema*>> properties;
  std::vector<std::string> required;
  bool permits_additional_properties = true;
  const Schema* additional_properties = nullptr;
  std::vector<std::pair<std::string, const Schema*>> pattern_properties;
  std::vector<std::pair<std::string, std::vector<std::string>>> property_dependencies;
  std::vector<std::pair<std::string, const Schema*>> schema_dependencies;
  std::optional<int64_t> min_properties, max_properties;
  // array
  const Schema* all_items = nullptr;
  std::vector<const Schema*> item_schemas;
  bool permits_additional_items = true;
  const Schema* additional_items = nullptr;
  std::optional<int64_t> min_items, max_items;
  bool unique_items = false;
  // enum and const
  std::vector<Json> values;
  // combined
  Criterion criterion = Criterion::kAllOf;
  std::vector<const Schema*> subschemas;
  // not
  const Schema* not_schema = nullptr;
  // reference
  std::string ref;
  const Schema* target = nullptr;

  const Schema* property(std::string_view name) const;
  bool is_required(std::string_view name) const;
};

// A schema document and the documents it references, loaded.
struct Model {
  std::vector<std::unique_ptr<Schema>> nodes;
  const Schema* root = nullptr;
};

// A referenced document: the name the schema uses for it (a $ref URL) and its JSON.
struct NamedDocument {
  std::string name;
  Json json;
};

// Loads and validates `document` (a JSON Schema, draft 4, 6, 7, 2019-09 or 2020-12 by its
// "$schema"; draft 7 without one), resolving every $ref: inside the document by JSON pointer or
// $id, and to `referenced` documents by name. On failure `error` says what is wrong and where
// ("#/properties/age/minimum: ...").
struct LoadOutcome {
  std::unique_ptr<Model> model;
  std::string error;
};
LoadOutcome load(const Json& document, const std::vector<NamedDocument>& referenced);

// One difference between two schemas (Confluent's json.diff.Difference): its type name and the
// JSON path where it is, e.g. {"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "#/properties/x"}.
struct Difference {
  std::string type;
  std::string path;
};

// The differences from `original` to `update` that make data valid under `original` invalid
// under `update` (Confluent's SchemaDiff.compare, keeping the incompatible differences only).
std::vector<Difference> incompatible_differences(const Schema& original, const Schema& update);

}  // namespace kb::registry::detail::jsonschema
