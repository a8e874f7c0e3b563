// Inside registry/schema: the JSON tree both Avro and JSON Schema documents are read into.
//
// Confluent's registry reads schemas with Jackson and writes its canonical text back with
// Jackson, so two details of a number's text matter for equality: Avro's parser keeps floating
// point numbers as doubles (written back as Java's Double.toString writes them: 1000.0, 1.0E7),
// while the JSON Schema provider keeps them as exact decimals (1.50 stays 1.50, 1e3 becomes
// 1E+3). The tree therefore keeps each number's text as written, and the writer formats it in
// the style the caller asks for. Object members keep their order; a repeated key keeps its
// first position and its last value, as Jackson does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kb::registry::detail {

class Json {
 public:
  enum class Kind : uint8_t { kNull, kBool, kInt, kFloat, kString, kArray, kObject };
  using Member = std::pair<std::string, Json>;

  Json() = default;
  static Json null() { return Json(); }
  static Json boolean(bool b);
  // `text` is the number as written (digits, sign, fraction, exponent).
  static Json integer(std::string text);
  static Json floating(std::string text);
  static Json string(std::string s);
  static Json array(std::vector<Json> items = {});
  static Json object(std::vector<Member> members = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool as_bool() const { return bool_; }
  // The string's value, or a number's text.
  const std::string& text() const { return text_; }
  // A number's value as a double (integers too).
  double as_double() const;
  // An integer's value if it fits in int64 (Jackson's canConvertToLong).
  std::optional<int64_t> as_int64() const;
  const std::vector<Json>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }

  // The member named `key`, or nullptr.
  const Json* find(std::string_view key) const;
  // Adds or replaces (in place) the member `key`.
  void set(std::string key, Json value);
  void push_back(Json value) { items_.push_back(std::move(value)); }
  std::vector<Member>& mutable_members() { return members_; }

  // Same value: numbers compare by value (1 == 1.0), objects ignore member order.
  bool same_value(const Json& other) const;

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;
  std::vector<Json> items_;
  std::vector<Member> members_;
};

struct JsonParseError {
  std::string message;
};

// Parses one JSON document (RFC 8259; nesting deeper than 200 levels is refused so that no
// later recursion over the tree can exhaust the stack).
std::variant<Json, JsonParseError> parse_json(std::string_view text);

// How numbers are written back.
enum class NumberStyle {
  kJavaDouble,  // Avro (Jackson DoubleNode): 1.5, 1000.0, 1.0E7, 1.0E-4
  kBigDecimal,  // JSON Schema provider (exact BigDecimal): 1.50, 1E+3
};

struct JsonWriteOptions {
  NumberStyle numbers = NumberStyle::kJavaDouble;
  bool sort_keys = false;  // object members by key (Jackson's sorted node factory)
};

// Compact JSON, escaped as Jackson escapes (control characters as \uXXXX with upper-case hex
// except \b \t \n \f \r; everything else, including non-ASCII, as is).
void write_json(std::string& out, const Json& value, const JsonWriteOptions& options = {});
std::string to_json(const Json& value, const JsonWriteOptions& options = {});
// A string as a JSON string literal.
void write_json_string(std::string& out, std::string_view s);

// Appends `token` to a JSON pointer, escaped (RFC 6901: '~' as ~0, '/' as ~1).
void append_pointer_token(std::string& pointer, std::string_view token);

// Java's Double.toString(d), which Jackson uses for doubles.
std::string java_double_string(double d);
// Java's BigDecimal(text).toString() for a JSON number text.
std::string big_decimal_string(std::string_view number_text);

}  // namespace kb::registry::detail
