// The AVRO schema type: parse_avro and avro_read_problems (see schema_types.h).
#include <algorithm>

#include "registry/schema/avro.h"
#include "registry/schema/references.h"
#include "registry/schema/schema_types.h"

namespace kb::registry::detail {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

class AvroSchema final : public ParsedSchema {
 public:
  AvroSchema(std::unique_ptr<avro::Graph> graph, const avro::Node* root, std::vector<const avro::Node*> known,
             std::vector<SchemaReference> references)
      : graph_(std::move(graph)), root_(root), known_(std::move(known)), references_(std::move(references)) {
    canonical_ = avro::write_schema(*root_, known_, false);
  }

  SchemaType type() const override { return SchemaType::kAvro; }
  const std::string& canonical() const override { return canonical_; }
  const std::vector<SchemaReference>& references() const override { return references_; }
  std::string normalized() const override { return avro::write_schema(*root_, known_, true); }

  // Confluent's formats: "default" (the canonical text) and "resolved" (referenced types
  // written out in full).
  std::optional<std::string> formatted(std::string_view format) const override {
    std::string f = lower(format);
    if (f.empty() || f == "default") return canonical_;
    if (f == "resolved") return avro::write_schema(*root_, {}, false);
    return std::nullopt;
  }

  std::optional<std::string> record_name(const std::vector<int32_t>&) const override {
    if (!root_->named()) return std::nullopt;
    return root_->name.full();
  }

  const avro::Node& root() const { return *root_; }

 private:
  std::unique_ptr<avro::Graph> graph_;
  const avro::Node* root_;
  std::vector<const avro::Node*> known_;  // the referenced schemas' roots, written by name
  std::vector<SchemaReference> references_;
  std::string canonical_;
};

// Confluent's wording for each kind of incompatibility (its avro.Difference), with "%s"
// standing for the reader's and the writer's schema.
std::string describe(const avro::Incompatibility& inc) {
  std::string path = escape_percent(inc.location);
  std::string info = escape_percent(inc.message);
  std::string description;
  if (inc.type == "FIXED_SIZE_MISMATCH") {
    description = "The size of FIXED type field at path '" + path +
                  "' in the %s schema does not match with the %s schema";
  } else if (inc.type == "TYPE_MISMATCH") {
    description =
        "The type (path '" + path + "') of a field in the %s schema does not match with the %s schema";
  } else if (inc.type == "NAME_MISMATCH") {
    description = "The name of the schema has changed (path '" + path + "')";
  } else if (inc.type == "MISSING_ENUM_SYMBOLS") {
    description =
        "The %s schema is missing enum symbols '" + info + "' at path '" + path + "' in the %s schema";
  } else if (inc.type == "MISSING_UNION_BRANCH") {
    description =
        "The %s schema is missing a type inside a union field at path '" + path + "' in the %s schema";
  } else if (inc.type == "READER_FIELD_MISSING_DEFAULT_VALUE") {
    description = "The field '" + info + "' at path '" + path +
                  "' in the %s schema has no default value and is missing in the %s schema";
  }
  return "{errorType:'" + inc.type + "', description:'" + description + "', additionalInfo:'" + info + "'}";
}

}  // namespace

ParseResult parse_avro(std::string_view text, const std::vector<SchemaReference>& references,
                       const ReferenceResolver& resolve) {
  auto referenced = resolve_json_references(SchemaType::kAvro, references, resolve);
  if (auto* error = std::get_if<SchemaError>(&referenced)) return *error;

  // The referenced schemas are parsed first into the same graph, so their named types are
  // known by name while the schema itself is parsed.
  auto graph = std::make_unique<avro::Graph>();
  std::vector<const avro::Node*> known;
  for (const ReferencedDocument& r : std::get<std::vector<ReferencedDocument>>(referenced)) {
    avro::ParseOutcome parsed = avro::parse_document(*graph, r.json);
    if (parsed.root == nullptr) return SchemaError{"Invalid " + describe(r.reference) + ": " + parsed.error};
    if (parsed.root->named()) known.push_back(parsed.root);
  }

  auto json = parse_json(text);
  if (auto* e = std::get_if<JsonParseError>(&json)) return SchemaError{"Invalid JSON: " + e->message};
  avro::ParseOutcome parsed = avro::parse_document(*graph, std::get<Json>(json));
  if (parsed.root == nullptr) return SchemaError{parsed.error};
  return std::make_shared<const AvroSchema>(std::move(graph), parsed.root, std::move(known), references);
}

std::vector<std::string> avro_read_problems(const ParsedSchema& reader, const ParsedSchema& writer) {
  const auto* r = dynamic_cast<const AvroSchema*>(&reader);
  const auto* w = dynamic_cast<const AvroSchema*>(&writer);
  if (r == nullptr || w == nullptr) return {"Incompatible because of different schema type"};
  avro::ResolutionOutcome outcome = avro::check_resolution(r->root(), w->root());
  if (outcome.error)
    return {"Unexpected exception during compatibility check: " + escape_percent(*outcome.error)};
  std::vector<std::string> out;
  for (const auto& inc : outcome.incompatibilities) out.push_back(describe(inc));
  return out;
}

}  // namespace kb::registry::detail
