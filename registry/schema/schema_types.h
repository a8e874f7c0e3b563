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
//
// As in Confluent's Difference texts, a message names the two schemas by "%s" placeholders, the
// first standing for the reader's, the second for the writer's ("... in the %s schema ... in
// the %s schema"); check_compatibility fills in "new" and "old". A literal '%' taken from the
// schema (a property name) is written "%%" (escape_percent). A message without placeholders is
// passed on as it is.
std::vector<std::string> avro_read_problems(const ParsedSchema& reader, const ParsedSchema& writer);
std::vector<std::string> json_read_problems(const ParsedSchema& reader, const ParsedSchema& writer);
std::vector<std::string> protobuf_read_problems(const ParsedSchema& reader, const ParsedSchema& writer);

// '%' doubled, for text from a schema placed in a read-problems message.
std::string escape_percent(std::string_view text);
// A read-problems message with its placeholders replaced: the first "%s" by `reader`, the
// second by `writer`; "%%" becomes '%'.
std::string fill_roles(std::string_view message, std::string_view reader, std::string_view writer);

// The level rules on their own (compatibility.cc), for a given read-problems function:
// check_compatibility is this with the function of `proposed`'s type. Which earlier versions
// are checked (the newest, or all from newest to oldest until one fails), in which directions,
// and the verbose lines Confluent adds ({oldSchemaVersion: N}, {oldSchema: '...'},
// {compatibility: 'LEVEL'}).
using ReadProblems = std::vector<std::string> (*)(const ParsedSchema& reader, const ParsedSchema& writer);
std::vector<std::string> check_levels(CompatibilityLevel level, const ParsedSchema& proposed,
                                      const std::vector<VersionedSchema>& previous,
                                      ReadProblems read_problems);

}  // namespace kb::registry::detail
