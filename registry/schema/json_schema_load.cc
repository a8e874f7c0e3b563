// Loads a JSON Schema document into the schema model, the way the Everit loader Confluent uses
// reads it: "$ref" makes a reference (its siblings other than annotations are ignored); each of
// "enum", "allOf"/"anyOf"/"oneOf", "not", "const", the type ("type", or the keywords of a type
// when there is none) and "if" gives one part; one part is the schema itself, several are the
// parts of an implicit allOf. A "type" array is an anyOf of one schema per type.
//
// Every keyword is checked for the kind of value it needs, and every $ref must resolve, so a
// schema the registry stores can always be compared later.
#include <algorithm>
#include <regex>
#include <set>

#include "registry/schema/json_schema.h"

namespace kb::registry::detail::jsonschema {

namespace {

// Far beyond real schemas; bounds the recursion a chain of $refs could cause.
constexpr int kMaxDepth = 256;
constexpr int kMaxRegexNesting = 32;
constexpr size_t kMaxRegexLength = 4096;

struct LoadFailure {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw LoadFailure{path + ": " + what};
}

std::string kind_name(const Json& j) {
  switch (j.kind()) {
    case Json::Kind::kNull:
      return "null";
    case Json::Kind::kBool:
      return "boolean";
    case Json::Kind::kInt:
      return "integer";
    case Json::Kind::kFloat:
      return "number";
    case Json::Kind::kString:
      return "string";
    case Json::Kind::kArray:
      return "array";
    case Json::Kind::kObject:
      return "object";
  }
  return "";
}

std::string child(const std::string& path, std::string_view key) {
  std::string out = path + "/";
  append_pointer_token(out, key);
  return out;
}

std::string json_text(const Json& j) { return to_json(j, {.numbers = NumberStyle::kBigDecimal}); }

const std::set<std::string_view> kTypeNames = {"string", "number", "integer", "boolean",
                                               "null",   "array",  "object"};
const std::vector<std::string_view> kObjectKeywords = {
    "properties",    "required",      "additionalProperties", "patternProperties", "dependencies",
    "minProperties", "maxProperties", "propertyNames",        "dependentRequired", "dependentSchemas"};
const std::vector<std::string_view> kArrayKeywords = {
    "items", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains", "prefixItems"};
const std::vector<std::string_view> kNumberKeywords = {"minimum", "maximum", "exclusiveMinimum",
                                                       "exclusiveMaximum", "multipleOf"};
const std::vector<std::string_view> kStringKeywords = {"minLength", "maxLength", "pattern", "format"};

bool has_any(const Json& j, const std::vector<std::string_view>& keys) {
  return std::any_of(keys.begin(), keys.end(), [&](std::string_view k) { return j.find(k) != nullptr; });
}

Draft draft_of(const Json& document) {
  const Json* s = document.is_object() ? document.find("$schema") : nullptr;
  if (s == nullptr || !s->is_string()) return Draft::k7;
  const std::string& url = s->text();
  if (url.find("draft-04") != std::string::npos) return Draft::k4;
  if (url.find("draft-06") != std::string::npos) return Draft::k6;
  if (url.find("2019-09") != std::string::npos) return Draft::k2019;
  if (url.find("2020-12") != std::string::npos) return Draft::k2020;
  return Draft::k7;
}

bool has_scheme(const std::string& uri) {
  size_t colon = uri.find(':');
  if (colon == std::string::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(uri[0])))
    return false;
  return uri.find_first_of("/?#") > colon;
}

// RFC 3986 reference resolution, enough for the $id and $ref values schemas use.
std::string resolve_uri(std::string base, const std::string& ref) {
  if (ref.empty()) return base;
  if (has_scheme(ref) || base.empty()) return ref;
  base = base.substr(0, base.find('#'));
  if (ref[0] == '#') return base + ref;
  size_t scheme_end = base.find("://");
  if (ref.rfind("//", 0) == 0) return base.substr(0, base.find(':') + 1) + ref;
  if (ref[0] == '/') {
    size_t path_start = scheme_end == std::string::npos ? 0 : base.find('/', scheme_end + 3);
    return (path_start == std::string::npos ? base : base.substr(0, path_start)) + ref;
  }
  size_t slash = base.rfind('/');
  if (slash == std::string::npos || (scheme_end != std::string::npos && slash < scheme_end + 3)) {
    return scheme_end == std::string::npos ? ref : base + "/" + ref;
  }
  std::string out = base.substr(0, slash + 1) + ref;
  for (size_t p; (p = out.find("/./")) != std::string::npos;) out.erase(p, 2);
  return out;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Document {
  std::string name;  // how schemas refer to it ("" for the schema itself)
  const Json* json = nullptr;
  Draft draft = Draft::k7;
  std::string base;                        // its base URI
  std::map<std::string, const Json*> ids;  // "$id"s (and anchors) inside it, resolved
};

class Loader {
 public:
  Loader(Model& model, std::vector<Document> docs) : model_(model), docs_(std::move(docs)) {
    for (Document& d : docs_) index_ids(d, *d.json, d.base);
  }

  const Schema* load_root() {
    const Schema* root = load(0, *docs_[0].json, "#");
    // Definitions nobody references yet are checked too: a later version may reference them.
    for (const char* key : {"definitions", "$defs"}) {
      const Json* defs = docs_[0].json->is_object() ? docs_[0].json->find(key) : nullptr;
      if (defs == nullptr) continue;
      if (!defs->is_object()) fail(child("#", key), "expected an object, found " + kind_name(*defs));
      for (const auto& [name, def] : defs->members()) load(0, def, child(child("#", key), name));
    }
    return root;
  }

 private:
  std::string_view id_keyword(const Document& d) const { return d.draft == Draft::k4 ? "id" : "$id"; }

  void index_ids(Document& d, const Json& j, const std::string& base) {
    if (j.is_array()) {
      for (const Json& e : j.items()) index_ids(d, e, base);
      return;
    }
    if (!j.is_object()) return;
    std::string here = base;
    if (const Json* id = j.find(id_keyword(d)); id != nullptr && id->is_string()) {
      here = resolve_uri(base, id->text());
      d.ids.emplace(here, &j);
    }
    if (const Json* anchor = j.find("$anchor"); anchor != nullptr && anchor->is_string()) {
      d.ids.emplace(resolve_uri(here, "#" + anchor->text()), &j);
    }
    for (const auto& [k, v] : j.members()) {
      if (k != "enum" && k != "const" && k != "default" && k != "examples") index_ids(d, v, here);
    }
  }

  Schema* make(Kind kind, std::string identity = {}) {
    model_.nodes.push_back(std::make_unique<Schema>());
    Schema* s = model_.nodes.back().get();
    s->kind = kind;
    s->identity = std::move(identity);
    return s;
  }

  Schema* load(size_t doc, const Json& j, const std::string& path) {
    if (auto it = memo_.find(&j); it != memo_.end()) return it->second;
    if (depth_ >= kMaxDepth)
      fail(path, "schema nested more than " + std::to_string(kMaxDepth) + " levels deep");
    ++depth_;
    struct Leave {
      int& depth;
      ~Leave() { --depth; }
    } leave{depth_};

    const Document& d = docs_[doc];
    if (j.is_bool()) {
      if (d.draft == Draft::k4)
        fail(path, "expected a schema object, found boolean (draft-04 has no boolean schemas)");
      Schema* s = make(j.as_bool() ? Kind::kTrue : Kind::kFalse, json_text(j));
      memo_[&j] = s;
      return s;
    }
    if (!j.is_object()) fail(path, "expected a schema (an object), found " + kind_name(j));
    // The identity is only needed for the subschemas of a combined schema (set there).
    Schema* s = make(Kind::kEmpty);
    memo_[&j] = s;
    check_keywords(d, j, path);
    read_annotations(d, j, *s);
    if (const Json* ref = j.find("$ref")) {
      s->kind = Kind::kReference;
      s->ref = ref->text();
      s->target = resolve(doc, s->ref, child(path, "$ref"));
      return s;
    }

    // The parts, in the order Everit extracts them.
    std::vector<std::pair<Kind, std::string_view>> parts;
    if (j.find("enum")) parts.emplace_back(Kind::kEnum, "enum");
    for (const char* c : {"allOf", "anyOf", "oneOf"}) {
      if (j.find(c)) parts.emplace_back(Kind::kCombined, c);
    }
    if (j.find("not")) parts.emplace_back(Kind::kNot, "not");
    if (d.draft != Draft::k4 && j.find("const")) parts.emplace_back(Kind::kConst, "const");
    if (const Json* type = j.find("type")) {
      if (type->is_string()) {
        parts.emplace_back(kind_of_type(type->text()), type->text());
      } else {
        parts.emplace_back(Kind::kCombined, "type");
      }
    } else {
      if (has_any(j, kObjectKeywords)) parts.emplace_back(Kind::kObject, "object");
      if (has_any(j, kArrayKeywords)) parts.emplace_back(Kind::kArray, "array");
      if (has_any(j, kNumberKeywords)) parts.emplace_back(Kind::kNumber, "number");
      if (has_any(j, kStringKeywords)) parts.emplace_back(Kind::kString, "string");
    }
    if (d.draft != Draft::k4 && d.draft != Draft::k6 && j.find("if"))
      parts.emplace_back(Kind::kConditional, "if");

    if (parts.size() == 1) {
      fill(doc, j, path, parts[0].first, parts[0].second, *s);
    } else if (parts.size() > 1) {
      s->kind = Kind::kCombined;
      s->criterion = Criterion::kAllOf;
      std::string source = json_text(j);
      for (const auto& [kind, what] : parts) {
        Schema* part = make(kind, std::string(what) + "@" + source);
        fill(doc, j, path, kind, what, *part);
        s->subschemas.push_back(part);
      }
    }
    return s;
  }

  static Kind kind_of_type(const std::string& type) {
    if (type == "object") return Kind::kObject;
    if (type == "array") return Kind::kArray;
    if (type == "string") return Kind::kString;
    if (type == "number" || type == "integer") return Kind::kNumber;
    if (type == "boolean") return Kind::kBoolean;
    return Kind::kNull;
  }

  void read_annotations(const Document& d, const Json& j, Schema& s) {
    if (const Json* id = j.find(id_keyword(d))) s.id = id->text();
    if (const Json* t = j.find("title")) s.title = t->text();
    if (const Json* t = j.find("description")) s.description = t->text();
    if (const Json* t = j.find("default")) s.default_value = *t;
    if (const Json* t = j.find("connect.type"); t != nullptr && t->is_string()) s.connect_type = t->text();
  }

  // Fills one part of the schema at `j`: `what` names the keyword or type it comes from.
  void fill(size_t doc, const Json& j, const std::string& path, Kind kind, std::string_view what, Schema& s) {
    s.kind = kind;
    auto sub = [&](const Json& value, const std::string& p) { return load(doc, value, p); };
    auto count = [&](const char* key) -> std::optional<int64_t> {
      const Json* v = j.find(key);
      return v ? v->as_int64() : std::nullopt;
    };
    auto number = [&](const char* key) -> std::optional<double> {
      const Json* v = j.find(key);
      return v && v->is_number() ? std::optional<double>(v->as_double()) : std::nullopt;
    };
    switch (kind) {
      case Kind::kEnum:
        s.values = j.find("enum")->items();
        return;
      case Kind::kConst:
        s.values = {*j.find("const")};
        return;
      case Kind::kNot:
        s.not_schema = sub(*j.find("not"), child(path, "not"));
        return;
      case Kind::kConditional:
        for (const char* key : {"if", "then", "else"}) {
          if (const Json* v = j.find(key)) sub(*v, child(path, key));
        }
        return;
      case Kind::kCombined:
        if (what == "type") {
          s.criterion = Criterion::kAnyOf;
          std::string source = json_text(j);
          for (const Json& t : j.find("type")->items()) {
            Schema* part = make(kind_of_type(t.text()), "type:" + t.text() + "@" + source);
            fill(doc, j, path, part->kind, t.text(), *part);
            s.subschemas.push_back(part);
          }
          return;
        }
        s.criterion = what == "allOf"   ? Criterion::kAllOf
                      : what == "anyOf" ? Criterion::kAnyOf
                                        : Criterion::kOneOf;
        for (size_t i = 0; i < j.find(what)->items().size(); ++i) {
          const Json& element = j.find(what)->items()[i];
          Schema* subschema = sub(element, child(child(path, what), std::to_string(i)));
          if (subschema->identity.empty()) subschema->identity = "schema:" + json_text(element);
          s.subschemas.push_back(subschema);
        }
        return;
      case Kind::kString:
        s.min_length = count("minLength");
        s.max_length = count("maxLength");
        if (const Json* p = j.find("pattern")) s.pattern = p->text();
        return;
      case Kind::kNumber: {
        s.requires_integer = what == "integer";
        s.minimum = number("minimum");
        s.maximum = number("maximum");
        s.multiple_of = number("multipleOf");
        // Draft 4's boolean exclusiveMinimum/Maximum qualify minimum/maximum instead.
        s.exclusive_minimum = number("exclusiveMinimum");
        s.exclusive_maximum = number("exclusiveMaximum");
        return;
      }
      case Kind::kObject: {
        if (const Json* props = j.find("properties")) {
          for (const auto& [name, value] : props->members()) {
            s.properties.emplace_back(name, sub(value, child(child(path, "properties"), name)));
          }
        }
        if (const Json* req = j.find("required")) {
          for (const Json& r : req->items()) s.required.push_back(r.text());
        }
        if (const Json* ap = j.find("additionalProperties")) {
          if (ap->is_bool()) {
            s.permits_additional_properties = ap->as_bool();
          } else {
            s.additional_properties = sub(*ap, child(path, "additionalProperties"));
          }
        }
        if (const Json* pp = j.find("patternProperties")) {
          for (const auto& [pattern, value] : pp->members()) {
            s.pattern_properties.emplace_back(pattern,
                                              sub(value, child(child(path, "patternProperties"), pattern)));
          }
        }
        // Draft 2019-09 split "dependencies" into dependentRequired and dependentSchemas.
        for (const char* key : {"dependencies", "dependentRequired", "dependentSchemas"}) {
          const Json* deps = j.find(key);
          if (deps == nullptr) continue;
          for (const auto& [name, value] : deps->members()) {
            if (value.is_array()) {
              std::vector<std::string> names;
              for (const Json& n : value.items()) names.push_back(n.text());
              s.property_dependencies.emplace_back(name, std::move(names));
            } else {
              s.schema_dependencies.emplace_back(name, sub(value, child(child(path, key), name)));
            }
          }
        }
        if (const Json* pn = j.find("propertyNames")) sub(*pn, child(path, "propertyNames"));
        s.min_properties = count("minProperties");
        s.max_properties = count("maxProperties");
        return;
      }
      case Kind::kArray: {
        // Draft 2020-12 names the tuple "prefixItems" and what follows it "items" (a boolean
        // "items" alone says whether items are allowed at all).
        const Json* prefix = docs_[doc].draft == Draft::k2020 ? j.find("prefixItems") : nullptr;
        const Json* items = j.find("items");
        bool items_follow =
            docs_[doc].draft == Draft::k2020 && items != nullptr && (prefix || items->is_bool());
        if (prefix != nullptr) {
          for (size_t i = 0; i < prefix->items().size(); ++i) {
            s.item_schemas.push_back(
                sub(prefix->items()[i], child(child(path, "prefixItems"), std::to_string(i))));
          }
        }
        if (items != nullptr && !items_follow) {
          if (items->is_array()) {
            for (size_t i = 0; i < items->items().size(); ++i) {
              s.item_schemas.push_back(
                  sub(items->items()[i], child(child(path, "items"), std::to_string(i))));
            }
          } else {
            s.all_items = sub(*items, child(path, "items"));
          }
        }
        if (const Json* ai = items_follow ? items : j.find("additionalItems")) {
          if (ai->is_bool()) {
            s.permits_additional_items = ai->as_bool();
          } else {
            s.additional_items = sub(*ai, child(path, "additionalItems"));
          }
        }
        if (const Json* c = j.find("contains")) sub(*c, child(path, "contains"));
        s.min_items = count("minItems");
        s.max_items = count("maxItems");
        if (const Json* u = j.find("uniqueItems")) s.unique_items = u->as_bool();
        return;
      }
      default:
        return;  // boolean, null: nothing beyond the type
    }
  }

  // The kind of value each keyword takes (the checks Everit's loader makes while reading).
  static void check_keywords(const Document& d, const Json& j, const std::string& path) {
    for (const auto& [key, value] : j.members()) {
      const Json& v = value;  // a lambda may not capture a structured binding under clang 14
      std::string p = child(path, key);
      auto expect = [&](bool ok, const std::string& what) {
        if (!ok) fail(p, "expected " + what + ", found " + kind_name(v));
      };
      bool schema_like = v.is_object() || v.is_bool();
      if (key == "type") {
        if (v.is_string()) {
          if (!kTypeNames.count(v.text())) fail(p, "unknown type '" + v.text() + "'");
        } else {
          expect(v.is_array() && !v.items().empty(), "a type name or a non-empty array of type names");
          std::set<std::string> seen;
          for (const Json& t : v.items()) {
            if (!t.is_string() || !kTypeNames.count(t.text())) fail(p, "unknown type " + json_text(t));
            if (!seen.insert(t.text()).second) fail(p, "type '" + t.text() + "' listed twice");
          }
        }
      } else if (key == "properties" || key == "patternProperties" || key == "definitions" ||
                 key == "$defs" || key == "dependencies" || key == "dependentSchemas" ||
                 key == "dependentRequired") {
        expect(v.is_object(), "an object");
        for (const auto& [name, value] : v.members()) {
          bool names_allowed = key == "dependencies" || key == "dependentRequired";
          bool ok = key == "dependentRequired"
                        ? value.is_array()
                        : value.is_object() || value.is_bool() || (names_allowed && value.is_array());
          if (!ok)
            fail(child(p, name), "expected " +
                                     std::string(key == "dependentRequired" ? "property names" : "a schema") +
                                     ", found " + kind_name(value));
          if (names_allowed && value.is_array()) {
            for (const Json& n : value.items()) {
              if (!n.is_string()) fail(child(p, name), "expected property names, found " + kind_name(n));
            }
          }
          if (key == "patternProperties") check_regex(child(p, name), name);
        }
      } else if (key == "required") {
        expect(v.is_array(), "an array of property names");
        for (const Json& r : v.items()) {
          if (!r.is_string()) fail(p, "expected property names, found " + kind_name(r));
        }
      } else if (key == "additionalProperties" || key == "additionalItems" || key == "not" ||
                 key == "contains" || key == "propertyNames" || key == "if" || key == "then" ||
                 key == "else") {
        expect(schema_like, "a schema");
      } else if (key == "items") {
        if (d.draft == Draft::k2020) {
          expect(schema_like, "a schema (draft 2020-12 lists tuple items in prefixItems)");
        } else {
          expect(schema_like || v.is_array(), "a schema or an array of schemas");
        }
      } else if (key == "prefixItems") {
        expect(v.is_array(), "an array of schemas");
      } else if (key == "enum") {
        expect(v.is_array(), "an array");
      } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
        expect(v.is_array() && !v.items().empty(), "a non-empty array of schemas");
      } else if (key == "minLength" || key == "maxLength" || key == "minItems" || key == "maxItems" ||
                 key == "minProperties" || key == "maxProperties") {
        auto n = v.as_int64();
        expect(n && *n >= 0, "a non-negative integer");
      } else if (key == "minimum" || key == "maximum") {
        expect(v.is_number(), "a number");
      } else if (key == "multipleOf") {
        expect(v.is_number() && v.as_double() > 0, "a number greater than 0");
      } else if (key == "exclusiveMinimum" || key == "exclusiveMaximum") {
        if (d.draft == Draft::k4) {
          expect(v.is_bool(), "a boolean (draft-04)");
        } else {
          expect(v.is_number(), "a number");
        }
      } else if (key == "pattern") {
        expect(v.is_string(), "a regular expression");
        check_regex(p, v.text());
      } else if (key == "uniqueItems") {
        expect(v.is_bool(), "a boolean");
      } else if (key == "$ref" || key == "format" || key == "title" || key == "description" ||
                 key == "$schema" || key == "$comment" || key == "$anchor" || key == "$id" ||
                 (key == "id" && d.draft == Draft::k4)) {
        expect(v.is_string(), "a string");
      }
    }
  }

  static void check_regex(const std::string& path, const std::string& pattern) {
    // libstdc++ compiles a regular expression recursively: deep nesting would exhaust the stack.
    int depth = 0, deepest = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == '\\') {
        ++i;
      } else if (pattern[i] == '(' || pattern[i] == '[') {
        deepest = std::max(deepest, ++depth);
      } else if (pattern[i] == ')' || pattern[i] == ']') {
        --depth;
      }
    }
    if (deepest > kMaxRegexNesting || pattern.size() > kMaxRegexLength) {
      fail(path, "regular expression too complex (more than " + std::to_string(kMaxRegexNesting) +
                     " nested groups or " + std::to_string(kMaxRegexLength) + " characters)");
    }
    try {
      std::regex re(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail(path, "invalid regular expression '" + pattern + "': " + e.what());
    }
  }

  Schema* resolve(size_t doc, const std::string& ref, const std::string& path) {
    size_t hash = ref.find('#');
    std::string base_part = ref.substr(0, hash);
    std::string fragment = hash == std::string::npos ? "" : percent_decode(ref.substr(hash + 1));
    size_t target = doc;
    const Json* node = docs_[doc].json;
    if (!base_part.empty()) {
      std::string absolute = resolve_uri(docs_[doc].base, base_part);
      bool found = false;
      for (size_t i = 0; i < docs_.size() && !found; ++i) {
        const Document& d = docs_[i];
        if (auto it = d.ids.find(absolute); it != d.ids.end()) {
          target = i, node = it->second, found = true;
        } else if (i > 0 && (d.name == base_part || d.name == absolute ||
                             resolve_uri(docs_[doc].base, d.name) == absolute)) {
          target = i, node = d.json, found = true;
        }
      }
      if (!found) {
        fail(
            path,
            "unresolved reference '" + ref +
                "' (a schema of another subject is referenced by the name given in the schema's references)");
      }
    }
    if (!fragment.empty() && fragment[0] == '/') {
      node = walk_pointer(*node, fragment, path, ref);
    } else if (!fragment.empty()) {
      const Document& d = docs_[target];
      auto it = d.ids.find(resolve_uri(d.base, "#" + fragment));
      if (it == d.ids.end())
        fail(path, "unresolved reference '" + ref + "': no schema has the id '#" + fragment + "'");
      node = it->second;
    }
    return load(target, *node, "#" + fragment);
  }

  static const Json* walk_pointer(const Json& start, const std::string& pointer, const std::string& path,
                                  const std::string& ref) {
    const Json* node = &start;
    size_t pos = 1;
    while (pos <= pointer.size()) {
      size_t next = pointer.find('/', pos);
      if (next == std::string::npos) next = pointer.size();
      std::string token;
      for (size_t i = pos; i < next; ++i) {
        if (pointer[i] == '~' && i + 1 < next && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
          token += pointer[++i] == '0' ? '~' : '/';
        } else {
          token += pointer[i];
        }
      }
      const Json* step = nullptr;
      if (node->is_object()) {
        step = node->find(token);
      } else if (node->is_array() && !token.empty() &&
                 token.find_first_not_of("0123456789") == std::string::npos && token.size() < 10 &&
                 std::stoul(token) < node->items().size()) {
        step = &node->items()[std::stoul(token)];
      }
      if (step == nullptr) fail(path, "unresolved reference '" + ref + "': nothing at '" + pointer + "'");
      node = step;
      pos = next + 1;
    }
    return node;
  }

  Model& model_;
  std::vector<Document> docs_;
  std::map<const Json*, Schema*> memo_;
  int depth_ = 0;
};

}  // namespace

std::string_view criterion_name(Criterion c) {
  switch (c) {
    case Criterion::kAllOf:
      return "allOf";
    case Criterion::kAnyOf:
      return "anyOf";
    case Criterion::kOneOf:
      return "oneOf";
  }
  return "";
}

const Schema* Schema::property(std::string_view name) const {
  for (const auto& [k, v] : properties) {
    if (k == name) return v;
  }
  return nullptr;
}

bool Schema::is_required(std::string_view name) const {
  return std::find(required.begin(), required.end(), name) != required.end();
}

LoadOutcome load(const Json& document, const std::vector<NamedDocument>& referenced) {
  std::vector<Document> docs;
  auto add = [&](const std::string& name, const Json& json) {
    Document d;
    d.name = name;
    d.json = &json;
    d.draft = draft_of(json);
    d.base = name;
    const Json* id = json.is_object() ? json.find(d.draft == Draft::k4 ? "id" : "$id") : nullptr;
    if (id != nullptr && id->is_string()) d.base = resolve_uri(name, id->text());
    docs.push_back(std::move(d));
  };
  add("", document);
  for (const NamedDocument& r : referenced) add(r.name, r.json);

  auto model = std::make_unique<Model>();
  try {
    if (!document.is_object() && !document.is_bool())
      fail("#", "a JSON Schema is an object, found " + kind_name(document));
    Loader loader(*model, std::move(docs));
    model->root = loader.load_root();
  } catch (const LoadFailure& f) {
    return LoadOutcome{nullptr, f.message};
  }
  return LoadOutcome{std::move(model), {}};
}

}  // namespace kb::registry::detail::jsonschema
