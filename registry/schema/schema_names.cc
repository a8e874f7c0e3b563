// The names of schema types and compatibility levels as Confluent's REST API spells them.
#include <array>
#include <utility>

#include "registry/schema/schema.h"

namespace kb::registry {

namespace {

constexpr std::array<std::pair<SchemaType, std::string_view>, 3> kTypes = {{
    {SchemaType::kAvro, "AVRO"},
    {SchemaType::kJson, "JSON"},
    {SchemaType::kProtobuf, "PROTOBUF"},
}};

constexpr std::array<std::pair<CompatibilityLevel, std::string_view>, 7> kLevels = {{
    {CompatibilityLevel::kNone, "NONE"},
    {CompatibilityLevel::kBackward, "BACKWARD"},
    {CompatibilityLevel::kBackwardTransitive, "BACKWARD_TRANSITIVE"},
    {CompatibilityLevel::kForward, "FORWARD"},
    {CompatibilityLevel::kForwardTransitive, "FORWARD_TRANSITIVE"},
    {CompatibilityLevel::kFull, "FULL"},
    {CompatibilityLevel::kFullTransitive, "FULL_TRANSITIVE"},
}};

template <typename Table, typename Key>
std::string_view name_of(const Table& table, Key key) {
  for (const auto& [k, name] : table) {
    if (k == key) return name;
  }
  return "";
}

template <typename Table>
auto value_of(const Table& table, std::string_view name)
    -> std::optional<typename Table::value_type::first_type> {
  for (const auto& [k, n] : table) {
    if (n == name) return k;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(SchemaType t) { return name_of(kTypes, t); }

std::optional<SchemaType> schema_type_from(std::string_view name) { return value_of(kTypes, name); }

std::string_view to_string(CompatibilityLevel level) { return name_of(kLevels, level); }

std::optional<CompatibilityLevel> compatibility_level_from(std::string_view name) {
  return value_of(kLevels, name);
}

}  // namespace kb::registry
