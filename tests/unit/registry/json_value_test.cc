// The JSON layer under both schema types: numbers written back as Confluent's Jackson writes
// them, escapes, key order.
#include "registry/schema/json_value.h"

#include <catch2/catch.hpp>

using namespace kb::registry::detail;

namespace {

Json parse(std::string_view text) {
  auto r = parse_json(text);
  REQUIRE(std::holds_alternative<Json>(r));
  return std::get<Json>(r);
}

}  // namespace

TEST_CASE("doubles are written as Java's Double.toString writes them") {
  CHECK(java_double_string(1.5) == "1.5");
  CHECK(java_double_string(1000) == "1000.0");
  CHECK(java_double_string(1e7) == "1.0E7");
  CHECK(java_double_string(12345678.9) == "1.23456789E7");
  CHECK(java_double_string(0.001) == "0.001");
  CHECK(java_double_string(0.0001) == "1.0E-4");
  CHECK(java_double_string(-2.5e-5) == "-2.5E-5");
  CHECK(java_double_string(0.0) == "0.0");
  CHECK(java_double_string(123.456) == "123.456");
}

TEST_CASE("exact decimals are written as Java's BigDecimal.toString writes them") {
  CHECK(big_decimal_string("1.50") == "1.50");
  CHECK(big_decimal_string("1e3") == "1E+3");
  CHECK(big_decimal_string("1.5E3") == "1.5E+3");
  CHECK(big_decimal_string("15e-1") == "1.5");
  CHECK(big_decimal_string("-0.00001") == "-0.00001");
  CHECK(big_decimal_string("1e-7") == "1E-7");
  CHECK(big_decimal_string("0.0") == "0.0");
}

TEST_CASE("compact JSON keeps key order, last value of a repeated key, and Jackson's escapes") {
  Json j = parse(R"( { "b" : 1, "a" : [true, null, "x\u0001\n\"y"], "b": 2 } )");
  CHECK(to_json(j) == R"({"b":2,"a":[true,null,"x\u0001\n\"y"]})");
  CHECK(to_json(j, {.sort_keys = true}) == R"({"a":[true,null,"x\u0001\n\"y"],"b":2})");
  CHECK(to_json(parse("[1.0, 1e3, 12345678901234567890123]")) == "[1.0,1000.0,12345678901234567890123]");
  CHECK(to_json(parse("[1.0, 1e3]"), {.numbers = NumberStyle::kBigDecimal}) == "[1.0,1E+3]");
  CHECK(to_json(parse(R"("é/ü")")) == R"("é/ü")");
}

TEST_CASE("malformed JSON and very deep nesting are refused with a reason") {
  auto bad = parse_json("{\"a\": }");
  REQUIRE(std::holds_alternative<JsonParseError>(bad));
  CHECK(std::get<JsonParseError>(bad).message.find("syntax error") != std::string::npos);
  std::string deep(500, '[');
  auto too_deep = parse_json(deep);
  REQUIRE(std::holds_alternative<JsonParseError>(too_deep));
  CHECK(std::get<JsonParseError>(too_deep).message.find("nested") != std::string::npos);
}

TEST_CASE("values compare by meaning: numbers by value, objects regardless of key order") {
  CHECK(parse(R"({"a":1,"b":[1.0]})").same_value(parse(R"({"b":[1],"a":1.0})")));
  CHECK_FALSE(parse(R"({"a":1})").same_value(parse(R"({"a":"1"})")));
}
