#include <catch2/catch.hpp>

#include <set>

#include "protocol/types.h"

using namespace kb;

TEST_CASE("error names are Kafka's names for every code") {
  REQUIRE(error_name(ErrorCode::NONE) == "NONE");
  REQUIRE(error_name(ErrorCode::UNKNOWN_SERVER_ERROR) == "UNKNOWN_SERVER_ERROR");
  REQUIRE(error_name(ErrorCode::NOT_COORDINATOR) == "NOT_COORDINATOR");
  REQUIRE(error_name(ErrorCode::REBALANCE_IN_PROGRESS) == "REBALANCE_IN_PROGRESS");
  REQUIRE(error_name(ErrorCode::TRANSACTION_ABORTABLE) == "TRANSACTION_ABORTABLE");
  // Every code from -1 to the last one has its own name.
  std::set<std::string_view> names;
  for (int c = -1; c <= 120; ++c) {
    auto n = error_name(static_cast<ErrorCode>(c));
    INFO("code " << c);
    REQUIRE(n != "UNKNOWN_ERROR_CODE");
    names.insert(n);
  }
  REQUIRE(names.size() == 122);
  REQUIRE(error_name(static_cast<ErrorCode>(999)) == "UNKNOWN_ERROR_CODE");
}

TEST_CASE("topic ids print as Kafka does: url-safe base64 without padding") {
  Uuid u;
  for (int i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(i * 17);
  REQUIRE(u.to_string() == "ABEiM0RVZneImaq7zN3u_w");
  Uuid ones;
  for (auto& b : ones.bytes) b = 0xff;
  REQUIRE(ones.to_string() == "_____________________w");
  REQUIRE(Uuid{}.to_string() == "AAAAAAAAAAAAAAAAAAAAAA");
}

TEST_CASE("random topic ids are distinct, never zero, and never start with a dash") {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    Uuid u = Uuid::random();
    REQUIRE_FALSE(u.is_zero());
    auto s = u.to_string();
    REQUIRE(s.size() == 22);
    REQUIRE(s[0] != '-');
    REQUIRE((u.bytes[6] >> 4) == 4);  // version 4
    seen.insert(s);
  }
  REQUIRE(seen.size() == 2000);
}
