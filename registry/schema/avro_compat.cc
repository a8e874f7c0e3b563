// Avro schema resolution as Avro Java's SchemaCompatibility checks it (what Confluent's
// AvroSchema.isBackwardCompatible runs): can data written with the writer schema be read with
// the reader schema?
//
// Kept from Avro, because users compare our answers with Confluent's: a named type matches by
// its short name or a reader alias of the writer's full name; a reader record field matches the
// writer field of its name or of one of its aliases; a field only the reader has needs a default
// (an enum with a default symbol counts as one); promotions int->long->float->double and
// string<->bytes; a writer union must resolve branch by branch, a reader union needs one
// branch that resolves. Results are memoized per (reader, writer) node pair, which also ends
// recursion through recursive types (a pair in progress counts as compatible).
#include <algorithm>
#include <map>
#include <set>

#include "registry/schema/avro.h"

namespace kb::registry::detail::avro {

namespace {

struct Result {
  bool compatible = true;
  std::vector<Incompatibility> list;

  void merge(const Result& other) {
    compatible = compatible && other.compatible;
    list.insert(list.end(), other.list.begin(), other.list.end());
  }
};

// A reader field that matches two writer fields stops the check, as Avro's exception does.
struct AmbiguousField {
  std::string message;
};

std::string pointer(const std::vector<std::string>& location) {
  std::string s = "/";
  // The first token is the root's (empty) reference token.
  for (size_t i = 1; i < location.size(); ++i) {
    if (i > 1) s += '/';
    append_pointer_token(s, location[i]);
  }
  return s;
}

bool is_promotion(Type reader, Type writer) {
  switch (reader) {
    case Type::kLong:
      return writer == Type::kInt;
    case Type::kFloat:
      return writer == Type::kInt || writer == Type::kLong;
    case Type::kDouble:
      return writer == Type::kInt || writer == Type::kLong || writer == Type::kFloat;
    case Type::kBytes:
      return writer == Type::kString;
    case Type::kString:
      return writer == Type::kBytes;
    default:
      return false;
  }
}

class Checker {
 public:
  Result check(const Node& reader, const Node& writer) {
    std::vector<std::string> location;
    return check("", reader, writer, location);
  }

 private:
  enum class State { kInProgress, kDone };

  Result check(const std::string& token, const Node& reader, const Node& writer,
               std::vector<std::string>& location) {
    location.push_back(token);
    auto key = std::make_pair(&reader, &writer);
    Result result;
    auto it = memo_.find(key);
    if (it != memo_.end()) {
      if (it->second.first == State::kDone) result = it->second.second;
    } else {
      memo_[key] = {State::kInProgress, {}};
      result = calculate(reader, writer, location);
      memo_[key] = {State::kDone, result};
    }
    location.pop_back();
    return result;
  }

  static Result incompatible(std::string type, std::string message,
                             const std::vector<std::string>& location) {
    return Result{false, {Incompatibility{std::move(type), std::move(message), pointer(location)}}};
  }

  static Result type_mismatch(const Node& reader, const Node& writer,
                              const std::vector<std::string>& location) {
    return incompatible("TYPE_MISMATCH",
                        "reader type: " + type_enum_name(reader.type) +
                            " not compatible with writer type: " + type_enum_name(writer.type),
                        location);
  }

  Result calculate(const Node& reader, const Node& writer, std::vector<std::string>& location) {
    Result result;
    if (reader.type == writer.type) {
      switch (reader.type) {
        case Type::kArray:
          result.merge(check("items", *reader.element, *writer.element, location));
          break;
        case Type::kMap:
          result.merge(check("values", *reader.element, *writer.element, location));
          break;
        case Type::kFixed:
          result.merge(check_names(reader, writer, location));
          result.merge(check_size(reader, writer, location));
          break;
        case Type::kEnum:
          result.merge(check_names(reader, writer, location));
          result.merge(check_symbols(reader, writer, location));
          break;
        case Type::kRecord:
          result.merge(check_names(reader, writer, location));
          result.merge(check_fields(reader, writer, location));
          break;
        case Type::kUnion:
          // Every branch the writer may have written must be readable.
          for (size_t i = 0; i < writer.branches.size(); ++i) {
            location.push_back(std::to_string(i));
            if (!check(reader, *writer.branches[i]).compatible) {
              result.merge(incompatible(
                  "MISSING_UNION_BRANCH",
                  "reader union lacking writer type: " + type_enum_name(writer.branches[i]->type), location));
            }
            location.pop_back();
          }
          break;
        default:
          break;  // the same primitive
      }
      return result;
    }
    if (writer.type == Type::kUnion) {
      // A reader that is no union must read every branch of the writer's.
      for (const Node* branch : writer.branches) result.merge(check(reader, *branch));
      return result;
    }
    if (reader.type == Type::kUnion) {
      for (const Node* branch : reader.branches) {
        if (check(*branch, writer).compatible) return result;
      }
      return incompatible("MISSING_UNION_BRANCH",
                          "reader union lacking writer type: " + type_enum_name(writer.type), location);
    }
    if (is_promotion(reader.type, writer.type)) return result;
    return type_mismatch(reader, writer, location);
  }

  static bool names_match(const Node& reader, const Node& writer) {
    if (reader.name.name == writer.name.name) return true;
    std::string writer_full = writer.name.full();
    for (const Name& alias : reader.aliases) {
      if (alias.full() == writer_full) return true;
    }
    return false;
  }

  static Result check_names(const Node& reader, const Node& writer, std::vector<std::string>& location) {
    if (names_match(reader, writer)) return {};
    location.push_back("name");
    Result r = incompatible("NAME_MISMATCH", "expected: " + writer.name.full(), location);
    location.pop_back();
    return r;
  }

  static Result check_size(const Node& reader, const Node& writer, std::vector<std::string>& location) {
    if (reader.size == writer.size) return {};
    location.push_back("size");
    Result r = incompatible(
        "FIXED_SIZE_MISMATCH",
        "expected: " + std::to_string(writer.size) + ", found: " + std::to_string(reader.size), location);
    location.pop_back();
    return r;
  }

  static Result check_symbols(const Node& reader, const Node& writer, std::vector<std::string>& location) {
    auto has = [](const std::vector<std::string>& v, const std::string& s) {
      return std::find(v.begin(), v.end(), s) != v.end();
    };
    std::set<std::string> missing;
    for (const std::string& s : writer.symbols) {
      if (!has(reader.symbols, s)) missing.insert(s);
    }
    // A reader enum with a default symbol reads unknown symbols as that symbol.
    if (missing.empty() || (reader.enum_default && has(reader.symbols, *reader.enum_default))) return {};
    std::string list;
    for (const std::string& s : missing) list += (list.empty() ? "" : ", ") + s;
    location.push_back("symbols");
    Result r = incompatible("MISSING_ENUM_SYMBOLS", "[" + list + "]", location);
    location.pop_back();
    return r;
  }

  static const Field* writer_field(const Node& writer, const Field& reader_field) {
    std::vector<const Field*> found;
    auto find = [&](const std::string& name) {
      for (const Field& f : writer.fields) {
        if (f.name == name) found.push_back(&f);
      }
    };
    find(reader_field.name);
    for (const std::string& alias : reader_field.aliases) find(alias);
    if (found.size() > 1) {
      throw AmbiguousField{"Reader record field " + reader_field.name +
                           " matches multiple fields in writer record schema " + writer.name.full()};
    }
    return found.empty() ? nullptr : found[0];
  }

  Result check_fields(const Node& reader, const Node& writer, std::vector<std::string>& location) {
    Result result;
    location.push_back("fields");
    for (size_t i = 0; i < reader.fields.size(); ++i) {
      const Field& rf = reader.fields[i];
      location.push_back(std::to_string(i));
      if (const Field* wf = writer_field(writer, rf)) {
        result.merge(check("type", *rf.type, *wf->type, location));
      } else if (!rf.default_value) {
        if (rf.type->type == Type::kEnum && rf.type->enum_default) {
          result.merge(check("type", *rf.type, writer, location));
        } else {
          result.merge(incompatible("READER_FIELD_MISSING_DEFAULT_VALUE", rf.name, location));
        }
      }
      location.pop_back();
    }
    location.pop_back();
    return result;
  }

  std::map<std::pair<const Node*, const Node*>, std::pair<State, Result>> memo_;
};

}  // namespace

ResolutionOutcome check_resolution(const Node& reader, const Node& writer) {
  try {
    Checker checker;
    return ResolutionOutcome{checker.check(reader, writer).list, std::nullopt};
  } catch (const AmbiguousField& e) {
    return ResolutionOutcome{{}, e.message};
  }
}

}  // namespace kb::registry::detail::avro
