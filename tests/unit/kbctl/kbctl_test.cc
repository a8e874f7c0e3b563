#include "tools/kbctl/kbctl.h"

#include <catch2/catch.hpp>

using namespace kb::kbctl;

TEST_CASE("murmur2 matches Kafka's Utils.murmur2, so keys land where Kafka clients put them") {
  // Kafka's UtilsTest.testMurmur2 vectors.
  CHECK(murmur2("21") == -973932308);
  CHECK(murmur2("foobar") == -790332482);
  CHECK(murmur2("a-little-bit-long-string") == -985981536);
  CHECK(murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(murmur2("abc") == 479470107);
  CHECK(murmur2_partition("21", 6) == ((-973932308 & 0x7fffffff) % 6));
}

TEST_CASE("seek times: @milliseconds and ISO-8601 with milliseconds and zones") {
  CHECK(parse_timestamp("@1714564800123") == 1714564800123);
  CHECK(parse_timestamp("2024-05-01T12:00:00Z") == 1714564800000);
  CHECK(parse_timestamp("2024-05-01T12:00:00") == 1714564800000);
  CHECK(parse_timestamp("2024-05-01T12:00:00.123Z") == 1714564800123);
  CHECK(parse_timestamp("2024-05-01T14:00:00+02:00") == 1714564800000);
  CHECK_FALSE(parse_timestamp("yesterday"));
  CHECK_FALSE(parse_timestamp("2024-05-01"));
  CHECK_FALSE(parse_timestamp("@-5"));
}

TEST_CASE("broker lists: host:port, listener URLs, and a clear refusal of anything else") {
  auto ok = parse_brokers("127.0.0.1:9092,PLAINTEXT://kb-2:19093,[::1]:9094");
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 3);
  CHECK(((*ok)[0].host == "127.0.0.1" && (*ok)[0].port == 9092));
  CHECK(((*ok)[1].host == "kb-2" && (*ok)[1].port == 19093));
  CHECK(((*ok)[2].host == "::1" && (*ok)[2].port == 9094));
  for (const char* bad : {"localhost", "host:", "host:99999", "host:12x", ""}) {
    INFO(bad);
    auto r = parse_brokers(bad);
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("exit codes: unreachable 3, not found 4, any other refusal 1") {
  CHECK(exit_code_for(kb::ErrorCode::NETWORK_EXCEPTION) == kExitUnreachable);
  CHECK(exit_code_for(kb::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) == kExitNotFound);
  CHECK(exit_code_for(kb::ErrorCode::GROUP_ID_NOT_FOUND) == kExitNotFound);
  CHECK(exit_code_for(kb::ErrorCode::TOPIC_ALREADY_EXISTS) == kExitFailed);
  CHECK(split_commas("a,,b,") == std::vector<std::string>{"a", "b"});
  CHECK(parse_int("-12") == -12);
  CHECK_FALSE(parse_int("1e3"));
}
