// Protobuf compatibility, as Confluent's protobuf-provider decides it (diff.SchemaDiff,
// MessageSchemaDiff, FieldSchemaDiff, EnumSchemaDiff): walk both files by type name and field
// number, record every difference with its path, and let only the differences in
// SchemaDiff.COMPATIBLE_CHANGES through. Fields are matched by number wherever they sit
// (top level or in a oneof), so moving a field in or out of a oneof cannot hide a type change.
#include <google/protobuf/descriptor.pb.h>

#include <array>
#include <set>

#include "registry/schema/protobuf.h"
#include "registry/schema/schema_types.h"

namespace kb::registry {
namespace pb {
namespace {

namespace gp = google::protobuf;
using Field = gp::FieldDescriptor;
using Type = DifferenceType;

// A field's label as Confluent reads it from a descriptor: none inside a oneof and for a plain
// proto3 field, so that only optional/required/repeated against each other count as a change.
enum class Label { kNone, kOptional, kRequired, kRepeated };

Label label_of(const Field& f) {
  if (f.real_containing_oneof() != nullptr) return Label::kNone;
  if (f.is_repeated()) return Label::kRepeated;
  if (f.has_optional_keyword()) return Label::kOptional;
  if (f.file()->syntax() == gp::FileDescriptor::SYNTAX_PROTO3) return Label::kNone;
  return f.is_required() ? Label::kRequired : Label::kOptional;
}

enum class Kind { kScalar, kMap, kMessage };  // an enum is a scalar

Kind kind_of(const Field& f) {
  if (f.is_map()) return Kind::kMap;
  if (f.type() == Field::TYPE_MESSAGE || f.type() == Field::TYPE_GROUP) return Kind::kMessage;
  return Kind::kScalar;
}

// Scalars that read each other's wire encoding (protobuf's "updating a message type" rules).
enum class ScalarKind { kGeneralNumber, kSignedNumber, kStringOrBytes, kFixed32, kFixed64, kFloat, kDouble };

ScalarKind scalar_kind(const Field& f) {
  switch (f.type()) {
    case Field::TYPE_SINT32:
    case Field::TYPE_SINT64:
      return ScalarKind::kSignedNumber;
    case Field::TYPE_STRING:
    case Field::TYPE_BYTES:
      return ScalarKind::kStringOrBytes;
    case Field::TYPE_FIXED32:
    case Field::TYPE_SFIXED32:
      return ScalarKind::kFixed32;
    case Field::TYPE_FIXED64:
    case Field::TYPE_SFIXED64:
      return ScalarKind::kFixed64;
    case Field::TYPE_FLOAT:
      return ScalarKind::kFloat;
    case Field::TYPE_DOUBLE:
      return ScalarKind::kDouble;
    default:
      return ScalarKind::kGeneralNumber;  // int32, int64, uint32, uint64, bool, enums
  }
}

// Where a message type was defined, as Confluent's TypeElementInfo.reference(): two types
// defined in the schemas' own files, or at one subject version, are the same definition and
// are not compared again; anything else (a well-known type, an import of an import) is.
struct Origin {
  std::string subject;
  int32_t version = 0;
  bool operator==(const Origin&) const = default;
};

std::optional<Origin> origin_of(const ProtobufSchema& schema, const gp::FileDescriptor& file) {
  if (&file == &schema.file()) return Origin{"", -1};
  if (const SchemaReference* ref = schema.reference_of(file)) return Origin{ref->subject, ref->version};
  return std::nullopt;
}

// The keys of either map, in order (Confluent walks the union of both schemas' names).
template <typename Map>
std::set<typename Map::key_type> keys_of_either(const Map& a, const Map& b) {
  std::set<typename Map::key_type> out;
  for (auto& [key, _] : a) out.insert(key);
  for (auto& [key, _] : b) out.insert(key);
  return out;
}

// A type's name inside its package.
std::string local_name(const gp::Descriptor& d) {
  const std::string& package = d.file()->package();
  return package.empty() ? d.full_name() : d.full_name().substr(package.size() + 1);
}

class Diff {
 public:
  Diff(const ProtobufSchema& original, const ProtobufSchema& update) : original_(original), update_(update) {}

  void files() {
    if (original_.file().package() != update_.file().package()) add(Type::kPackageChanged);
    types(top_level(original_.file()), top_level(update_.file()));
  }

  std::vector<Difference> differences;

 private:
  struct Types {
    std::vector<const gp::Descriptor*> messages;
    std::vector<const gp::EnumDescriptor*> enums;
  };

  static Types top_level(const gp::FileDescriptor& f) {
    Types t;
    for (int i = 0; i < f.message_type_count(); ++i) t.messages.push_back(f.message_type(i));
    for (int i = 0; i < f.enum_type_count(); ++i) t.enums.push_back(f.enum_type(i));
    return t;
  }

  static Types nested(const gp::Descriptor& m) {
    Types t;
    for (int i = 0; i < m.nested_type_count(); ++i) t.messages.push_back(m.nested_type(i));
    for (int i = 0; i < m.enum_type_count(); ++i) t.enums.push_back(m.enum_type(i));
    return t;
  }

  // Path scope: Confluent's Context.enterPath / enterName.
  class [[nodiscard]] Scope {
   public:
    explicit Scope(std::vector<std::string>& path) : path_(path) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() { path_.pop_back(); }

   private:
    std::vector<std::string>& path_;
  };
  Scope enter(std::string segment) {
    path_.push_back(std::move(segment));
    return Scope(path_);
  }

  void add(Type type) {
    std::string path = "#/";
    for (size_t i = 0; i < path_.size(); ++i) path += (i ? "/" : "") + path_[i];
    differences.push_back({type, std::move(path)});
  }

  // SchemaDiff.compareTypeElements: messages and enums matched by name. Map entries are not
  // messages of their own here (Confluent's .proto reading never sees them).
  void types(const Types& original, const Types& update) {
    auto index = [](const std::vector<const gp::Descriptor*>& list) {
      std::map<std::string, std::pair<const gp::Descriptor*, int>> out;
      int i = 0;
      for (auto* m : list) {
        if (!m->options().map_entry()) out.emplace(m->name(), std::pair(m, i++));
      }
      return out;
    };
    auto original_messages = index(original.messages), update_messages = index(update.messages);
    for (const std::string& name : keys_of_either(original_messages, update_messages)) {
      auto scope = enter(name);
      auto o = original_messages.find(name), u = update_messages.find(name);
      if (u == update_messages.end()) {
        add(Type::kMessageRemoved);
      } else if (o == original_messages.end()) {
        add(Type::kMessageAdded);
      } else {
        message(*o->second.first, *u->second.first);
        // Records name their message by its index in the writer's schema, so a move is fine.
        if (o->second.second != u->second.second) add(Type::kMessageMoved);
      }
    }

    std::map<std::string, const gp::EnumDescriptor*> original_enums, update_enums;
    for (auto* e : original.enums) original_enums.emplace(e->name(), e);
    for (auto* e : update.enums) update_enums.emplace(e->name(), e);
    for (const std::string& name : keys_of_either(original_enums, update_enums)) {
      auto scope = enter(name);
      auto o = original_enums.find(name), u = update_enums.find(name);
      if (u == update_enums.end()) {
        add(Type::kEnumRemoved);
      } else if (o == original_enums.end()) {
        add(Type::kEnumAdded);
      } else {
        enumeration(*o->second, *u->second);
      }
    }
  }

  void enumeration(const gp::EnumDescriptor& original, const gp::EnumDescriptor& update) {
    // by number; with allow_alias the first name of a number stands for it
    std::map<int, std::string> o, u;
    for (int i = 0; i < original.value_count(); ++i)
      o.emplace(original.value(i)->number(), original.value(i)->name());
    for (int i = 0; i < update.value_count(); ++i)
      u.emplace(update.value(i)->number(), update.value(i)->name());
    for (int n : keys_of_either(o, u)) {
      auto scope = enter(std::to_string(n));
      if (!u.contains(n)) {
        add(Type::kEnumConstRemoved);
      } else if (!o.contains(n)) {
        add(Type::kEnumConstAdded);
      } else if (o[n] != u[n]) {
        add(Type::kEnumConstChanged);
      }
    }
  }

  struct Fields {
    std::map<int, const Field*> by_number;
    std::map<int, std::string> oneof_of;  // field number -> name of its (real) oneof
    std::map<std::string, const gp::OneofDescriptor*> oneofs;
  };

  static Fields fields_of(const gp::Descriptor& m) {
    Fields out;
    for (int i = 0; i < m.field_count(); ++i) out.by_number.emplace(m.field(i)->number(), m.field(i));
    for (int i = 0; i < m.real_oneof_decl_count(); ++i) {
      const gp::OneofDescriptor* o = m.oneof_decl(i);
      out.oneofs.emplace(o->name(), o);
      for (int j = 0; j < o->field_count(); ++j) out.oneof_of.emplace(o->field(j)->number(), o->name());
    }
    return out;
  }

  // MessageSchemaDiff.compare.
  void message(const gp::Descriptor& original, const gp::Descriptor& update) {
    // A message met again while comparing itself (a recursive type) is not compared again.
    bool entered = in_progress_.insert(&original).second;
    if (entered) message_fields(original, update);
    types(nested(original), nested(update));
    if (entered) in_progress_.erase(&original);
  }

  void message_fields(const gp::Descriptor& original_message, const gp::Descriptor& update_message) {
    Fields o = fields_of(original_message), u = fields_of(update_message);

    // A oneof gone with all its fields is a deletion (compatible); one whose fields survive
    // elsewhere leaves its dropped fields to be reported one by one below.
    std::set<std::string> deleted_oneofs;
    for (auto& [name, oneof] : o.oneofs) {
      if (u.oneofs.contains(name)) continue;
      bool survives = false;
      for (int i = 0; i < oneof->field_count(); ++i)
        survives |= u.by_number.contains(oneof->field(i)->number());
      if (!survives) deleted_oneofs.insert(name);
    }

    // Fields that could be set together before and are now in one oneof: old data setting
    // both cannot be read. Each old oneof is one group, each old top-level field its own.
    for (int i = 0; i < update_message.real_oneof_decl_count(); ++i) {
      const gp::OneofDescriptor& oneof = *update_message.oneof_decl(i);
      auto scope = enter(oneof.name());
      std::set<std::string> groups;
      int moved_in = 0;
      for (int j = 0; j < oneof.field_count(); ++j) {
        int number = oneof.field(j)->number();
        if (auto it = o.oneof_of.find(number); it != o.oneof_of.end()) {
          groups.insert("oneof:" + it->second);
        } else if (o.by_number.contains(number)) {
          groups.insert("field:" + std::to_string(number));
          ++moved_in;
        }
      }
      if (groups.size() > 1)
        add(moved_in > 1 ? Type::kMultipleFieldsMovedToOneof : Type::kFieldMovedToExistingOneof);
    }

    for (const std::string& name : keys_of_either(o.oneofs, u.oneofs)) {
      auto scope = enter(name);
      if (!u.oneofs.contains(name))
        add(Type::kOneofRemoved);
      else if (!o.oneofs.contains(name))
        add(Type::kOneofAdded);
    }

    for (int n : keys_of_either(o.by_number, u.by_number)) {
      auto of = o.by_number.find(n), uf = u.by_number.find(n);
      auto o_oneof = o.oneof_of.find(n), u_oneof = u.oneof_of.find(n);
      bool in_o_oneof = o_oneof != o.oneof_of.end(), in_u_oneof = u_oneof != u.oneof_of.end();
      if (uf == u.by_number.end()) {
        if (in_o_oneof) {
          if (!deleted_oneofs.contains(o_oneof->second)) {
            auto s1 = enter(o_oneof->second);
            auto s2 = enter(std::to_string(n));
            add(Type::kOneofFieldRemoved);
          }
        } else {
          auto scope = enter(std::to_string(n));
          add(of->second->is_required() ? Type::kRequiredFieldRemoved : Type::kFieldRemoved);
        }
      } else if (of == o.by_number.end()) {
        if (in_u_oneof) {
          auto s1 = enter(u_oneof->second);
          auto s2 = enter(std::to_string(n));
          add(Type::kOneofFieldAdded);
        } else {
          auto scope = enter(std::to_string(n));
          add(uf->second->is_required() ? Type::kRequiredFieldAdded : Type::kFieldAdded);
        }
      } else {
        if (in_o_oneof && !in_u_oneof) {
          auto scope = enter(std::to_string(n));
          add(Type::kOneofFieldMovedToTopLevel);
        }
        // compared where the field now is
        if (in_u_oneof) path_.push_back(u_oneof->second);
        {
          auto scope = enter(std::to_string(n));
          field(*of->second, *uf->second);
        }
        if (in_u_oneof) path_.pop_back();
      }
    }
  }

  // FieldSchemaDiff.compare.
  void field(const Field& original, const Field& update) {
    if (original.name() != update.name()) add(Type::kFieldNameChanged);
    labels_and_types(label_of(original), label_of(update), original, update);
  }

  void labels_and_types(Label original_label, Label update_label, const Field& original,
                        const Field& update) {
    Kind kind = kind_of(original);
    if (kind != kind_of(update)) {
      add(Type::kFieldKindChanged);
      return;
    }
    switch (kind) {
      case Kind::kScalar: {
        ScalarKind scalar = scalar_kind(original);
        if (scalar != scalar_kind(update)) {
          add(Type::kFieldScalarKindChanged);
        } else if (original_label != Label::kNone && update_label != Label::kNone &&
                   original_label != update_label) {
          add(scalar == ScalarKind::kStringOrBytes ? Type::kFieldStringOrBytesLabelChanged
                                                   : Type::kFieldNumericLabelChanged);
        }
        break;
      }
      case Kind::kMessage:
        message_types(*original.message_type(), *update.message_type());
        break;
      case Kind::kMap: {
        const gp::Descriptor& o = *original.message_type();
        const gp::Descriptor& u = *update.message_type();
        labels_and_types(Label::kNone, Label::kNone, *o.map_key(), *u.map_key());
        labels_and_types(Label::kNone, Label::kNone, *o.map_value(), *u.map_value());
        break;
      }
    }
  }

  // FieldSchemaDiff.compareMessageTypes: same name inside the package, and, unless both come
  // from the same definition, compatible contents.
  void message_types(const gp::Descriptor& original, const gp::Descriptor& update) {
    std::string name = local_name(original);
    if (name != local_name(update)) {
      add(Type::kFieldNamedTypeChanged);
      return;
    }
    std::optional<Origin> o = origin_of(original_, *original.file()), u = origin_of(update_, *update.file());
    if (o && u && *o == *u) return;
    Diff inner(original_, update_);
    inner.in_progress_ = in_progress_;
    for (size_t start = 0; start <= name.size();) {
      size_t dot = std::min(name.find('.', start), name.size());
      inner.path_.push_back(name.substr(start, dot - start));
      start = dot + 1;
    }
    inner.message(original, update);
    bool compatible = true;
    for (auto& d : inner.differences) {
      compatible &= is_compatible(d.type);
      differences.push_back(d);
    }
    if (!compatible) add(Type::kFieldNamedTypeChanged);
  }

  const ProtobufSchema& original_;
  const ProtobufSchema& update_;
  std::vector<std::string> path_;
  std::set<const gp::Descriptor*> in_progress_;
};

struct TypeInfo {
  std::string_view name;
  bool compatible;
  // Confluent's description; the first %s is the reader's role, the second the writer's.
  std::string_view before_path, after_path;
};

// Indexed by DifferenceType.
constexpr std::array<TypeInfo, 26> kTypes = {{
    {"PACKAGE_CHANGED", false, "The package at '",
     "' in the %s schema does not match the package in the %s schema"},
    {"MESSAGE_ADDED", true, "", ""},
    {"MESSAGE_REMOVED", false, "The %s schema is missing a MESSAGE type at path '", "' in the %s schema"},
    {"MESSAGE_MOVED", true, "", ""},
    {"ENUM_ADDED", true, "", ""},
    {"ENUM_REMOVED", true, "", ""},
    {"ENUM_CONST_ADDED", true, "", ""},
    {"ENUM_CONST_CHANGED", true, "", ""},
    {"ENUM_CONST_REMOVED", true, "", ""},
    {"FIELD_ADDED", true, "", ""},
    {"FIELD_REMOVED", true, "", ""},
    {"FIELD_NAME_CHANGED", true, "", ""},
    {"FIELD_KIND_CHANGED", false, "The type of a field at path '",
     "' in the %s schema does not match the %s schema"},
    {"FIELD_SCALAR_KIND_CHANGED", false, "The kind of a SCALAR field at path '",
     "' in the %s schema does not match its kind in the %s schema"},
    {"FIELD_NAMED_TYPE_CHANGED", false, "The type of a MESSAGE field at path '",
     "' in the %s schema does not match its type in the %s schema"},
    {"FIELD_NUMERIC_LABEL_CHANGED", false, "The label for a NUMERIC field at path '",
     "' in the %s schema does not match its label in the %s schema"},
    {"FIELD_STRING_OR_BYTES_LABEL_CHANGED", true, "", ""},
    {"REQUIRED_FIELD_ADDED", false, "A required field  at path '",
     "' in the %s schema is missing in the %s schema"},
    {"REQUIRED_FIELD_REMOVED", false, "The %s schema is missing a required field at path: '",
     "' in the %s schema"},
    {"ONEOF_ADDED", true, "", ""},
    {"ONEOF_REMOVED", true, "", ""},
    {"ONEOF_FIELD_ADDED", true, "", ""},
    {"ONEOF_FIELD_REMOVED", false, "The %s schema is missing a oneof field at path '", "' in the %s schema"},
    {"ONEOF_FIELD_MOVED_TO_TOP_LEVEL", true, "The oneof field at path '",
     "' in the %s schema was moved out of its oneof to a top-level field in the %s schema"},
    {"MULTIPLE_FIELDS_MOVED_TO_ONEOF", false, "Multiple fields in the oneof at path '",
     "' in the %s schema are outside a oneof in the %s schema"},
    {"FIELD_MOVED_TO_EXISTING_ONEOF", false, "A field in the oneof at path '",
     "' in the %s schema is outside an existing oneof in the %s schema"},
}};
static_assert(kTypes.size() == size_t(Type::kFieldMovedToExistingOneof) + 1);

}  // namespace

std::string_view to_string(DifferenceType type) { return kTypes[size_t(type)].name; }
bool is_compatible(DifferenceType type) { return kTypes[size_t(type)].compatible; }

std::string describe(const Difference& difference) {
  const TypeInfo& t = kTypes[size_t(difference.type)];
  std::string description;
  if (!t.before_path.empty())
    description = std::string(t.before_path) + difference.path + std::string(t.after_path);
  return "{errorType:\"" + std::string(t.name) + "\", description:\"" + description + "\"}";
}

std::vector<Difference> differences(const ProtobufSchema& original, const ProtobufSchema& update) {
  Diff diff(original, update);
  diff.files();
  return std::move(diff.differences);
}

}  // namespace pb

std::vector<std::string> detail::protobuf_read_problems(const ParsedSchema& reader,
                                                        const ParsedSchema& writer) {
  auto* r = dynamic_cast<const pb::ProtobufSchema*>(&reader);
  auto* w = dynamic_cast<const pb::ProtobufSchema*>(&writer);
  if (r == nullptr || w == nullptr) return {"Incompatible because of different schema type"};
  std::vector<std::string> out;
  for (const pb::Difference& d : pb::differences(*w, *r)) {
    if (!pb::is_compatible(d.type)) out.push_back(pb::describe(d));
  }
  return out;
}

}  // namespace kb::registry
