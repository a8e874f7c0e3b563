// The differences between two JSON Schemas, as Confluent's json.diff.SchemaDiff finds them: it
// walks the original (old for BACKWARD) and the update (new) together and names each change;
// a fixed set of change types is compatible, every other one is not.
//
// The rules users meet most: an object whose additionalProperties is absent or true has an open
// content model, so adding a property to it is incompatible (old data may carry that name with
// any value) and removing one is compatible; with additionalProperties false (closed) it is the
// other way round. Narrowing a type, adding a bound or a required property, or removing an enum
// value is incompatible; integer to number, dropping a bound, adding an anyOf/oneOf branch is
// compatible.
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <regex>
#include <set>

#include "registry/schema/json_schema.h"

namespace kb::registry::detail::jsonschema {

namespace {

// Limits on one comparison. A $ref cycle through combined schemas recurses without entering a
// new schema, and combined schemas that refer to each other multiply the work; no real schema
// comes near either limit. Past one, what is left counts as changed (incompatible), so a
// hostile schema costs bounded time and never passes for compatible.
constexpr int kMaxDepth = 256;
constexpr long kMaxComparisons = 50'000;

const std::set<std::string_view> kCompatible = {
    "ID_CHANGED",
    "DESCRIPTION_CHANGED",
    "TITLE_CHANGED",
    "DEFAULT_CHANGED",
    "SCHEMA_REMOVED",
    "TYPE_EXTENDED",
    "MAX_LENGTH_INCREASED",
    "MAX_LENGTH_REMOVED",
    "MIN_LENGTH_DECREASED",
    "MIN_LENGTH_REMOVED",
    "PATTERN_REMOVED",
    "MAXIMUM_INCREASED",
    "MAXIMUM_REMOVED",
    "MINIMUM_DECREASED",
    "MINIMUM_REMOVED",
    "EXCLUSIVE_MAXIMUM_INCREASED",
    "EXCLUSIVE_MAXIMUM_REMOVED",
    "EXCLUSIVE_MINIMUM_DECREASED",
    "EXCLUSIVE_MINIMUM_REMOVED",
    "MULTIPLE_OF_REDUCED",
    "MULTIPLE_OF_REMOVED",
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
    "REQUIRED_ATTRIBUTE_REMOVED",
    "DEPENDENCY_ARRAY_NARROWED",
    "DEPENDENCY_ARRAY_REMOVED",
    "DEPENDENCY_SCHEMA_REMOVED",
    "MAX_PROPERTIES_INCREASED",
    "MAX_PROPERTIES_REMOVED",
    "MIN_PROPERTIES_DECREASED",
    "MIN_PROPERTIES_REMOVED",
    "ADDITIONAL_PROPERTIES_ADDED",
    "ADDITIONAL_PROPERTIES_EXTENDED",
    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "MAX_ITEMS_INCREASED",
    "MAX_ITEMS_REMOVED",
    "MIN_ITEMS_DECREASED",
    "MIN_ITEMS_REMOVED",
    "UNIQUE_ITEMS_REMOVED",
    "ADDITIONAL_ITEMS_ADDED",
    "ADDITIONAL_ITEMS_EXTENDED",
    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
    "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ENUM_ARRAY_EXTENDED",
    "COMBINED_TYPE_EXTENDED",
    "PRODUCT_TYPE_NARROWED",
    "SUM_TYPE_EXTENDED",
    "NOT_TYPE_NARROWED",
};

// The walk's state: where it is, the original schemas it is inside (a recursive schema stops
// at the second visit), and what it found. A sub-context collects its own findings (to judge a
// candidate match on its own) but walks with its parent's position: the walk is strictly
// nested, so sharing it is exact and makes a sub-context free to create.
class Context {
 public:
  Context() : walk_(std::make_shared<Walk>()) {}
  Context sub() const {
    Context c;
    c.walk_ = walk_;
    return c;
  }

  void add(std::string type) { diffs_.push_back(Difference{std::move(type), path_string()}); }
  void add(std::string_view attribute, std::string type) {
    enter(attribute);
    add(std::move(type));
    leave();
  }
  void add_all(const std::vector<Difference>& diffs) {
    diffs_.insert(diffs_.end(), diffs.begin(), diffs.end());
  }

  bool compatible() const {
    return std::all_of(diffs_.begin(), diffs_.end(),
                       [](const Difference& d) { return kCompatible.count(d.type); });
  }
  const std::vector<Difference>& diffs() const { return diffs_; }

  void enter(std::string_view segment) { walk_->path.emplace_back(segment); }
  void leave() { walk_->path.pop_back(); }
  bool enter_schema(const Schema* s) { return walk_->inside.insert(s).second; }
  void leave_schema(const Schema* s) { walk_->inside.erase(s); }
  // Every comparison counts, not only those that enter a schema: a combined schema made of a
  // reference to itself recurses without entering one.
  bool descend() {
    if (walk_->depth >= kMaxDepth || --walk_->budget < 0) return false;
    ++walk_->depth;
    return true;
  }
  void ascend() { --walk_->depth; }

 private:
  struct Walk {
    std::vector<std::string> path;
    std::set<const Schema*> inside;
    int depth = 0;
    long budget = kMaxComparisons;
  };

  std::string path_string() const {
    std::string s = "#/";
    for (size_t i = 0; i < walk_->path.size(); ++i) s += (i ? "/" : "") + walk_->path[i];
    return s;
  }

  std::shared_ptr<Walk> walk_;
  std::vector<Difference> diffs_;
};

struct Path {
  Context& ctx;
  Path(Context& c, std::string_view segment) : ctx(c) { ctx.enter(segment); }
  ~Path() { ctx.leave(); }
};

void compare(Context& ctx, const Schema* original, const Schema* update);

const Schema* follow(const Schema* s) {
  // A reference compares as what it refers to; the loader resolved every one.
  for (int i = 0; s != nullptr && s->kind == Kind::kReference && i < kMaxDepth; ++i) s = s->target;
  return s;
}

bool is_empty_like(const Schema* s) { return s->kind == Kind::kEmpty || s->kind == Kind::kTrue; }

// One bound keyword: added, removed, increased or decreased.
template <typename T>
void compare_bound(Context& ctx, std::string_view keyword, std::string_view prefix, const std::optional<T>& o,
                   const std::optional<T>& u) {
  std::string p(prefix);
  if (o && u) {
    if (*o < *u) ctx.add(keyword, p + "_INCREASED");
    if (*o > *u) ctx.add(keyword, p + "_DECREASED");
  } else if (!o && u) {
    ctx.add(keyword, p + "_ADDED");
  } else if (o && !u) {
    ctx.add(keyword, p + "_REMOVED");
  }
}

void compare_string(Context& ctx, const Schema& o, const Schema& u) {
  compare_bound(ctx, "maxLength", "MAX_LENGTH", o.max_length, u.max_length);
  compare_bound(ctx, "minLength", "MIN_LENGTH", o.min_length, u.min_length);
  if (!o.pattern && u.pattern) ctx.add("pattern", "PATTERN_ADDED");
  if (o.pattern && !u.pattern) ctx.add("pattern", "PATTERN_REMOVED");
  if (o.pattern && u.pattern && *o.pattern != *u.pattern) ctx.add("pattern", "PATTERN_CHANGED");
}

void compare_number(Context& ctx, const Schema& o, const Schema& u) {
  compare_bound(ctx, "maximum", "MAXIMUM", o.maximum, u.maximum);
  compare_bound(ctx, "minimum", "MINIMUM", o.minimum, u.minimum);
  compare_bound(ctx, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM", o.exclusive_maximum, u.exclusive_maximum);
  compare_bound(ctx, "exclusiveMinimum", "EXCLUSIVE_MINIMUM", o.exclusive_minimum, u.exclusive_minimum);
  if (o.multiple_of != u.multiple_of) {
    auto divides = [](double a, double b) { return std::fmod(b, a) == 0; };  // b is a multiple of a
    if (!o.multiple_of) {
      ctx.add("multipleOf", "MULTIPLE_OF_ADDED");
    } else if (!u.multiple_of) {
      ctx.add("multipleOf", "MULTIPLE_OF_REMOVED");
    } else if (divides(*o.multiple_of, *u.multiple_of)) {
      ctx.add("multipleOf", "MULTIPLE_OF_EXPANDED");
    } else if (divides(*u.multiple_of, *o.multiple_of)) {
      ctx.add("multipleOf", "MULTIPLE_OF_REDUCED");
    } else {
      ctx.add("multipleOf", "MULTIPLE_OF_CHANGED");
    }
  }
  if (o.requires_integer != u.requires_integer)
    ctx.add(o.requires_integer ? "TYPE_EXTENDED" : "TYPE_NARROWED");
}

bool contains_all(const std::vector<Json>& big, const std::vector<Json>& small) {
  return std::all_of(small.begin(), small.end(), [&](const Json& v) {
    return std::any_of(big.begin(), big.end(), [&](const Json& b) { return b.same_value(v); });
  });
}

void compare_enum(Context& ctx, const Schema& o, const Schema& u) {
  bool grown = contains_all(u.values, o.values), shrunk = contains_all(o.values, u.values);
  if (grown && shrunk) return;
  ctx.add("enum", grown ? "ENUM_ARRAY_EXTENDED" : shrunk ? "ENUM_ARRAY_NARROWED" : "ENUM_ARRAY_CHANGED");
}

bool is_open(const Schema& s) {
  return s.pattern_properties.empty() && s.additional_properties == nullptr &&
         s.permits_additional_properties;
}

// The schema a partially open object gives a property it does not name.
const Schema* partial_schema(const Schema& s, const std::string& property) {
  for (const auto& [pattern, schema] : s.pattern_properties) {
    try {
      if (std::regex_search(property, std::regex(pattern, std::regex::ECMAScript))) return schema;
    } catch (const std::regex_error&) {
      // The loader refuses invalid patterns; nothing to match here.
    }
  }
  return s.additional_properties;
}

// A property or item only one side has, judged by what a partially open model allows for it.
bool covered(Context& ctx, const Schema* original, const Schema* update) {
  Context sub = ctx.sub();
  compare(sub, original, update);
  ctx.add_all(sub.diffs());
  return sub.compatible();
}

void compare_properties(Context& ctx, const Schema& o, const Schema& u) {
  Path in(ctx, "properties");
  std::vector<std::string> keys;
  for (const auto& [k, v] : o.properties) keys.push_back(k);
  for (const auto& [k, v] : u.properties) {
    if (!o.property(k)) keys.push_back(k);
  }
  for (const std::string& key : keys) {
    Path at(ctx, key);
    const Schema* os = o.property(key);
    const Schema* us = u.property(key);
    if (us == nullptr) {
      if (is_open(u)) {
        ctx.add("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL");
      } else if (const Schema* partial = partial_schema(u, key)) {
        ctx.add(covered(ctx, os, partial) ? "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                          : "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
      } else {
        ctx.add(os->kind == Kind::kFalse ? "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
                                         : "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL");
      }
    } else if (os == nullptr) {
      if (is_open(o)) {
        ctx.add(is_empty_like(us) ? "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                                  : "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
        continue;
      }
      if (const Schema* partial = partial_schema(o, key)) {
        ctx.add(covered(ctx, partial, us) ? "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                          : "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
      }
      if (u.is_required(key)) {
        ctx.add(us->default_value ? "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
                                  : "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL");
      } else {
        ctx.add("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL");
      }
    } else {
      compare(ctx, os, us);
    }
  }
}

void compare_required(Context& ctx, const Schema& o, const Schema& u) {
  Path in(ctx, "required");
  for (const auto& [key, os] : o.properties) {
    const Schema* us = u.property(key);
    if (us == nullptr) continue;
    bool was = o.is_required(key), is = u.is_required(key);
    if (was && !is) ctx.add(key, "REQUIRED_ATTRIBUTE_REMOVED");
    if (!was && is)
      ctx.add(key, us->default_value ? "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED" : "REQUIRED_ATTRIBUTE_ADDED");
  }
}

template <typename T>
const T* find_entry(const std::vector<std::pair<std::string, T>>& list, const std::string& key) {
  for (const auto& [k, v] : list) {
    if (k == key) return &v;
  }
  return nullptr;
}

template <typename T>
std::vector<std::string> union_keys(const std::vector<std::pair<std::string, T>>& a,
                                    const std::vector<std::pair<std::string, T>>& b) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : a) keys.push_back(k);
  for (const auto& [k, v] : b) {
    if (!find_entry(a, k)) keys.push_back(k);
  }
  return keys;
}

void compare_dependencies(Context& ctx, const Schema& o, const Schema& u) {
  Path in(ctx, "dependencies");
  for (const std::string& key : union_keys(o.property_dependencies, u.property_dependencies)) {
    Path at(ctx, key);
    const auto* od = find_entry(o.property_dependencies, key);
    const auto* ud = find_entry(u.property_dependencies, key);
    if (ud == nullptr) {
      ctx.add("DEPENDENCY_ARRAY_REMOVED");
    } else if (od == nullptr) {
      ctx.add("DEPENDENCY_ARRAY_ADDED");
    } else {
      std::set<std::string> os(od->begin(), od->end()), us(ud->begin(), ud->end());
      if (os == us) continue;
      if (std::includes(us.begin(), us.end(), os.begin(), os.end())) {
        ctx.add("DEPENDENCY_ARRAY_EXTENDED");
      } else if (std::includes(os.begin(), os.end(), us.begin(), us.end())) {
        ctx.add("DEPENDENCY_ARRAY_NARROWED");
      } else {
        ctx.add("DEPENDENCY_ARRAY_CHANGED");
      }
    }
  }
  for (const std::string& key : union_keys(o.schema_dependencies, u.schema_dependencies)) {
    Path at(ctx, key);
    const auto* os = find_entry(o.schema_dependencies, key);
    const auto* us = find_entry(u.schema_dependencies, key);
    if (us == nullptr) {
      ctx.add("DEPENDENCY_SCHEMA_REMOVED");
    } else if (os == nullptr) {
      ctx.add("DEPENDENCY_SCHEMA_ADDED");
    } else {
      compare(ctx, *os, *us);
    }
  }
}

// additionalProperties / additionalItems: allowed or not, and with which schema.
void compare_additional(Context& ctx, std::string_view keyword, std::string_view prefix, bool o_permits,
                        const Schema* o_schema, bool u_permits, const Schema* u_schema) {
  Path in(ctx, keyword);
  std::string p(prefix);
  if (o_permits != u_permits) {
    ctx.add(p + (u_permits ? "_ADDED" : "_REMOVED"));
  } else if (o_schema == nullptr && u_schema != nullptr) {
    ctx.add(p + "_NARROWED");
  } else if (u_schema == nullptr && o_schema != nullptr) {
    ctx.add(p + "_EXTENDED");
  } else {
    compare(ctx, o_schema, u_schema);
  }
}

void compare_object(Context& ctx, const Schema& o, const Schema& u) {
  compare_required(ctx, o, u);
  compare_properties(ctx, o, u);
  compare_dependencies(ctx, o, u);
  compare_additional(ctx, "additionalProperties", "ADDITIONAL_PROPERTIES", o.permits_additional_properties,
                     o.additional_properties, u.permits_additional_properties, u.additional_properties);
  compare_bound(ctx, "maxProperties", "MAX_PROPERTIES", o.max_properties, u.max_properties);
  compare_bound(ctx, "minProperties", "MIN_PROPERTIES", o.min_properties, u.min_properties);
}

void compare_item_list(Context& ctx, const Schema& o, const Schema& u) {
  auto open = [](const Schema& s) { return s.additional_items == nullptr && s.permits_additional_items; };
  size_t common = std::min(o.item_schemas.size(), u.item_schemas.size());
  for (size_t i = 0; i < std::max(o.item_schemas.size(), u.item_schemas.size()); ++i) {
    Path at(ctx, "items/" + std::to_string(i));
    if (i < common) {
      compare(ctx, o.item_schemas[i], u.item_schemas[i]);
    } else if (i < o.item_schemas.size()) {
      if (open(u)) {
        ctx.add("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL");
      } else if (u.additional_items != nullptr) {
        ctx.add(covered(ctx, o.item_schemas[i], u.additional_items)
                    ? "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                    : "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
      } else {
        ctx.add(o.item_schemas[i]->kind == Kind::kFalse ? "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
                                                        : "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL");
      }
    } else {
      const Schema* us = u.item_schemas[i];
      if (open(o)) {
        ctx.add(is_empty_like(us) ? "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                                  : "ITEM_ADDED_TO_OPEN_CONTENT_MODEL");
      } else if (o.additional_items != nullptr) {
        ctx.add(covered(ctx, o.additional_items, us)
                    ? "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                    : "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
      } else {
        ctx.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL");
      }
    }
  }
}

void compare_array(Context& ctx, const Schema& o, const Schema& u) {
  {
    Path in(ctx, "items");
    compare(ctx, o.all_items, u.all_items);
  }
  compare_item_list(ctx, o, u);
  compare_additional(ctx, "additionalItems", "ADDITIONAL_ITEMS", o.permits_additional_items,
                     o.additional_items, u.permits_additional_items, u.additional_items);
  compare_bound(ctx, "maxItems", "MAX_ITEMS", o.max_items, u.max_items);
  compare_bound(ctx, "minItems", "MIN_ITEMS", o.min_items, u.min_items);
  if (o.unique_items != u.unique_items)
    ctx.add("uniqueItems", o.unique_items ? "UNIQUE_ITEMS_REMOVED" : "UNIQUE_ITEMS_ADDED");
}

// Kuhn's augmenting paths: the size of a maximum matching in a small bipartite graph.
size_t max_matching(const std::vector<std::vector<size_t>>& edges, size_t right_size) {
  std::vector<int> match(right_size, -1);
  size_t size = 0;
  for (size_t left = 0; left < edges.size(); ++left) {
    std::vector<bool> seen(right_size, false);
    std::function<bool(size_t)> augment = [&](size_t l) {
      for (size_t r : edges[l]) {
        if (seen[r]) continue;
        seen[r] = true;
        if (match[r] < 0 || augment(static_cast<size_t>(match[r]))) {
          match[r] = static_cast<int>(l);
          return true;
        }
      }
      return false;
    };
    if (augment(left)) ++size;
  }
  return size;
}

std::vector<const Schema*> distinct(const std::vector<const Schema*>& list) {
  std::vector<const Schema*> out;
  std::set<std::string> seen;
  for (const Schema* s : list) {
    if (seen.insert(s->identity).second) out.push_back(s);
  }
  return out;
}

void compare_combined(Context& ctx, const Schema& o, const Schema& u) {
  auto singleton = [](const Schema& s) { return s.subschemas.size() == 1; };
  if (o.criterion != u.criterion) {
    bool extended = u.criterion == Criterion::kAnyOf || (singleton(o) && singleton(u)) ||
                    (singleton(o) && u.criterion == Criterion::kOneOf) ||
                    (singleton(u) && o.criterion == Criterion::kAllOf);
    ctx.add(extended ? "COMBINED_TYPE_EXTENDED" : "COMBINED_TYPE_CHANGED");
    if (!extended) return;
  }
  std::vector<const Schema*> os = distinct(o.subschemas), us = distinct(u.subschemas);
  if (os.size() < us.size())
    ctx.add(u.criterion == Criterion::kAllOf ? "PRODUCT_TYPE_EXTENDED" : "SUM_TYPE_EXTENDED");
  if (os.size() > us.size())
    ctx.add(o.criterion == Criterion::kAllOf ? "PRODUCT_TYPE_NARROWED" : "SUM_TYPE_NARROWED");
  // Each old subschema needs its own compatible new one (or the reverse, whichever side is
  // smaller).
  std::vector<std::vector<size_t>> edges(os.size());
  for (size_t i = 0; i < os.size(); ++i) {
    Path at(ctx, std::string(criterion_name(o.criterion)) + "/" + std::to_string(i));
    for (size_t j = 0; j < us.size(); ++j) {
      Context sub = ctx.sub();
      compare(sub, os[i], us[j]);
      if (sub.compatible()) edges[i].push_back(j);
    }
  }
  if (max_matching(edges, us.size()) < std::min(os.size(), us.size()))
    ctx.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED");
}

void compare_not(Context& ctx, const Schema& o, const Schema& u) {
  Path in(ctx, "not");
  Context sub = ctx.sub();
  compare(sub, u.not_schema, o.not_schema);  // reversed: a narrower "not" allows more
  ctx.add(sub.compatible() ? "NOT_TYPE_NARROWED" : "NOT_TYPE_EXTENDED");
}

// One side is combined and the other is not: a one-branch combination compares as its branch,
// an update that adds anyOf/oneOf branches around the original extends it, an original allOf
// one of whose parts is the update narrows it.
bool compare_across_combination(Context& ctx, const Schema* original, const Schema* update) {
  auto try_with = [&](const Schema* o, const Schema* u, const char* extra) {
    Context sub = ctx.sub();
    compare(sub, o, u);
    if (!sub.compatible()) return false;
    ctx.add_all(sub.diffs());
    if (extra) ctx.add(extra);
    return true;
  };
  if (original->kind != Kind::kCombined && update->kind == Kind::kCombined) {
    if (update->subschemas.size() == 1) return try_with(original, update->subschemas[0], nullptr);
    if (update->criterion != Criterion::kAllOf) {
      for (const Schema* s : update->subschemas) {
        if (try_with(original, s, "SUM_TYPE_EXTENDED")) return true;
      }
    }
  } else if (original->kind == Kind::kCombined && update->kind != Kind::kCombined) {
    if (original->subschemas.size() == 1) return try_with(original->subschemas[0], update, nullptr);
    if (original->criterion == Criterion::kAllOf) {
      for (const Schema* s : original->subschemas) {
        if (try_with(s, update, "PRODUCT_TYPE_NARROWED")) return true;
      }
    }
  }
  return false;
}

void compare(Context& ctx, const Schema* original, const Schema* update) {
  if (!ctx.descend()) return ctx.add("TYPE_CHANGED");
  struct Ascend {
    Context& ctx;
    ~Ascend() { ctx.ascend(); }
  } ascend{ctx};
  if (original == nullptr && update == nullptr) return;
  if (original == nullptr) return ctx.add("SCHEMA_ADDED");
  if (update == nullptr) return ctx.add("SCHEMA_REMOVED");
  original = follow(original);
  update = follow(update);
  if (compare_across_combination(ctx, original, update)) return;
  if (original->kind != update->kind) {
    if (original->kind == Kind::kFalse || is_empty_like(update)) return;
    // Kafka Connect writes bytes as strings with connect.type "bytes" in either form.
    if (original->connect_type == "bytes" && update->connect_type == "bytes") return;
    return ctx.add("TYPE_CHANGED");
  }
  if (!ctx.enter_schema(original)) return;
  if (original->id != update->id) ctx.add("ID_CHANGED");
  if (original->title != update->title) ctx.add("TITLE_CHANGED");
  if (original->description != update->description) ctx.add("DESCRIPTION_CHANGED");
  bool same_default =
      original->default_value.has_value() == update->default_value.has_value() &&
      (!original->default_value || original->default_value->same_value(*update->default_value));
  if (!same_default) ctx.add("DEFAULT_CHANGED");
  switch (original->kind) {
    case Kind::kString:
      compare_string(ctx, *original, *update);
      break;
    case Kind::kNumber:
      compare_number(ctx, *original, *update);
      break;
    case Kind::kConst:
      if (!original->values[0].same_value(update->values[0])) ctx.add("const", "ENUM_ARRAY_CHANGED");
      break;
    case Kind::kEnum:
      compare_enum(ctx, *original, *update);
      break;
    case Kind::kCombined:
      compare_combined(ctx, *original, *update);
      break;
    case Kind::kNot:
      compare_not(ctx, *original, *update);
      break;
    case Kind::kObject:
      compare_object(ctx, *original, *update);
      break;
    case Kind::kArray:
      compare_array(ctx, *original, *update);
      break;
    default:
      break;
  }
  ctx.leave_schema(original);
}

}  // namespace

std::vector<Difference> incompatible_differences(const Schema& original, const Schema& update) {
  Context ctx;
  compare(ctx, &original, &update);
  std::vector<Difference> out;
  for (const Difference& d : ctx.diffs()) {
    if (!kCompatible.count(d.type)) out.push_back(d);
  }
  return out;
}

}  // namespace kb::registry::detail::jsonschema
