// Writes an Avro schema tree back to JSON text.
//
// Canonical form: what Avro Java's Schema.toString(referencedSchemas, false) writes, which is
// what Confluent's AvroSchema.canonicalString() returns: compact JSON; "type" first; a named
// type written in full the first time and by name after that (relative to the enclosing
// namespace); the named types of referenced schemas by name only; properties in the order
// written.
//
// Normalized form: Confluent's AvroSchema.normalize() writes a form with sorted properties and
// aliases and re-parses it; what it stores is the canonical form of that. This writer produces
// that final text directly.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "registry/schema/avro.h"

namespace kb::registry::detail::avro {

namespace {

// The parameters of a logical type Avro Java accepts (LogicalTypes.fromSchemaIgnoreInvalid);
// nullopt for a missing, unknown or invalid one. Only the normalized form depends on it.
struct Logical {
  std::string name;
  int64_t precision = 0;
  int64_t scale = 0;
};

std::optional<int64_t> int_prop(const Props& props, std::string_view key) {
  for (const auto& [k, v] : props) {
    if (k == key) {
      auto i = v.as_int64();
      if (i && *i >= INT32_MIN && *i <= INT32_MAX) return i;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

bool has_prop(const Props& props, std::string_view key) {
  return std::any_of(props.begin(), props.end(), [&](const auto& p) { return p.first == key; });
}

std::optional<Logical> logical_type(const Node& n) {
  const Json* lt = nullptr;
  for (const auto& [k, v] : n.props) {
    if (k == "logicalType") lt = &v;
  }
  if (lt == nullptr || !lt->is_string()) return std::nullopt;
  const std::string& name = lt->text();
  if (name == "decimal") {
    if (n.type != Type::kBytes && n.type != Type::kFixed) return std::nullopt;
    auto precision = int_prop(n.props, "precision");
    if (!precision || *precision <= 0) return std::nullopt;
    int64_t scale = 0;
    if (has_prop(n.props, "scale")) {
      auto s = int_prop(n.props, "scale");
      if (!s) return std::nullopt;
      scale = *s;
    }
    if (scale < 0 || scale > *precision) return std::nullopt;
    if (n.type == Type::kFixed) {
      auto max_precision = static_cast<int64_t>(std::floor(std::log10(2.0) * (8.0 * n.size - 1)));
      if (*precision > max_precision) return std::nullopt;
    }
    return Logical{name, *precision, scale};
  }
  struct Simple {
    const char* name;
    Type base;
  };
  static constexpr Simple kSimple[] = {{"uuid", Type::kString},
                                       {"date", Type::kInt},
                                       {"time-millis", Type::kInt},
                                       {"time-micros", Type::kLong},
                                       {"timestamp-millis", Type::kLong},
                                       {"timestamp-micros", Type::kLong},
                                       {"local-timestamp-millis", Type::kLong},
                                       {"local-timestamp-micros", Type::kLong}};
  for (const auto& s : kSimple) {
    if (name == s.name && n.type == s.base) return Logical{name};
  }
  return std::nullopt;
}

// Java's Float.toString of (float)d, read back as a double the way the re-parse reads it.
std::string float_text(double d) {
  auto f = static_cast<float>(d);
  if (!std::isfinite(f)) return java_double_string(f);
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  double back = 0;
  std::from_chars(buf, r.ptr, back);
  return java_double_string(back);
}

// A field default as Confluent's normalize() writes it: converted to the field's type the way
// Avro's JacksonUtils.toObject does (an integer default of a double field becomes 1.0; a union
// default follows the first branch) and with object keys sorted.
Json normalized_default(const Json& v, const Node* s) {
  while (s != nullptr && s->type == Type::kUnion) s = s->branches.empty() ? nullptr : s->branches[0];
  Type t = s ? s->type : Type::kNull;
  if (v.is_number() && s != nullptr) {
    if (t == Type::kFloat) return Json::floating(float_text(v.as_double()));
    if (t == Type::kDouble) return Json::floating(java_double_string(v.as_double()));
    return v;
  }
  if (v.is_array()) {
    std::vector<Json> items;
    for (const Json& e : v.items())
      items.push_back(normalized_default(e, t == Type::kArray ? s->element : nullptr));
    return Json::array(std::move(items));
  }
  if (v.is_object()) {
    std::vector<Json::Member> members;
    for (const auto& [k, e] : v.members()) {
      const Node* es = nullptr;
      if (t == Type::kMap) es = s->element;
      if (t == Type::kRecord) {
        for (const Field& f : s->fields) {
          if (f.name == k) es = f.type;
        }
      }
      members.emplace_back(k, normalized_default(e, es));
    }
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return Json::object(std::move(members));
  }
  return v;
}

class Writer {
 public:
  Writer(const std::vector<const Node*>& known, bool normalized) : normalized_(normalized) {
    for (const Node* n : known) written_[n->name.full()] = n;
  }

  void write(const Node& n) {
    switch (n.type) {
      case Type::kRecord:
        return write_record(n);
      case Type::kEnum:
        return write_enum(n);
      case Type::kFixed:
        return write_fixed(n);
      case Type::kArray:
      case Type::kMap:
        out_ += "{\"type\":\"";
        out_ += type_name(n.type);
        out_ += n.type == Type::kArray ? "\",\"items\":" : "\",\"values\":";
        write(*n.element);
        write_props(n);
        out_ += '}';
        return;
      case Type::kUnion: {
        out_ += '[';
        for (size_t i = 0; i < n.branches.size(); ++i) {
          if (i > 0) out_ += ',';
          write(*n.branches[i]);
        }
        out_ += ']';
        return;
      }
      default:
        if (n.props.empty()) {
          write_json_string(out_, type_name(n.type));
          return;
        }
        out_ += "{\"type\":";
        write_json_string(out_, type_name(n.type));
        write_props(n);
        out_ += '}';
    }
  }

  std::string take() { return std::move(out_); }

 private:
  // A named type already written (or known from a reference) is written by name only.
  bool write_name_ref(const Node& n) {
    auto [it, fresh] = written_.try_emplace(n.name.full(), &n);
    if (!fresh && it->second == &n) {
      write_json_string(out_, n.name.qualified(space_));
      return true;
    }
    return false;
  }

  void write_name(const Node& n) {
    out_ += ",\"name\":";
    write_json_string(out_, n.name.name);
    if (!n.name.space.empty()) {
      if (n.name.space != space_) {
        out_ += ",\"namespace\":";
        write_json_string(out_, n.name.space);
      }
    } else if (!space_.empty()) {
      out_ += ",\"namespace\":\"\"";
    }
  }

  void write_doc(const std::optional<std::string>& doc) {
    if (!doc || (normalized_ && doc->empty())) return;
    out_ += ",\"doc\":";
    write_json_string(out_, *doc);
  }

  void write_record(const Node& n) {
    if (write_name_ref(n)) return;
    std::string saved = space_;
    out_ += n.is_error ? "{\"type\":\"error\"" : "{\"type\":\"record\"";
    write_name(n);
    space_ = n.name.space;
    write_doc(n.doc);
    out_ += ",\"fields\":[";
    for (size_t i = 0; i < n.fields.size(); ++i) {
      if (i > 0) out_ += ',';
      write_field(n.fields[i]);
    }
    out_ += ']';
    write_props(n);
    write_aliases(n);
    out_ += '}';
    space_ = saved;
  }

  void write_field(const Field& f) {
    out_ += "{\"name\":";
    write_json_string(out_, f.name);
    out_ += ",\"type\":";
    write(*f.type);
    if (f.doc) {
      out_ += ",\"doc\":";
      write_json_string(out_, *f.doc);
    }
    if (f.default_value) {
      out_ += ",\"default\":";
      if (normalized_) {
        write_json(out_, normalized_default(*f.default_value, f.type), {.sort_keys = true});
      } else {
        write_json(out_, *f.default_value);
      }
    }
    if (f.order != "ascending") out_ += ",\"order\":\"" + f.order + "\"";
    if (!f.aliases.empty()) {
      std::vector<std::string> aliases = f.aliases;
      if (normalized_) std::sort(aliases.begin(), aliases.end());
      out_ += ",\"aliases\":[";
      for (size_t i = 0; i < aliases.size(); ++i) {
        if (i > 0) out_ += ',';
        write_json_string(out_, aliases[i]);
      }
      out_ += ']';
    }
    write_prop_list(f.props, std::nullopt);
    out_ += '}';
  }

  void write_enum(const Node& n) {
    if (write_name_ref(n)) return;
    out_ += "{\"type\":\"enum\"";
    write_name(n);
    write_doc(n.doc);
    out_ += ",\"symbols\":[";
    for (size_t i = 0; i < n.symbols.size(); ++i) {
      if (i > 0) out_ += ',';
      write_json_string(out_, n.symbols[i]);
    }
    out_ += ']';
    if (n.enum_default) {
      out_ += ",\"default\":";
      write_json_string(out_, *n.enum_default);
    }
    write_props(n);
    write_aliases(n);
    out_ += '}';
  }

  void write_fixed(const Node& n) {
    if (write_name_ref(n)) return;
    out_ += "{\"type\":\"fixed\"";
    write_name(n);
    write_doc(n.doc);
    out_ += ",\"size\":" + std::to_string(n.size);
    write_props(n);
    write_aliases(n);
    out_ += '}';
  }

  void write_aliases(const Node& n) {
    if (n.aliases.empty()) return;
    std::vector<const Name*> aliases;
    for (const Name& a : n.aliases) aliases.push_back(&a);
    if (normalized_) {
      std::sort(aliases.begin(), aliases.end(),
                [](const Name* a, const Name* b) { return a->full() < b->full(); });
    }
    out_ += ",\"aliases\":[";
    for (size_t i = 0; i < aliases.size(); ++i) {
      if (i > 0) out_ += ',';
      write_json_string(out_, aliases[i]->qualified(n.name.space));
    }
    out_ += ']';
  }

  void write_props(const Node& n) { write_prop_list(n.props, normalized_ ? logical_type(n) : std::nullopt); }

  // Normalized: a valid logical type's own properties first (logicalType, precision, a
  // non-zero scale), then the rest sorted by key.
  void write_prop_list(const Props& props, const std::optional<Logical>& logical) {
    std::vector<const std::pair<std::string, Json>*> list;
    for (const auto& p : props) list.push_back(&p);
    if (normalized_) {
      std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->first < b->first; });
      if (logical) {
        std::vector<std::pair<std::string, Json>> first = {{"logicalType", Json::string(logical->name)}};
        if (logical->name == "decimal") {
          first.emplace_back("precision", Json::integer(std::to_string(logical->precision)));
          if (logical->scale != 0) first.emplace_back("scale", Json::integer(std::to_string(logical->scale)));
        }
        for (const auto& [k, v] : first) write_prop(k, v);
        for (const auto* p : list) {
          bool done =
              std::any_of(first.begin(), first.end(), [&](const auto& f) { return f.first == p->first; });
          if (!done) write_prop(p->first, p->second);
        }
        return;
      }
    }
    for (const auto* p : list) write_prop(p->first, p->second);
  }

  void write_prop(const std::string& key, const Json& value) {
    out_ += ',';
    write_json_string(out_, key);
    out_ += ':';
    write_json(out_, value, {.sort_keys = normalized_});
  }

  bool normalized_;
  std::string out_;
  std::string space_;
  std::map<std::string, const Node*> written_;
};

}  // namespace

std::string write_schema(const Node& root, const std::vector<const Node*>& known, bool normalized) {
  Writer w(known, normalized);
  w.write(root);
  return w.take();
}

}  // namespace kb::registry::detail::avro
