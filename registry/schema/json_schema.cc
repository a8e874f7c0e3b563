// The JSON schema type: parse_json_schema and json_read_problems (see schema_types.h).
//
// Canonical form, as Confluent's JsonSchema.canonicalString(): the document as compact JSON,
// keys in the order written, numbers as exact decimals. Normalized form: the same with the keys
// of every object sorted.
#include "registry/schema/json_schema.h"

#include <set>

#include "registry/schema/references.h"
#include "registry/schema/schema_types.h"

namespace kb::registry::detail {

namespace {

class JsonSchema final : public ParsedSchema {
 public:
  JsonSchema(const Json& document, std::unique_ptr<jsonschema::Model> model,
             std::vector<SchemaReference> references)
      : model_(std::move(model)), references_(std::move(references)) {
    canonical_ = to_json(document, {.numbers = NumberStyle::kBigDecimal});
    normalized_ = to_json(document, {.numbers = NumberStyle::kBigDecimal, .sort_keys = true});
    if (const Json* title = document.is_object() ? document.find("title") : nullptr; title && title->is_string())
      title_ = title->text();
  }

  SchemaType type() const override { return SchemaType::kJson; }
  const std::string& canonical() const override { return canonical_; }
  const std::vector<SchemaReference>& references() const override { return references_; }
  std::string normalized() const override { return normalized_; }
  std::optional<std::string> formatted(std::string_view format) const override {
    if (format.empty() || format == "default") return canonical_;
    return std::nullopt;
  }

  std::optional<std::string> record_name(const std::vector<int32_t>&) const override { return title_; }

  const jsonschema::Schema& root() const { return *model_->root; }

 private:
  std::unique_ptr<jsonschema::Model> model_;
  std::vector<SchemaReference> references_;
  std::string canonical_;
  std::string normalized_;
  std::optional<std::string> title_;
};

// Confluent's json.diff.Difference wording, grouped as it groups the types.
std::string describe(const jsonschema::Difference& d) {
  static const std::set<std::string_view> kKeywordAddedOrRemoved = {"MAXIMUM_ADDED",
                                                                    "MINIMUM_ADDED",
                                                                    "EXCLUSIVE_MAXIMUM_ADDED",
                                                                    "EXCLUSIVE_MINIMUM_ADDED",
                                                                    "MULTIPLE_OF_ADDED",
                                                                    "MAX_LENGTH_ADDED",
                                                                    "MIN_LENGTH_ADDED",
                                                                    "PATTERN_ADDED",
                                                                    "REQUIRED_ATTRIBUTE_ADDED",
                                                                    "MAX_PROPERTIES_ADDED",
                                                                    "MIN_PROPERTIES_ADDED",
                                                                    "DEPENDENCY_ARRAY_ADDED",
                                                                    "DEPENDENCY_SCHEMA_ADDED",
                                                                    "MAX_ITEMS_ADDED",
                                                                    "MIN_ITEMS_ADDED",
                                                                    "UNIQUE_ITEMS_ADDED",
                                                                    "ADDITIONAL_ITEMS_REMOVED",
                                                                    "ADDITIONAL_PROPERTIES_REMOVED"};
  static const std::set<std::string_view> kValueIncreased = {
      "MIN_LENGTH_INCREASED",     "MINIMUM_INCREASED",    "EXCLUSIVE_MINIMUM_INCREASED",
      "MIN_PROPERTIES_INCREASED", "MULTIPLE_OF_EXPANDED", "MIN_ITEMS_INCREASED"};
  static const std::set<std::string_view> kValueDecreased = {
      "MAX_LENGTH_DECREASED", "MAXIMUM_DECREASED", "MAX_ITEMS_DECREASED", "EXCLUSIVE_MAXIMUM_DECREASED",
      "MAX_PROPERTIES_DECREASED"};
  static const std::set<std::string_view> kValueChanged = {"PATTERN_CHANGED", "MULTIPLE_OF_CHANGED",
                                                           "DEPENDENCY_ARRAY_CHANGED"};
  static const std::set<std::string_view> kTypeNarrowed = {"ADDITIONAL_ITEMS_NARROWED", "ENUM_ARRAY_NARROWED",
                                                           "SUM_TYPE_NARROWED",
                                                           "ADDITIONAL_PROPERTIES_NARROWED"};
  static const std::set<std::string_view> kTypeExtended = {
      "DEPENDENCY_ARRAY_EXTENDED", "PRODUCT_TYPE_EXTENDED", "SUM_TYPE_EXTENDED", "NOT_TYPE_EXTENDED"};
  static const std::set<std::string_view> kTypeChanged = {
      "TYPE_CHANGED", "TYPE_NARROWED", "COMBINED_TYPE_CHANGED", "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
      "ENUM_ARRAY_CHANGED"};
  const std::string p = escape_percent(d.path);
  const std::string& t = d.type;
  std::string text;
  if (kKeywordAddedOrRemoved.count(t)) {
    text = "The keyword at path '" + p + "' in the %s schema is not present in the %s schema";
  } else if (kValueIncreased.count(t)) {
    text = "The value at path '" + p + "' in the %s schema is more than its value in the %s schema";
  } else if (kValueDecreased.count(t)) {
    text = "The value at path '" + p + "' in the %s schema is less than its value in the %s schema";
  } else if (kValueChanged.count(t)) {
    text = "The value at path '" + p + "' is different between the %s and %s schema";
  } else if (kTypeNarrowed.count(t)) {
    text = "An array or combined type at path '" + p +
           "' has fewer elements in the %s schema than the %s schema";
  } else if (kTypeExtended.count(t)) {
    text =
        "An array or combined type at path '" + p + "' has more elements in the %s schema than the %s schema";
  } else if (kTypeChanged.count(t)) {
    text = "A type at path '" + p + "' is different between the %s schema and the %s schema";
  } else if (t == "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" || t == "ITEM_ADDED_TO_OPEN_CONTENT_MODEL") {
    text = "The %s schema has an open content model and has a property or item at path '" + p +
           "' which is missing in the %s schema";
  } else if (t == "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL") {
    text = "The %s schema has an unopen content model and has a required property at path '" + p +
           "' which is missing in the %s schema";
  } else if (t == "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" ||
             t == "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL") {
    text = "The %s has a closed content model and is missing a property or item present at path '" + p +
           "' in the %s schema";
  } else if (t == "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" ||
             t == "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL") {
    text = "A property or item is missing in the %s schema but present at path '" + p +
           "' in the %s schema and is not covered by its partially open content model";
  } else if (t == "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" ||
             t == "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL") {
    text = "The %s schema has a property or item at path '" + p +
           "' which is missing in the %s schema and is not covered by its partially open content model";
  }
  // Confluent's exact punctuation, mismatched quotes included.
  return "{errorType:\"" + t + "\", description:\"" + text + "'}";
}

}  // namespace

ParseResult parse_json_schema(std::string_view text, const std::vector<SchemaReference>& references,
                              const ReferenceResolver& resolve) {
  auto referenced = resolve_json_references(SchemaType::kJson, references, resolve);
  if (auto* error = std::get_if<SchemaError>(&referenced)) return *error;
  std::vector<jsonschema::NamedDocument> documents;
  for (ReferencedDocument& r : std::get<std::vector<ReferencedDocument>>(referenced)) {
    documents.push_back({r.reference.name, std::move(r.json)});
  }

  auto json = parse_json(text);
  if (auto* e = std::get_if<JsonParseError>(&json)) return SchemaError{"Invalid JSON: " + e->message};
  const Json& document = std::get<Json>(json);
  jsonschema::LoadOutcome loaded = jsonschema::load(document, documents);
  if (!loaded.model) return SchemaError{loaded.error};
  return std::make_shared<const JsonSchema>(document, std::move(loaded.model), references);
}

std::vector<std::string> json_read_problems(const ParsedSchema& reader, const ParsedSchema& writer) {
  const auto* r = dynamic_cast<const JsonSchema*>(&reader);
  const auto* w = dynamic_cast<const JsonSchema*>(&writer);
  if (r == nullptr || w == nullptr) return {"Incompatible because of different schema type"};
  // Confluent compares from the writer's schema (the original) to the reader's (the update).
  std::vector<std::string> out;
  for (const auto& d : jsonschema::incompatible_differences(w->root(), r->root())) out.push_back(describe(d));
  return out;
}

}  // namespace kb::registry::detail
