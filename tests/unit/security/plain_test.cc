#include <catch2/catch.hpp>

#include "security/plain.h"

using namespace kb;
using namespace kb::security;

TEST_CASE("PLAIN tokens: user and password, an authzid only when it is the user") {
  auto ok = parse_plain(plain_token("alice", "pw"));
  REQUIRE(ok.ok());
  CHECK(ok->user == "alice");
  CHECK(ok->password == "pw");
  CHECK(parse_plain(std::string("alice\0alice\0pw", 14)).ok());

  CHECK(parse_plain(std::string("bob\0alice\0pw", 12)).error().message ==
        "Authentication failed: Client requested an authorization id that is different from username");
  CHECK(parse_plain(std::string("\0\0pw", 4)).error().message == "Authentication failed: username not specified");
  CHECK(parse_plain(std::string("\0alice\0", 7)).error().message == "Authentication failed: password not specified");
  CHECK(parse_plain("alice").error().message == "Invalid SASL/PLAIN response: expected 3 tokens, got 1");
  CHECK(parse_plain(std::string("\0a\0b\0c", 6)).code() == ErrorCode::SASL_AUTHENTICATION_FAILED);
}

TEST_CASE("same_secret compares whole secrets") {
  CHECK(same_secret("abc", "abc"));
  CHECK_FALSE(same_secret("abc", "abd"));
  CHECK_FALSE(same_secret("abc", "abcd"));
  CHECK(same_secret("", ""));
}
