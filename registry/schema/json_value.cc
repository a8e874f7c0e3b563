#include "registry/schema/json_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace kb::registry::detail {

Json Json::boolean(bool b) {
  Json j;
  j.kind_ = Kind::kBool;
  j.bool_ = b;
  return j;
}

Json Json::integer(std::string text) {
  Json j;
  j.kind_ = Kind::kInt;
  j.text_ = std::move(text);
  return j;
}

Json Json::floating(std::string text) {
  Json j;
  j.kind_ = Kind::kFloat;
  j.text_ = std::move(text);
  return j;
}

Json Json::string(std::string s) {
  Json j;
  j.kind_ = Kind::kString;
  j.text_ = std::move(s);
  return j;
}

Json Json::array(std::vector<Json> items) {
  Json j;
  j.kind_ = Kind::kArray;
  j.items_ = std::move(items);
  return j;
}

Json Json::object(std::vector<Member> members) {
  Json j;
  j.kind_ = Kind::kObject;
  for (auto& [k, v] : members) j.set(std::move(k), std::move(v));
  return j;
}

double Json::as_double() const { return std::strtod(text_.c_str(), nullptr); }

std::optional<int64_t> Json::as_int64() const {
  if (kind_ != Kind::kInt) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), v);
  if (ec != std::errc() || p != text_.data() + text_.size()) return std::nullopt;
  return v;
}

const Json* Json::find(std::string_view key) const {
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Json::set(std::string key, Json value) {
  for (auto& [k, v] : members_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  members_.emplace_back(std::move(key), std::move(value));
}

bool Json::same_value(const Json& other) const {
  if (is_number() && other.is_number()) {
    if (kind_ == Kind::kInt && other.kind_ == Kind::kInt) {
      auto a = as_int64(), b = other.as_int64();
      if (a && b) return *a == *b;
    }
    return as_double() == other.as_double();
  }
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return bool_ == other.bool_;
    case Kind::kString:
      return text_ == other.text_;
    case Kind::kArray:
      if (items_.size() != other.items_.size()) return false;
      for (size_t i = 0; i < items_.size(); ++i) {
        if (!items_[i].same_value(other.items_[i])) return false;
      }
      return true;
    case Kind::kObject:
      if (members_.size() != other.members_.size()) return false;
      for (const auto& [k, v] : members_) {
        const Json* o = other.find(k);
        if (o == nullptr || !v.same_value(*o)) return false;
      }
      return true;
    default:
      return false;
  }
}

namespace {

constexpr size_t kMaxDepth = 200;

// Builds a Json tree from nlohmann's SAX events, which give a floating point number's text as
// written (its DOM would keep only the double).
class TreeBuilder : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return add(Json::null()); }
  bool boolean(bool val) override { return add(Json::boolean(val)); }
  bool number_integer(number_integer_t val) override { return add(Json::integer(std::to_string(val))); }
  bool number_unsigned(number_unsigned_t val) override { return add(Json::integer(std::to_string(val))); }
  bool number_float(number_float_t, const string_t& s) override {
    // An integer too large for 64 bits arrives here; Jackson keeps it a (big) integer.
    bool integral = s.find_first_of(".eE") == std::string::npos;
    return add(integral ? Json::integer(s) : Json::floating(s));
  }
  bool string(string_t& val) override { return add(Json::string(std::move(val))); }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool key(string_t& val) override {
    keys_.back() = std::move(val);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    error_ = ex.what();
    // nlohmann prefixes its own exception name; the position and reason are what matter.
    if (auto p = error_.find("] "); error_.rfind("[json.exception", 0) == 0 && p != std::string::npos) {
      error_ = error_.substr(p + 2);
    }
    return false;
  }

  std::optional<Json> root;
  std::string error_;

 private:
  bool add(Json v) {
    if (stack_.empty()) {
      root = std::move(v);
    } else if (stack_.back().is_array()) {
      stack_.back().push_back(std::move(v));
    } else {
      // An index per open object keeps a document with many keys linear to read.
      auto& members = stack_.back().mutable_members();
      auto [it, fresh] = indexes_.back().try_emplace(keys_.back(), members.size());
      if (fresh) {
        members.emplace_back(std::move(keys_.back()), std::move(v));
      } else {
        members[it->second].second = std::move(v);
      }
    }
    return true;
  }
  bool open(Json container) {
    if (stack_.size() >= kMaxDepth) {
      error_ = "JSON nested more than " + std::to_string(kMaxDepth) + " levels deep";
      return false;
    }
    stack_.push_back(std::move(container));
    keys_.emplace_back();
    indexes_.emplace_back();
    return true;
  }
  bool close() {
    Json done = std::move(stack_.back());
    stack_.pop_back();
    keys_.pop_back();
    indexes_.pop_back();
    return add(std::move(done));
  }

  std::vector<Json> stack_;
  std::vector<std::string> keys_;
  std::vector<std::unordered_map<std::string, size_t>> indexes_;
};

}  // namespace

std::variant<Json, JsonParseError> parse_json(std::string_view text) {
  TreeBuilder builder;
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &builder);
  if (!ok || !builder.root) {
    return JsonParseError{builder.error_.empty() ? "malformed JSON" : builder.error_};
  }
  return std::move(*builder.root);
}

void append_pointer_token(std::string& pointer, std::string_view token) {
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

std::string java_double_string(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view s(buf, r.ptr - buf);
  std::string out;
  if (s.front() == '-') {
    out += '-';
    s.remove_prefix(1);
  }
  size_t e = s.find('e');
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  std::string digits;
  for (char c : s.substr(0, e)) {
    if (c != '.') digits += c;
  }
  double a = std::fabs(d);
  if (a >= 1e-3 && a < 1e7) {
    int point = exp + 1;  // digits before the decimal point
    if (point <= 0) {
      out += "0." + std::string(-point, '0') + digits;
    } else if (point >= static_cast<int>(digits.size())) {
      out += digits + std::string(point - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, point) + "." + digits.substr(point);
    }
  } else {
    out +=
        digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0") + "E" + std::to_string(exp);
  }
  return out;
}

std::string big_decimal_string(std::string_view text) {
  std::string out;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    if (text.front() == '-') out += '-';
    text.remove_prefix(1);
  }
  size_t e = text.find_first_of("eE");
  long exponent =
      e == std::string_view::npos ? 0 : std::strtol(std::string(text.substr(e + 1)).c_str(), nullptr, 10);
  std::string_view mantissa = text.substr(0, e);
  std::string digits;
  long scale = 0;
  bool after_point = false;
  for (char c : mantissa) {
    if (c == '.') {
      after_point = true;
    } else {
      digits += c;
      if (after_point) ++scale;
    }
  }
  scale -= exponent;
  size_t nz = digits.find_first_not_of('0');
  digits = nz == std::string::npos ? "0" : digits.substr(nz);
  long n = static_cast<long>(digits.size());
  long adjusted = -scale + (n - 1);
  if (scale == 0) return out + digits;
  if (scale > 0 && adjusted >= -6) {
    if (n > scale) return out + digits.substr(0, n - scale) + "." + digits.substr(n - scale);
    return out + "0." + std::string(scale - n, '0') + digits;
  }
  out += digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  out += "E";
  if (adjusted >= 0) out += "+";
  return out + std::to_string(adjusted);
}

void write_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

namespace {

std::string integer_string(const std::string& text) {
  // Jackson reads "-0" as the integer 0.
  if (text.find_first_not_of("-0") == std::string::npos) return "0";
  return text;
}

}  // namespace

void write_json(std::string& out, const Json& value, const JsonWriteOptions& options) {
  switch (value.kind()) {
    case Json::Kind::kNull:
      out += "null";
      break;
    case Json::Kind::kBool:
      out += value.as_bool() ? "true" : "false";
      break;
    case Json::Kind::kInt:
      out += integer_string(value.text());
      break;
    case Json::Kind::kFloat:
      out += options.numbers == NumberStyle::kJavaDouble ? java_double_string(value.as_double())
                                                         : big_decimal_string(value.text());
      break;
    case Json::Kind::kString:
      write_json_string(out, value.text());
      break;
    case Json::Kind::kArray: {
      out += '[';
      bool first = true;
      for (const auto& item : value.items()) {
        if (!first) out += ',';
        first = false;
        write_json(out, item, options);
      }
      out += ']';
      break;
    }
    case Json::Kind::kObject: {
      std::vector<const Json::Member*> members;
      for (const auto& m : value.members()) members.push_back(&m);
      if (options.sort_keys) {
        std::sort(members.begin(), members.end(), [](auto* a, auto* b) { return a->first < b->first; });
      }
      out += '{';
      bool first = true;
      for (const auto* m : members) {
        if (!first) out += ',';
        first = false;
        write_json_string(out, m->first);
        out += ':';
        write_json(out, m->second, options);
      }
      out += '}';
      break;
    }
  }
}

std::string to_json(const Json& value, const JsonWriteOptions& options) {
  std::string out;
  write_json(out, value, options);
  return out;
}

}  // namespace kb::registry::detail
