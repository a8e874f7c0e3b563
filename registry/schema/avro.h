// Inside registry/schema: the Avro schema tree, its parser, its writer and the reader/writer
// resolution check. The behaviour follows the Avro Java library Confluent's registry uses
// (Schema.Parser, Schema.toString, SchemaCompatibility, Avro 1.11): its validation rules and
// messages, its JSON layout (which is Confluent's canonical form) and its compatibility rules.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "registry/schema/json_value.h"

namespace kb::registry::detail::avro {

enum class Type : uint8_t {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kEnum,
  kArray,
  kMap,
  kUnion,
  kFixed
};

// "int", "record", ... (Avro's names; also the full name of an unnamed type in a union).
std::string_view type_name(Type t);
// "INT", "RECORD", ... (how Avro Java prints a type in messages).
std::string type_enum_name(Type t);

// A named type's name: `space` empty means no namespace.
struct Name {
  std::string name;
  std::string space;
  std::string full() const { return space.empty() ? name : space + "." + name; }
  // The name as written where `default_space` is the enclosing namespace.
  std::string qualified(std::string_view default_space) const;
};

// Properties Avro does not interpret (logicalType and its parameters among them), in the order
// written.
using Props = std::vector<std::pair<std::string, Json>>;

struct Node;

struct Field {
  std::string name;
  const Node* type = nullptr;
  std::optional<std::string> doc;
  std::optional<Json> default_value;
  std::string order = "ascending";  // "ascending", "descending" or "ignore"
  std::vector<std::string> aliases;
  Props props;
};

// One schema node. Named types are shared: every use of a name points at its one definition,
// so the graph may be cyclic (a record with a field of its own type).
struct Node {
  Type type = Type::kNull;
  Name name;  // records, enums, fixed
  std::optional<std::string> doc;
  std::vector<Name> aliases;
  bool is_error = false;  // a record declared as "error"
  std::vector<Field> fields;
  std::vector<std::string> symbols;
  std::optional<std::string> enum_default;
  int32_t size = 0;
  const Node* element = nullptr;  // array items, map values
  std::vector<const Node*> branches;
  Props props;

  bool named() const { return type == Type::kRecord || type == Type::kEnum || type == Type::kFixed; }
};

// The nodes of one schema and of the schemas it references, and the named types they define.
struct Graph {
  std::vector<std::unique_ptr<Node>> nodes;
  std::map<std::string, const Node*> names;  // by full name
};

// Parses one schema document into `graph`, where the named types of earlier documents (the
// referenced schemas) are already known. Returns the root, or the reason it is not valid in
// Avro Java's words (e.g. "Illegal initial character: 1x", "Can't redefine: a.B").
struct ParseOutcome {
  const Node* root = nullptr;
  std::string error;
};
ParseOutcome parse_document(Graph& graph, const Json& document);

// The JSON text of `root` as Avro Java writes it (Schema.toString): named types in `known` are
// written by name only. `normalized` writes Confluent's normalized form instead: properties and
// aliases sorted, empty docs dropped, defaults with sorted keys and in their field's number type.
std::string write_schema(const Node& root, const std::vector<const Node*>& known, bool normalized);

// One incompatibility found by the reader/writer resolution check (Avro's
// SchemaCompatibility.Incompatibility).
struct Incompatibility {
  std::string type;      // NAME_MISMATCH, FIXED_SIZE_MISMATCH, ...
  std::string message;   // Avro's message (a field name, "expected: 4, found: 8", ...)
  std::string location;  // JSON pointer into the reader schema, e.g. /fields/0/type
};

// Why data written with `writer` cannot be read with `reader`; empty when it can. `error` is
// set when the check itself could not run (a reader field matching two writer fields).
struct ResolutionOutcome {
  std::vector<Incompatibility> incompatibilities;
  std::optional<std::string> error;
};
ResolutionOutcome check_resolution(const Node& reader, const Node& writer);

}  // namespace kb::registry::detail::avro
