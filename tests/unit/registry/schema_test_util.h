// Helpers for the schema library's tests: parse a schema or get its refusal, a registry of
// referenced schemas, and the level rules over one type's read-problems function.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "registry/schema/schema_types.h"

namespace kbtest {

using kb::registry::CompatibilityLevel;
using kb::registry::ParsedSchema;
using kb::registry::ResolvedReference;
using kb::registry::SchemaError;
using kb::registry::SchemaReference;
using kb::registry::SchemaType;
using kb::registry::VersionedSchema;
using Schema = std::shared_ptr<const ParsedSchema>;

// Schemas registered under subjects, for references to find.
class Subjects {
 public:
  void add(const std::string& subject, int32_t version, SchemaType type, std::string text,
           std::vector<SchemaReference> refs = {}) {
    schemas_[{subject, version}] = ResolvedReference{type, std::move(text), std::move(refs)};
  }
  kb::registry::ReferenceResolver resolver() const {
    return [this](const SchemaReference& ref) -> std::optional<ResolvedReference> {
      auto it = schemas_.find({ref.subject, ref.version});
      if (it == schemas_.end()) return std::nullopt;
      return it->second;
    };
  }

 private:
  std::map<std::pair<std::string, int32_t>, ResolvedReference> schemas_;
};

inline kb::registry::ParseResult parse(SchemaType type, const std::string& text,
                                       const std::vector<SchemaReference>& refs = {},
                                       const Subjects* subjects = nullptr) {
  kb::registry::ReferenceResolver resolve =
      subjects ? subjects->resolver() : kb::registry::ReferenceResolver{};
  return type == SchemaType::kAvro ? kb::registry::detail::parse_avro(text, refs, resolve)
                                   : kb::registry::detail::parse_json_schema(text, refs, resolve);
}

inline Schema valid(SchemaType type, const std::string& text, const std::vector<SchemaReference>& refs = {},
                    const Subjects* subjects = nullptr) {
  auto r = parse(type, text, refs, subjects);
  if (auto* e = std::get_if<SchemaError>(&r)) FAIL("refused: " << e->message << "\nschema: " << text);
  return std::get<Schema>(r);
}

inline std::string refusal(SchemaType type, const std::string& text,
                           const std::vector<SchemaReference>& refs = {},
                           const Subjects* subjects = nullptr) {
  auto r = parse(type, text, refs, subjects);
  if (std::holds_alternative<Schema>(r)) FAIL("accepted: " << text);
  return std::get<SchemaError>(r).message;
}

// The level rules with the read-problems function of `proposed`'s type, over earlier
// versions numbered 1, 2, ... oldest first.
inline std::vector<std::string> check(CompatibilityLevel level, const Schema& proposed,
                                      const std::vector<Schema>& previous) {
  std::vector<VersionedSchema> versions;
  for (size_t i = 0; i < previous.size(); ++i) versions.push_back({static_cast<int32_t>(i + 1), previous[i]});
  auto read_problems = proposed->type() == SchemaType::kAvro ? kb::registry::detail::avro_read_problems
                                                             : kb::registry::detail::json_read_problems;
  return kb::registry::detail::check_levels(level, *proposed, versions, read_problems);
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

inline bool compatible(CompatibilityLevel level, const Schema& proposed,
                       const std::vector<Schema>& previous) {
  auto problems = check(level, proposed, previous);
  INFO(joined(problems));
  return problems.empty();
}

// One change from an old to a new schema and whether BACKWARD and FORWARD accept it.
struct Evolution {
  const char* change;
  Schema old_schema, new_schema;
  bool backward, forward;
};

// Each evolution at each non-transitive level: FULL accepts what both directions accept,
// NONE accepts everything.
inline void check_evolutions(const std::vector<Evolution>& cases) {
  for (const auto& c : cases) {
    INFO(c.change);
    CHECK(compatible(CompatibilityLevel::kBackward, c.new_schema, {c.old_schema}) == c.backward);
    CHECK(compatible(CompatibilityLevel::kForward, c.new_schema, {c.old_schema}) == c.forward);
    CHECK(compatible(CompatibilityLevel::kFull, c.new_schema, {c.old_schema}) == (c.backward && c.forward));
    CHECK(compatible(CompatibilityLevel::kNone, c.new_schema, {c.old_schema}));
  }
}

}  // namespace kbtest
