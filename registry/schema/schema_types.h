// Inside registry/schema: what each schema type provides to schema.cc, which dispatches on
// SchemaType. Not for callers outside this folder (they use schema.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "registry/schema/schema.h"

namespace kb::registry::detail {

ParseResult parse_avro(std::string_view text, const std::vector<SchemaReference>& references,
                       const ReferenceResolver& resolve);
ParseResult parse_json_schema(std::string_view text, const std::vector<SchemaReference>& references,
                              const ReferenceResolver& resolve);
ParseResult parse_protobuf(std::string_view text, const std::vector<SchemaReference>& references,
                           const ReferenceResolver& resolve);

// Why data written with `writer` cannot be read with `reader` (both of the named type), one
// entry per difference, in Confluent's wording for that type (its error type name, where, and
// a description); empty when it can. BACKWARD asks (reader = new, writer = old), FORWARD the
// reverse, FULL both.
std::vector<std::string> avro_read_problems(const ParsedSchema& reader, const ParsedSchema& writer);
std::vector<std::string> json_read_problems(const ParsedSchema& reader, const ParsedSchema& writer);
std::vector<std::string> protobuf_read_problems(const ParsedSchema& reader, const ParsedSchema& writer);

}  // namespace kb::registry::detail
