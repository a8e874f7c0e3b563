#include "registry/schema/references.h"

#include <set>
#include <string>

namespace kb::registry::detail {

namespace {

// Far beyond any real chain of references; keeps a hostile chain from exhausting the stack.
constexpr size_t kMaxDepth = 64;

std::optional<SchemaError> visit(const std::vector<SchemaReference>& references,
                                 const ReferenceResolver& resolve, std::set<std::string>& visited,
                                 std::vector<ReferencedSchema>& out, size_t depth) {
  for (const SchemaReference& ref : references) {
    if (ref.name.empty()) return SchemaError{"Missing reference name"};
    if (!visited.insert(ref.name).second) continue;
    if (depth >= kMaxDepth)
      return SchemaError{"References nested more than " + std::to_string(kMaxDepth) + " deep"};
    std::optional<ResolvedReference> resolved = resolve ? resolve(ref) : std::nullopt;
    if (!resolved) {
      return SchemaError{"No schema reference found for subject \"" + ref.subject + "\" and version " +
                         std::to_string(ref.version)};
    }
    if (auto error = visit(resolved->references, resolve, visited, out, depth + 1)) return error;
    out.push_back(ReferencedSchema{ref, std::move(*resolved)});
  }
  return std::nullopt;
}

}  // namespace

std::string describe(const SchemaReference& ref) {
  return "reference '" + ref.name + "' (subject '" + ref.subject + "' version " +
         std::to_string(ref.version) + ")";
}

std::variant<std::vector<ReferencedDocument>, SchemaError> resolve_json_references(
    SchemaType type, const std::vector<SchemaReference>& references, const ReferenceResolver& resolve) {
  auto referenced = resolve_references(references, resolve);
  if (auto* error = std::get_if<SchemaError>(&referenced)) return *error;
  std::vector<ReferencedDocument> out;
  for (ReferencedSchema& r : std::get<std::vector<ReferencedSchema>>(referenced)) {
    if (r.resolved.type != type) {
      return SchemaError{"The " + describe(r.reference) + " is a " + std::string(to_string(r.resolved.type)) +
                         " schema; " + std::string(to_string(type)) + " schemas can only reference " +
                         std::string(to_string(type)) + " schemas"};
    }
    auto json = parse_json(r.resolved.schema);
    if (auto* e = std::get_if<JsonParseError>(&json)) {
      return SchemaError{"Invalid " + describe(r.reference) + ": " + e->message};
    }
    out.push_back(ReferencedDocument{std::move(r.reference), std::move(std::get<Json>(json))});
  }
  return out;
}

std::variant<std::vector<ReferencedSchema>, SchemaError> resolve_references(
    const std::vector<SchemaReference>& references, const ReferenceResolver& resolve) {
  std::vector<ReferencedSchema> out;
  std::set<std::string> visited;
  if (auto error = visit(references, resolve, visited, out, 0)) return *error;
  return out;
}

}  // namespace kb::registry::detail
