// The Avro parser and writer. Both mirror Avro Java 1.11 (Schema.parse and Schema.toJson),
// which is what Confluent's registry runs: the same documents are valid, with the same reasons,
// and the same canonical text comes out.
#include "registry/schema/avro.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace kb::registry::detail::avro {

namespace {

constexpr Type kPrimitives[] = {Type::kNull,  Type::kBoolean, Type::kInt,   Type::kLong,
                                Type::kFloat, Type::kDouble,  Type::kBytes, Type::kString};

std::optional<Type> primitive_type(std::string_view name) {
  for (Type t : kPrimitives) {
    if (type_name(t) == name) return t;
  }
  return std::nullopt;
}

std::string compact(const Json& j) { return to_json(j); }

// A parse failure, with Avro Java's message. Thrown and caught only inside this file: the
// recursive parser stays readable and parse_document returns the message as a value.
struct ParseFailure {
  std::string message;
};

[[noreturn]] void fail(std::string message) { throw ParseFailure{std::move(message)}; }

// Avro's name rule: a letter or '_' first, then letters, digits or '_'.
const std::string& validate_name(const std::string& name) {
  if (name.empty()) fail("Empty name");
  auto letter = [](unsigned char c) { return std::isalpha(c) || c >= 0x80; };
  if (!(letter(name[0]) || name[0] == '_')) fail("Illegal initial character: " + name);
  for (size_t i = 1; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (!(letter(c) || std::isdigit(c) || c == '_')) fail("Illegal character in: " + name);
  }
  return name;
}

// Avro's Name(name, space): a dotted name carries its own namespace.
Name make_name(const std::string& name, const std::string& space) {
  Name n;
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) {
    n.name = validate_name(name);
    n.space = space;
  } else {
    n.space = name.substr(0, dot);
    n.name = validate_name(name.substr(dot + 1));
  }
  return n;
}

const std::string* text_member(const Json& j, std::string_view key) {
  const Json* v = j.is_object() ? j.find(key) : nullptr;
  return v != nullptr && v->is_string() ? &v->text() : nullptr;
}

const std::string& required_text(const Json& j, std::string_view key, std::string_view error) {
  const std::string* v = text_member(j, key);
  if (v == nullptr) fail(std::string(error) + ": " + compact(j));
  return *v;
}

std::optional<std::string> optional_text(const Json& j, std::string_view key) {
  const std::string* v = text_member(j, key);
  return v ? std::optional<std::string>(*v) : std::nullopt;
}

std::vector<std::string> parse_aliases(const Json& j) {
  std::vector<std::string> out;
  const Json* node = j.find("aliases");
  if (node == nullptr) return out;
  if (!node->is_array()) fail("aliases not an array: " + compact(j));
  for (const Json& a : node->items()) {
    if (!a.is_string()) fail("alias not a string: " + compact(a));
    if (std::find(out.begin(), out.end(), a.text()) == out.end()) out.push_back(a.text());
  }
  return out;
}

bool is_reserved(std::string_view key, bool is_enum) {
  static const std::set<std::string_view> kReserved = {"doc",  "fields",  "items",  "name", "namespace",
                                                       "size", "symbols", "values", "type", "aliases"};
  return kReserved.count(key) != 0 || (is_enum && key == "default");
}

bool is_field_reserved(std::string_view key) {
  static const std::set<std::string_view> kReserved = {"default", "doc", "name", "order", "type", "aliases"};
  return kReserved.count(key) != 0;
}

bool fits_int32(const Json& j) {
  auto v = j.as_int64();
  return v && *v >= INT32_MIN && *v <= INT32_MAX;
}

// Avro's isValidDefault: a union's default matches its first branch.
bool valid_default(const Node& s, const Json* v) {
  if (v == nullptr) return false;
  switch (s.type) {
    case Type::kString:
    case Type::kBytes:
    case Type::kEnum:
    case Type::kFixed:
      return v->is_string();
    case Type::kInt:
      return v->is_int() && fits_int32(*v);
    case Type::kLong:
      return v->is_int() && v->as_int64().has_value();
    case Type::kFloat:
    case Type::kDouble:
      return v->is_number();
    case Type::kBoolean:
      return v->is_bool();
    case Type::kNull:
      return v->is_null();
    case Type::kArray:
      if (!v->is_array()) return false;
      for (const Json& e : v->items()) {
        if (!valid_default(*s.element, &e)) return false;
      }
      return true;
    case Type::kMap:
      if (!v->is_object()) return false;
      for (const auto& [k, e] : v->members()) {
        if (!valid_default(*s.element, &e)) return false;
      }
      return true;
    case Type::kUnion:
      return !s.branches.empty() && valid_default(*s.branches[0], v);
    case Type::kRecord:
      if (!v->is_object()) return false;
      for (const Field& f : s.fields) {
        const Json* fv = v->find(f.name);
        if (fv == nullptr && f.default_value) fv = &*f.default_value;
        if (!valid_default(*f.type, fv)) return false;
      }
      return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(Graph& graph) : graph_(graph) {}

  const Node* parse(const Json& j) {
    if (j.is_string()) {
      const Node* n = lookup(j.text());
      if (n == nullptr) fail("Undefined name: " + compact(j));
      return n;
    }
    if (j.is_array()) return parse_union(j);
    if (!j.is_object()) fail("Schema not yet supported: " + compact(j));

    const std::string& type = required_text(j, "type", "No type");
    std::string saved_space = space_;
    bool is_record = type == "record" || type == "error";
    bool named = is_record || type == "enum" || type == "fixed";
    Name name;
    std::optional<std::string> doc;
    if (named) {
      std::string space = optional_text(j, "namespace").value_or(saved_space);
      doc = optional_text(j, "doc");
      name = make_name(required_text(j, "name", "No name in schema"), space);
      space_ = name.space;
    }
    Node* n = nullptr;
    if (auto p = primitive_type(type)) {
      n = make(*p);
    } else if (is_record) {
      n = make_named(Type::kRecord, name, doc);
      n->is_error = type == "error";
      parse_fields(j, *n);
    } else if (type == "enum") {
      n = parse_enum(j, name, doc);
    } else if (type == "array" || type == "map") {
      const char* key = type == "array" ? "items" : "values";
      const Json* element = j.find(key);
      if (element == nullptr) {
        fail(std::string(type == "array" ? "Array has no items type: " : "Map has no values type: ") +
             compact(j));
      }
      n = make(type == "array" ? Type::kArray : Type::kMap);
      n->element = parse(*element);
    } else if (type == "fixed") {
      const Json* size = j.find("size");
      if (size == nullptr || !fits_int32(*size)) fail("Invalid or no size: " + compact(j));
      int32_t value = static_cast<int32_t>(*size->as_int64());
      if (value < 0) fail("Malformed data. Length is negative: " + std::to_string(value));
      n = make_named(Type::kFixed, name, doc);
      n->size = value;
    } else {
      // {"type": "a.B"} names a type defined earlier (how a union refers to its own record).
      Name ref = make_name(type, space_);
      auto it = graph_.names.find(ref.full());
      if (it != graph_.names.end()) return it->second;
      fail("Type not supported: " + type);
    }
    for (const auto& [key, value] : j.members()) {
      if (!is_reserved(key, n->type == Type::kEnum)) n->props.emplace_back(key, value);
    }
    space_ = saved_space;
    if (n->named()) {
      for (const std::string& alias : parse_aliases(j)) {
        Name a = make_name(alias, n->name.space);
        bool seen = std::any_of(n->aliases.begin(), n->aliases.end(),
                                [&](const Name& x) { return x.full() == a.full(); });
        if (!seen) n->aliases.push_back(a);
      }
    }
    return n;
  }

 private:
  Node* make(Type t) {
    graph_.nodes.push_back(std::make_unique<Node>());
    graph_.nodes.back()->type = t;
    return graph_.nodes.back().get();
  }

  Node* make_named(Type t, const Name& name, const std::optional<std::string>& doc) {
    if (primitive_type(name.full())) fail("Schemas may not be named after primitives: " + name.full());
    Node* n = make(t);
    n->name = name;
    n->doc = doc;
    if (!graph_.names.emplace(name.full(), n).second) fail("Can't redefine: " + name.full());
    return n;
  }

  // Avro's Names.get: a primitive, a name in the current namespace, or a name without one.
  const Node* lookup(const std::string& text) {
    if (auto p = primitive_type(text)) return make(*p);
    Name n = make_name(text, space_);
    auto it = graph_.names.find(n.full());
    if (it == graph_.names.end()) it = graph_.names.find(make_name(text, "").full());
    return it == graph_.names.end() ? nullptr : it->second;
  }

  void parse_fields(const Json& j, Node& record) {
    const Json* fields = j.find("fields");
    if (fields == nullptr || !fields->is_array()) fail("Record has no fields: " + compact(j));
    for (const Json& fj : fields->items()) {
      Field f;
      f.name = required_text(fj, "name", "No field name");
      f.doc = optional_text(fj, "doc");
      const Json* type = fj.find("type");
      if (type == nullptr) fail("No field type: " + compact(fj));
      if (type->is_string() && lookup(type->text()) == nullptr) {
        fail(compact(*type) + " is not a defined name. The type of the \"" + f.name +
             "\" field must be a defined name or a {\"type\": ...} expression.");
      }
      f.type = parse(*type);
      if (const Json* order = fj.find("order")) {
        std::string o = order->is_string() ? order->text() : compact(*order);
        std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return std::tolower(c); });
        if (o != "ascending" && o != "descending" && o != "ignore")
          fail("Invalid field order: " + compact(*order));
        f.order = o;
      }
      validate_name(f.name);
      if (const Json* def = fj.find("default")) {
        Json value = *def;
        bool floating = f.type->type == Type::kFloat || f.type->type == Type::kDouble;
        bool converted = floating && def->is_string();
        if (converted) value = text_to_double(f.name, def->text());
        if (!converted && !valid_default(*f.type, &value)) {
          fail("Invalid default for field " + f.name + ": " + compact(*def) + " not a " +
               write_schema(*f.type, {}, false));
        }
        f.default_value = std::move(value);
      }
      for (const auto& [key, value] : fj.members()) {
        if (!is_field_reserved(key)) f.props.emplace_back(key, value);
      }
      f.aliases = parse_aliases(fj);
      for (size_t i = 0; i < record.fields.size(); ++i) {
        const Field& other = record.fields[i];
        if (other.name == f.name) {
          fail("Duplicate field " + f.name + " in record " + record.name.full() + ": " + f.name + " type:" +
               type_enum_name(f.type->type) + " pos:" + std::to_string(record.fields.size()) + " and " +
               other.name + " type:" + type_enum_name(other.type->type) + " pos:" + std::to_string(i) + ".");
        }
      }
      record.fields.push_back(std::move(f));
    }
  }

  // Avro reads a textual default of a float or double field as a number ("NaN", "1.5").
  static Json text_to_double(const std::string& field, const std::string& text) {
    if (text == "NaN" || text == "Infinity" || text == "-Infinity") return Json::string(text);
    double d = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || p != text.data() + text.size()) {
      fail("Invalid default for field " + field + ": \"" + text + "\" is not a number");
    }
    return Json::floating(java_double_string(d));
  }

  Node* parse_enum(const Json& j, const Name& name, const std::optional<std::string>& doc) {
    const Json* symbols = j.find("symbols");
    if (symbols == nullptr || !symbols->is_array()) fail("Enum has no symbols: " + compact(j));
    Node* n = make_named(Type::kEnum, name, doc);
    for (const Json& s : symbols->items()) {
      if (!s.is_string()) fail("Null name");
      validate_name(s.text());
      if (std::find(n->symbols.begin(), n->symbols.end(), s.text()) != n->symbols.end()) {
        fail("Duplicate enum symbol: " + s.text());
      }
      n->symbols.push_back(s.text());
    }
    if (auto def = optional_text(j, "default")) {
      if (std::find(n->symbols.begin(), n->symbols.end(), *def) == n->symbols.end()) {
        std::string list;
        for (const auto& s : n->symbols) list += (list.empty() ? "" : ", ") + s;
        fail("The Enum Default: " + *def + " is not in the enum symbol set: [" + list + "]");
      }
      n->enum_default = def;
    }
    return n;
  }

  const Node* parse_union(const Json& j) {
    Node* n = make(Type::kUnion);
    std::set<std::string> seen;
    for (const Json& b : j.items()) {
      const Node* branch = parse(b);
      if (branch->type == Type::kUnion) fail("Nested union: " + compact(j));
      std::string name = branch->named() ? branch->name.full() : std::string(type_name(branch->type));
      if (!seen.insert(name).second) fail("Duplicate in union:" + name);
      n->branches.push_back(branch);
    }
    return n;
  }

  Graph& graph_;
  std::string space_;  // the enclosing namespace while parsing
};

}  // namespace

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kNull:
      return "null";
    case Type::kBoolean:
      return "boolean";
    case Type::kInt:
      return "int";
    case Type::kLong:
      return "long";
    case Type::kFloat:
      return "float";
    case Type::kDouble:
      return "double";
    case Type::kBytes:
      return "bytes";
    case Type::kString:
      return "string";
    case Type::kRecord:
      return "record";
    case Type::kEnum:
      return "enum";
    case Type::kArray:
      return "array";
    case Type::kMap:
      return "map";
    case Type::kUnion:
      return "union";
    case Type::kFixed:
      return "fixed";
  }
  return "";
}

std::string type_enum_name(Type t) {
  std::string s(type_name(t));
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Name::qualified(std::string_view default_space) const {
  if (space.empty() || space != default_space) return full();
  // A short name that reads as a type keyword must keep its namespace.
  static constexpr Type kAll[] = {Type::kRecord, Type::kEnum,   Type::kArray,   Type::kMap, Type::kUnion,
                                  Type::kFixed,  Type::kString, Type::kBytes,   Type::kInt, Type::kLong,
                                  Type::kFloat,  Type::kDouble, Type::kBoolean, Type::kNull};
  for (Type t : kAll) {
    if (type_name(t) == name) return full();
  }
  return name;
}

ParseOutcome parse_document(Graph& graph, const Json& document) {
  try {
    Parser parser(graph);
    return ParseOutcome{parser.parse(document), {}};
  } catch (const ParseFailure& f) {
    return ParseOutcome{nullptr, f.message};
  }
}

}  // namespace kb::registry::detail::avro
