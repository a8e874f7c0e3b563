// .proto text from built descriptors, laid out as Confluent's ProtobufSchemaUtils.toString
// lays out a schema: header, imports, options, messages then enums, extends, services; inside a
// message reserved ranges, options, plain fields, oneofs, extension ranges, extends, nested
// messages then nested enums; blocks separated by one empty line, two-space indents.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "registry/schema/protobuf.h"

namespace kb::registry::pb {
namespace {

namespace gp = google::protobuf;
using Field = gp::FieldDescriptor;

// Field numbers at or above this print as "max" in ranges (Confluent's MAX_TAG_VALUE).
constexpr int kMaxFieldNumber = 536'870'911;

// Confluent's ProtobufSchemaUtils.escapeChars, plus octal escapes for the other control bytes
// so that the text always parses again.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        if (uint8_t(c) < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\%03o", unsigned(uint8_t(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

template <typename F>
std::string floating(F v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

// Confluent's appendIndented: every line of `block` two spaces further in (empty lines too).
void append_indented(std::string& out, std::string_view block) {
  while (!block.empty() && block.back() == '\n') block.remove_suffix(1);
  size_t start = 0;
  while (start <= block.size()) {
    size_t end = block.find('\n', start);
    if (end == std::string_view::npos) end = block.size();
    out += "  ";
    out.append(block.substr(start, end - start));
    out += '\n';
    start = end + 1;
  }
}

std::string type_name(const Field& f) {
  switch (f.type()) {
    case Field::TYPE_MESSAGE:
    case Field::TYPE_GROUP:
      return "." + f.message_type()->full_name();
    case Field::TYPE_ENUM:
      return "." + f.enum_type()->full_name();
    default:
      return f.type_name();
  }
}

// A message type protoc makes for a map<K, V> field, or for a group.
bool is_generated(const gp::Descriptor& nested) {
  if (nested.options().map_entry()) return true;
  const gp::Descriptor* parent = nested.containing_type();
  if (parent == nullptr) return false;
  for (int i = 0; i < parent->field_count(); ++i) {
    if (parent->field(i)->type() == Field::TYPE_GROUP && parent->field(i)->message_type() == &nested)
      return true;
  }
  return false;
}

// A value in an option, before layout: a scalar already in .proto syntax, a message (its set
// fields by name, in field-number order) or a repeated field's values.
struct NamedOptionValue;
struct OptionValue {
  enum class Kind { kScalar, kMessage, kList } kind = Kind::kScalar;
  std::string scalar;
  // Not std::pair: clang 14 with libstdc++ 12 cannot build a pair of a still-incomplete type.
  std::vector<NamedOptionValue> fields;
  std::vector<OptionValue> items;

  static OptionValue text(std::string s);
  static OptionValue of(Kind kind);
};
struct NamedOptionValue {
  std::string first;  // the field's name
  OptionValue second;
};
OptionValue OptionValue::text(std::string s) {
  OptionValue v;
  v.scalar = std::move(s);
  return v;
}
OptionValue OptionValue::of(Kind kind) {
  OptionValue v;
  v.kind = kind;
  return v;
}

// One "name = value" option (Confluent's OptionElement).
struct Option {
  std::string name;  // without parentheses
  bool parenthesized = false;
  OptionValue value;
};

class Renderer {
 public:
  explicit Renderer(RenderOptions options) : opts_(options) {}

  std::string file(const gp::FileDescriptor& f) {
    std::string out;
    if (f.syntax() == gp::FileDescriptor::SYNTAX_PROTO3) out += "syntax = \"proto3\";\n";
    if (!f.package().empty()) out += "package " + f.package() + ";\n";
    if (f.dependency_count() > 0) {
      std::vector<std::string> imports, public_imports;
      for (int i = 0; i < f.dependency_count(); ++i) imports.push_back(f.dependency(i)->name());
      for (int i = 0; i < f.public_dependency_count(); ++i) {
        public_imports.push_back(f.public_dependency(i)->name());
        imports.erase(std::find(imports.begin(), imports.end(), public_imports.back()));
      }
      if (opts_.normalize) {
        for (auto* list : {&imports, &public_imports}) {
          std::sort(list->begin(), list->end());
          list->erase(std::unique(list->begin(), list->end()), list->end());
        }
      }
      out += '\n';
      for (auto& name : imports) out += "import \"" + name + "\";\n";
      for (auto& name : public_imports) out += "import public \"" + name + "\";\n";
    }
    std::vector<Option> options = options_of(f.options(), f.pool(),
                                             {"java_package",
                                              "java_outer_classname",
                                              "java_multiple_files",
                                              "java_generate_equals_and_hash",
                                              "java_string_check_utf8",
                                              "optimize_for",
                                              "go_package",
                                              "cc_generic_services",
                                              "java_generic_services",
                                              "py_generic_services",
                                              "php_generic_services",
                                              "deprecated",
                                              "cc_enable_arenas",
                                              "objc_class_prefix",
                                              "csharp_namespace",
                                              "swift_prefix",
                                              "php_class_prefix",
                                              "php_namespace",
                                              "php_metadata_namespace",
                                              "ruby_package"});
    if (!options.empty()) {
      out += '\n';
      for (auto& o : options) out += option_statement(o);
    }
    if (f.message_type_count() + f.enum_type_count() > 0) {
      out += '\n';
      for (int i = 0; i < f.message_type_count(); ++i) out += message(*f.message_type(i));
      for (int i = 0; i < f.enum_type_count(); ++i) out += enumeration(*f.enum_type(i));
    }
    if (!opts_.ignore_extensions && f.extension_count() > 0) {
      out += '\n';
      std::vector<const Field*> extensions;
      for (int i = 0; i < f.extension_count(); ++i) extensions.push_back(f.extension(i));
      out += extend_blocks(extensions);
    }
    if (f.service_count() > 0) {
      out += '\n';
      for (int i = 0; i < f.service_count(); ++i) out += service(*f.service(i));
    }
    return out;
  }

 private:
  std::string message(const gp::Descriptor& m) { return "message " + m.name() + " {" + message_body(m); }

  // Everything after a message's (or a group's) opening brace, closing brace included.
  std::string message_body(const gp::Descriptor& m) {
    std::string out;
    std::vector<std::string> reserved;
    for (int i = 0; i < m.reserved_range_count(); ++i) {
      reserved.push_back(range("reserved", m.reserved_range(i)->start, m.reserved_range(i)->end - 1));
    }
    for (int i = 0; i < m.reserved_name_count(); ++i)
      reserved.push_back("reserved " + quoted(m.reserved_name(i)) + ";\n");
    if (!reserved.empty()) {
      out += '\n';
      for (auto& r : sorted_ranges(std::move(reserved))) append_indented(out, r);
    }
    std::vector<Option> options = options_of(m.options(), m.file()->pool(),
                                             {"no_standard_descriptor_accessor", "deprecated", "map_entry"});
    if (!options.empty()) {
      out += '\n';
      for (auto& o : options) append_indented(out, option_statement(o));
    }
    std::vector<const Field*> fields;
    for (int i = 0; i < m.field_count(); ++i) {
      if (m.field(i)->real_containing_oneof() == nullptr) fields.push_back(m.field(i));
    }
    fields = by_number(std::move(fields));
    std::vector<const gp::OneofDescriptor*> oneofs;
    for (int i = 0; i < m.real_oneof_decl_count(); ++i) oneofs.push_back(m.oneof_decl(i));
    if (opts_.normalize) {
      std::stable_sort(oneofs.begin(), oneofs.end(),
                       [](auto* a, auto* b) { return lowest_number(*a) < lowest_number(*b); });
    }
    // protoc puts the message type of a map or group field in nested_type where the field is
    // declared, and a record names a nested message by its index there. When "fields first,
    // nested messages after" would move an index, the nested messages and the map fields go
    // out in their original order instead, ahead of the other fields.
    bool messages_in_place = !layout_keeps_indexes(m, fields, oneofs);
    if (messages_in_place) {
      out += '\n';
      for (int i = 0; i < m.nested_type_count(); ++i) {
        const gp::Descriptor* n = m.nested_type(i);
        auto made_for =
            std::find_if(fields.begin(), fields.end(), [&](auto* f) { return f->message_type() == n; });
        if (made_for != fields.end() && is_generated(*n)) {
          append_indented(out, field(**made_for));
          fields.erase(made_for);
        } else if (!is_generated(*n)) {
          append_indented(out, message(*n));
        }
      }
    }
    if (!fields.empty()) {
      out += '\n';
      for (const Field* f : fields) append_indented(out, field(*f));
    }
    if (!oneofs.empty()) {
      out += '\n';
      for (auto* o : oneofs) append_indented(out, oneof(*o));
    }
    if (!opts_.ignore_extensions && m.extension_range_count() > 0) {
      std::vector<std::string> ranges;
      for (int i = 0; i < m.extension_range_count(); ++i) {
        ranges.push_back(range("extensions", m.extension_range(i)->start, m.extension_range(i)->end - 1));
      }
      out += '\n';
      for (auto& r : sorted_ranges(std::move(ranges))) append_indented(out, r);
    }
    if (!opts_.ignore_extensions && m.extension_count() > 0) {
      std::vector<const Field*> extensions;
      for (int i = 0; i < m.extension_count(); ++i) extensions.push_back(m.extension(i));
      out += '\n';
      append_indented(out, extend_blocks(extensions));
    }
    std::vector<const gp::Descriptor*> nested;
    for (int i = 0; i < m.nested_type_count() && !messages_in_place; ++i) {
      // map entries print as map<K, V> fields and groups inside their field
      if (!is_generated(*m.nested_type(i))) nested.push_back(m.nested_type(i));
    }
    if (!nested.empty() || m.enum_type_count() > 0) {
      out += '\n';
      for (auto* n : nested) append_indented(out, message(*n));
      for (int i = 0; i < m.enum_type_count(); ++i) append_indented(out, enumeration(*m.enum_type(i)));
    }
    return out + "}\n";
  }

  // Whether parsing the usual layout (fields, oneofs, then nested messages) gives back the
  // nested types in their order: protoc adds a map or group field's type as it reads the field.
  bool layout_keeps_indexes(const gp::Descriptor& m, const std::vector<const Field*>& fields,
                            const std::vector<const gp::OneofDescriptor*>& oneofs) const {
    std::vector<const gp::Descriptor*> reparsed;
    auto add_generated = [&](const Field* f) {
      if (f->is_map() || f->type() == Field::TYPE_GROUP) reparsed.push_back(f->message_type());
    };
    for (const Field* f : fields) add_generated(f);
    for (auto* o : oneofs) {
      for (const Field* f : oneof_fields(*o)) add_generated(f);
    }
    for (int i = 0; i < m.nested_type_count(); ++i) {
      if (!is_generated(*m.nested_type(i))) reparsed.push_back(m.nested_type(i));
    }
    for (int i = 0; i < m.nested_type_count(); ++i) {
      if (size_t(i) >= reparsed.size() || reparsed[i] != m.nested_type(i)) return false;
    }
    return true;
  }

  std::vector<const Field*> oneof_fields(const gp::OneofDescriptor& o) const {
    std::vector<const Field*> fields;
    for (int i = 0; i < o.field_count(); ++i) fields.push_back(o.field(i));
    return by_number(std::move(fields));
  }

  static int lowest_number(const gp::OneofDescriptor& o) {
    int lowest = std::numeric_limits<int>::max();
    for (int i = 0; i < o.field_count(); ++i) lowest = std::min(lowest, o.field(i)->number());
    return lowest;
  }

  std::vector<const Field*> by_number(std::vector<const Field*> fields) const {
    if (opts_.normalize) {
      std::stable_sort(fields.begin(), fields.end(),
                       [](auto* a, auto* b) { return a->number() < b->number(); });
    }
    return fields;
  }

  static std::string range(std::string_view keyword, int first, int last) {
    std::string out = std::string(keyword) + " " + std::to_string(first);
    if (last != first) out += " to " + (last < kMaxFieldNumber ? std::to_string(last) : std::string("max"));
    return out + ";\n";
  }

  // Normalized: by first number, names after numbers, then by text.
  std::vector<std::string> sorted_ranges(std::vector<std::string> lines) const {
    if (!opts_.normalize) return lines;
    auto key = [](const std::string& line) {
      size_t space = line.find(' ');
      long first = std::numeric_limits<int>::max();
      if (space + 1 < line.size() && line[space + 1] != '"') first = std::atol(line.c_str() + space + 1);
      return std::pair(first, line);
    };
    std::sort(lines.begin(), lines.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
    return lines;
  }

  std::string enumeration(const gp::EnumDescriptor& e) {
    std::string out = "enum " + e.name() + " {";
    std::vector<std::string> reserved;
    for (int i = 0; i < e.reserved_range_count(); ++i) {
      reserved.push_back(range("reserved", e.reserved_range(i)->start, e.reserved_range(i)->end));
    }
    for (int i = 0; i < e.reserved_name_count(); ++i)
      reserved.push_back("reserved " + quoted(e.reserved_name(i)) + ";\n");
    if (!reserved.empty()) {
      out += '\n';
      for (auto& r : sorted_ranges(reserved)) append_indented(out, r);
    }
    std::vector<Option> options = options_of(e.options(), e.file()->pool(), {"allow_alias", "deprecated"});
    if (reserved.empty() && (!options.empty() || e.value_count() > 0)) out += '\n';
    for (auto& o : options) append_indented(out, option_statement(o));
    std::vector<const gp::EnumValueDescriptor*> values;
    for (int i = 0; i < e.value_count(); ++i) values.push_back(e.value(i));
    if (opts_.normalize) {
      std::stable_sort(values.begin(), values.end(), [](auto* a, auto* b) {
        return std::pair(a->number(), a->name()) < std::pair(b->number(), b->name());
      });
    }
    for (auto* v : values) {
      std::string line = v->name() + " = " + std::to_string(v->number());
      std::vector<Option> value_options =
          options_of(v->options(), e.file()->pool(), {"deprecated", "debug_redact"});
      if (!value_options.empty()) line.append(" ").append(bracketed(value_options));
      append_indented(out, line + ";\n");
    }
    return out + "}\n";
  }

  std::string oneof(const gp::OneofDescriptor& o) {
    std::string out = "oneof " + o.name() + " {";
    std::vector<Option> options = options_of(o.options(), o.file()->pool(), {});
    if (!options.empty()) {
      out += '\n';
      for (auto& opt : options) append_indented(out, option_statement(opt));
    }
    if (o.field_count() > 0) {
      out += '\n';
      for (const Field* f : oneof_fields(o)) append_indented(out, field(*f));
    }
    return out + "}\n";
  }

  // Confluent's label for a field read from a descriptor: none inside a oneof or for a plain
  // proto3 field, "optional" for proto3's explicit optional.
  static std::string label(const Field& f) {
    if (f.real_containing_oneof() != nullptr || f.is_map()) return "";
    if (f.is_repeated()) return "repeated ";
    bool proto3 = f.file()->syntax() == gp::FileDescriptor::SYNTAX_PROTO3;
    if (f.has_optional_keyword()) return "optional ";
    if (proto3) return "";
    return f.is_required() ? "required " : "optional ";
  }

  std::string field(const Field& f) {
    std::string out = label(f);
    if (f.is_map()) {
      const gp::Descriptor* entry = f.message_type();
      out += "map<" + type_name(*entry->map_key()) + ", " + type_name(*entry->map_value()) + ">";
    } else if (f.type() == Field::TYPE_GROUP) {
      out += "group " + f.message_type()->name();
    } else {
      out += type_name(f);
    }
    out += (f.type() == Field::TYPE_GROUP ? "" : " " + f.name()) + " = " + std::to_string(f.number());
    std::vector<Option> options = options_of(f.options(), f.file()->pool(),
                                             {"ctype", "packed", "jstype", "deprecated", "debug_redact"});
    if (f.has_default_value()) {
      gp::FieldDescriptorProto proto;
      f.CopyTo(&proto);
      bool text = f.type() == Field::TYPE_STRING;
      // bytes defaults are already C-escaped in the descriptor; quote them as they are
      std::string value = text                            ? quoted(proto.default_value())
                          : f.type() == Field::TYPE_BYTES ? "\"" + proto.default_value() + "\""
                                                          : proto.default_value();
      options.push_back({"default", false, OptionValue::text(value)});
    }
    if (f.has_json_name()) options.push_back({"json_name", false, OptionValue::text(quoted(f.json_name()))});
    sort_options(options);
    if (!options.empty()) out.append(" ").append(bracketed(options));
    if (f.type() == Field::TYPE_GROUP) return out + " {" + message_body(*f.message_type());
    return out + ";\n";
  }

  // Extension fields grouped by the message they extend, in first-seen order.
  std::string extend_blocks(const std::vector<const Field*>& extensions) {
    std::vector<std::pair<const gp::Descriptor*, std::vector<const Field*>>> blocks;
    for (const Field* f : extensions) {
      auto it = std::find_if(blocks.begin(), blocks.end(),
                             [&](auto& b) { return b.first == f->containing_type(); });
      if (it == blocks.end()) it = blocks.insert(blocks.end(), {f->containing_type(), {}});
      it->second.push_back(f);
    }
    std::string out;
    for (auto& [extendee, fields] : blocks) {
      out += "extend ." + extendee->full_name() + " {\n";
      for (const Field* f : by_number(fields)) append_indented(out, field(*f));
      out += "}\n";
    }
    return out;
  }

  std::string service(const gp::ServiceDescriptor& s) {
    std::string out = "service " + s.name() + " {";
    std::vector<Option> options = options_of(s.options(), s.file()->pool(), {"deprecated"});
    if (!options.empty()) {
      out += '\n';
      for (auto& o : options) append_indented(out, option_statement(o));
    }
    if (s.method_count() > 0) out += '\n';
    for (int i = 0; i < s.method_count(); ++i) {
      const gp::MethodDescriptor& m = *s.method(i);
      std::string rpc = "rpc " + m.name() + " (" + (m.client_streaming() ? "stream " : "") + "." +
                        m.input_type()->full_name() + ") returns (" +
                        (m.server_streaming() ? "stream " : "") + "." + m.output_type()->full_name() + ")";
      std::vector<Option> rpc_options =
          options_of(m.options(), s.file()->pool(), {"deprecated", "idempotency_level"});
      if (!rpc_options.empty()) {
        rpc += " {\n";
        for (auto& o : rpc_options) append_indented(rpc, option_statement(o));
        rpc += "}";
      }
      append_indented(out, rpc + ";\n");
    }
    return out + "}\n";
  }

  // ---- options

  // The set options of `message` (a FileOptions, FieldOptions, ...): the ones Confluent knows
  // in its order, then any other standard one, then custom options (extensions). Custom options
  // sit in the generated message's unknown fields; reading it again as a dynamic message of
  // the schema's own pool, which defines them, names them.
  std::vector<Option> options_of(const gp::Message& message, const gp::DescriptorPool* pool,
                                 std::initializer_list<std::string_view> confluent_order) {
    const gp::Message* options = &message;
    std::unique_ptr<gp::Message> dynamic;
    if (!message.GetReflection()->GetUnknownFields(message).empty()) {
      if (const gp::Descriptor* type = pool->FindMessageTypeByName(message.GetDescriptor()->full_name())) {
        dynamic.reset(factory_.GetPrototype(type)->New());
        if (dynamic->ParseFromString(message.SerializeAsString())) options = dynamic.get();
      }
    }
    std::vector<const Field*> set;
    options->GetReflection()->ListFields(*options, &set);
    auto rank = [&](const Field* f) {
      auto known = std::find(confluent_order.begin(), confluent_order.end(), f->name());
      if (f->is_extension()) return std::pair(2, f->number());
      if (known != confluent_order.end()) return std::pair(0, int(known - confluent_order.begin()));
      return std::pair(1, f->number());
    };
    std::stable_sort(set.begin(), set.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
    std::vector<Option> out;
    for (const Field* f : set) {
      if (f->name() == "uninterpreted_option") continue;
      if (f->is_extension() && opts_.ignore_extensions && f->full_name().rfind("confluent.", 0) != 0)
        continue;
      std::string name = f->is_extension() ? f->full_name() : f->name();
      if (f->is_repeated()) {
        // a repeated option is one statement per value
        for (int i = 0; i < options->GetReflection()->FieldSize(*options, f); ++i) {
          out.push_back({name, f->is_extension(), value_of(*options, *f, i)});
        }
      } else {
        out.push_back({name, f->is_extension(), value_of(*options, *f, -1)});
      }
    }
    sort_options(out);
    return out;
  }

  void sort_options(std::vector<Option>& options) const {
    if (opts_.normalize) {
      std::stable_sort(options.begin(), options.end(), [](auto& a, auto& b) { return a.name < b.name; });
    }
  }

  // The value of `f` in `m` (element `index` of a repeated field, -1 for a singular one).
  OptionValue value_of(const gp::Message& m, const Field& f, int index) {
    const gp::Reflection& r = *m.GetReflection();
    if (index < 0 && f.is_repeated()) {
      OptionValue list = OptionValue::of(OptionValue::Kind::kList);
      for (int i = 0; i < r.FieldSize(m, &f); ++i) list.items.push_back(value_of(m, f, i));
      return list;
    }
    bool rep = index >= 0;
    switch (f.cpp_type()) {
      case Field::CPPTYPE_INT32:
        return OptionValue::text(std::to_string(rep ? r.GetRepeatedInt32(m, &f, index) : r.GetInt32(m, &f)));
      case Field::CPPTYPE_INT64:
        return OptionValue::text(std::to_string(rep ? r.GetRepeatedInt64(m, &f, index) : r.GetInt64(m, &f)));
      case Field::CPPTYPE_UINT32:
        return OptionValue::text(
            std::to_string(rep ? r.GetRepeatedUInt32(m, &f, index) : r.GetUInt32(m, &f)));
      case Field::CPPTYPE_UINT64:
        return OptionValue::text(
            std::to_string(rep ? r.GetRepeatedUInt64(m, &f, index) : r.GetUInt64(m, &f)));
      case Field::CPPTYPE_DOUBLE:
        return OptionValue::text(floating(rep ? r.GetRepeatedDouble(m, &f, index) : r.GetDouble(m, &f)));
      case Field::CPPTYPE_FLOAT:
        return OptionValue::text(floating(rep ? r.GetRepeatedFloat(m, &f, index) : r.GetFloat(m, &f)));
      case Field::CPPTYPE_BOOL:
        return OptionValue::text((rep ? r.GetRepeatedBool(m, &f, index) : r.GetBool(m, &f)) ? "true"
                                                                                            : "false");
      case Field::CPPTYPE_ENUM:
        return OptionValue::text((rep ? r.GetRepeatedEnum(m, &f, index) : r.GetEnum(m, &f))->name());
      case Field::CPPTYPE_STRING:
        return OptionValue::text(quoted(rep ? r.GetRepeatedString(m, &f, index) : r.GetString(m, &f)));
      case Field::CPPTYPE_MESSAGE: {
        const gp::Message& sub = rep ? r.GetRepeatedMessage(m, &f, index) : r.GetMessage(m, &f);
        OptionValue value = OptionValue::of(OptionValue::Kind::kMessage);
        std::vector<const Field*> set;
        sub.GetReflection()->ListFields(sub, &set);
        for (const Field* s : set) {
          value.fields.push_back({s->is_extension() ? "[" + s->full_name() + "]" : s->name(),
                                  value_of(sub, *s, -1)});
        }
        return value;
      }
    }
    return {};
  }

  std::string option_statement(const Option& o) { return "option " + option_text(o) + ";\n"; }

  std::string option_text(const Option& o) {
    std::string name = o.parenthesized ? "(" + o.name + ")" : o.name;
    return name + " = " + value_text(o.value);
  }

  // Confluent's appendOptions: one option in brackets on the line, several one per line.
  std::string bracketed(const std::vector<Option>& options) {
    if (options.size() == 1) return std::string("[").append(option_text(options[0])).append("]");
    std::string out = "[\n";
    for (size_t i = 0; i < options.size(); ++i) {
      append_indented(out, option_text(options[i]) + (i + 1 < options.size() ? "," : ""));
    }
    return out + "]";
  }

  // Confluent's formatOptionMapOrListValue.
  std::string value_text(const OptionValue& v) {
    switch (v.kind) {
      case OptionValue::Kind::kScalar:
        return v.scalar;
      case OptionValue::Kind::kMessage: {
        std::vector<NamedOptionValue> fields = v.fields;
        if (opts_.normalize) {
          std::erase_if(fields, [](auto& f) {
            return f.second.kind == OptionValue::Kind::kList && f.second.items.empty();
          });
          std::stable_sort(fields.begin(), fields.end(), [](auto& a, auto& b) { return a.first < b.first; });
        }
        std::string out = "{\n";
        for (size_t i = 0; i < fields.size(); ++i) {
          append_indented(out, fields[i].first + ": " + value_text(fields[i].second) +
                                   (i + 1 < fields.size() ? "," : ""));
        }
        return out + "}";
      }
      case OptionValue::Kind::kList: {
        if (opts_.normalize && v.items.size() == 1) return value_text(v.items[0]);
        std::string out = "[\n";
        for (size_t i = 0; i < v.items.size(); ++i) {
          append_indented(out, value_text(v.items[i]) + (i + 1 < v.items.size() ? "," : ""));
        }
        return out + "]";
      }
    }
    return {};
  }

  RenderOptions opts_;
  gp::DynamicMessageFactory factory_;
};

}  // namespace

std::string render(const gp::FileDescriptor& file, RenderOptions options) {
  return Renderer(options).file(file);
}

}  // namespace kb::registry::pb
