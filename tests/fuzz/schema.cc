// The Schema Registry's schema parsers (Avro, JSON Schema, Protobuf text). Input: one byte
// picking the type, then the schema text; references resolve to nothing.
// Properties: parsing never crashes or throws; a schema that parses has a canonical form that
// parses again to the same canonical form, and a normalized form.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "registry/schema/schema.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kb::registry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr SchemaType kTypes[] = {SchemaType::kAvro, SchemaType::kJson, SchemaType::kProtobuf};
  SchemaType type = kTypes[data[0] % 3];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ReferenceResolver none = [](const SchemaReference&) { return std::nullopt; };
  auto parsed = parse_schema(type, text, {}, none);
  auto* schema = std::get_if<std::shared_ptr<const ParsedSchema>>(&parsed);
  if (!schema) return 0;
  const std::string& canonical = (*schema)->canonical();
  (void)(*schema)->normalized();
  auto again = parse_schema(type, canonical, {}, none);
  auto* reparsed = std::get_if<std::shared_ptr<const ParsedSchema>>(&again);
  kb::fuzz::require(reparsed && (*reparsed)->canonical() == canonical);
  return 0;
}
