// Dispatch on the schema type: the one place that needs all three types linked.
#include "registry/schema/schema.h"

#include "registry/schema/schema_types.h"

namespace kb::registry {

ParseResult parse_schema(SchemaType type, std::string_view text,
                         const std::vector<SchemaReference>& references, const ReferenceResolver& resolve) {
  switch (type) {
    case SchemaType::kAvro:
      return detail::parse_avro(text, references, resolve);
    case SchemaType::kJson:
      return detail::parse_json_schema(text, references, resolve);
    case SchemaType::kProtobuf:
      return detail::parse_protobuf(text, references, resolve);
  }
  return SchemaError{"Unknown schema type"};
}

std::vector<std::string> check_compatibility(CompatibilityLevel level, const ParsedSchema& proposed,
                                             const std::vector<VersionedSchema>& previous) {
  detail::ReadProblems read_problems = nullptr;
  switch (proposed.type()) {
    case SchemaType::kAvro:
      read_problems = detail::avro_read_problems;
      break;
    case SchemaType::kJson:
      read_problems = detail::json_read_problems;
      break;
    case SchemaType::kProtobuf:
      read_problems = detail::protobuf_read_problems;
      break;
  }
  return detail::check_levels(level, proposed, previous, read_problems);
}

}  // namespace kb::registry
