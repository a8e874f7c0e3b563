// Every message definition, every version: a struct filled with sample values (generated
// message_samples.h) must come back unchanged from decode(encode(m)), re-encode to the same
// bytes, and every truncation of its encoding must be refused.
#include <catch2/catch.hpp>
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <typeinfo>

#include "tests/unit/protocol/codec_test_util.h"
#include "protocol/messages/api_keys.h"
#include "protocol/messages/message_samples.h"

using namespace kb;
using namespace kb::msg;

namespace {

constexpr uint64_t kSeeds = 12;

template <class M>
std::string type_name() {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(M).name(), nullptr, nullptr, &status), std::free);
  return status == 0 ? name.get() : typeid(M).name();
}

using kb::test::encode;

// Returns a description of the first problem, or "" when every version and seed round-trips.
// Plain checks instead of REQUIRE inside the loops: there are tens of thousands of cases.
template <class M>
std::string check_message() {
  for (int16_t v = M::kMinVersion; v <= M::kMaxVersion; ++v) {
    for (uint64_t seed = 0; seed < kSeeds; ++seed) {
      std::ostringstream where;
      where << type_name<M>() << " v" << v << " seed " << seed << ": ";
      M m;
      samples::fill(m, v, seed);
      auto bytes = encode(m, v);
      M back;
      wire::Reader r(bytes);
      if (!back.decode(r, v)) return where.str() + "decode failed";
      if (r.remaining() != 0) return where.str() + "bytes left after decode";
      if (!(back == m)) return where.str() + "decoded value differs";
      if (encode(back, v) != bytes) return where.str() + "re-encoding differs";
      // Decoding twice into the same struct gives the same value (decode starts afresh).
      wire::Reader again(bytes);
      if (!back.decode(again, v) || !(back == m)) return where.str() + "second decode differs";
      size_t step = seed < 3 ? 1 : 7;
      for (size_t cut = 0; cut < bytes.size(); cut += step) {
        M partial;
        wire::Reader rp(std::span<const uint8_t>(bytes.data(), cut));
        if (partial.decode(rp, v))
          return where.str() + "a prefix of " + std::to_string(cut) + "/" +
                 std::to_string(bytes.size()) + " bytes decoded";
      }
    }
  }
  return "";
}

template <class... Ms>
std::vector<std::string> check_all(std::tuple<Ms...>*) {
  std::vector<std::string> problems;
  (
      [&] {
        auto p = check_message<Ms>();
        if (!p.empty()) problems.push_back(p);
      }(),
      ...);
  return problems;
}

template <class... Ms>
std::vector<std::pair<int16_t, std::array<int16_t, 3>>> request_ranges(std::tuple<Ms...>*) {
  return {{Ms::kApiKey, {Ms::kMinVersion, Ms::kMaxVersion, Ms::kFirstFlexibleVersion}}...};
}

}  // namespace

TEST_CASE("every message decodes to the value that was encoded, in every version") {
  auto problems = check_all(static_cast<samples::AllMessages*>(nullptr));
  for (const auto& p : problems) UNSCOPED_INFO(p);
  REQUIRE(problems.empty());
}

TEST_CASE("samples exercise nulls, long strings, arrays and unknown tags") {
  // Guards the test above against filling too little: across the seeds a flexible version
  // carries null strings, 200-byte strings, two-element arrays and unknown tags.
  bool null_seen = false, long_seen = false, two_seen = false, unknown_seen = false;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    MetadataResponse m;
    samples::fill(m, 12, seed);
    unknown_seen |= !m.unknown_tags.empty();
    two_seen |= m.topics.size() == 2;
    for (const auto& t : m.topics) {
      null_seen |= !t.name.has_value();
      long_seen |= t.name && t.name->size() == 200;
    }
  }
  REQUIRE(null_seen);
  REQUIRE(long_seen);
  REQUIRE(two_seen);
  REQUIRE(unknown_seen);
}

TEST_CASE("the API table lists every request definition with its version ranges") {
  auto ranges = request_ranges(static_cast<samples::AllRequests*>(nullptr));
  REQUIRE(ranges.size() == api_key_infos().size());
  std::set<int16_t> keys;
  for (const auto& [key, r] : ranges) {
    const ApiKeyInfo* info = find_api_key(key);
    REQUIRE(info != nullptr);
    CHECK(info->min_version == r[0]);
    CHECK(info->max_version == r[1]);
    CHECK(info->first_flexible_version == r[2]);
    keys.insert(key);
  }
  REQUIRE(keys.size() == ranges.size());
  REQUIRE(find_api_key(-5) == nullptr);
  REQUIRE(find_api_key(0)->name == "Produce");
}

TEST_CASE("header versions follow the flexible versions of each API") {
  REQUIRE(request_header_version(0, 8) == 1);   // Produce v8: classic
  REQUIRE(request_header_version(0, 9) == 2);   // Produce v9: flexible
  REQUIRE(response_header_version(0, 8) == 0);
  REQUIRE(response_header_version(0, 9) == 1);
  REQUIRE(request_header_version(1, 12) == 2);  // Fetch v12
  REQUIRE(response_header_version(1, 11) == 0);
  REQUIRE(request_header_version(7, 0) == 0);   // ControlledShutdown v0 has no client id
  // ApiVersions answers always use header v0 so any client can read them (KIP-511).
  REQUIRE(request_header_version(18, 3) == 2);
  REQUIRE(response_header_version(18, 3) == 0);
  REQUIRE(response_header_version(18, 4) == 0);
  REQUIRE(request_header_version(47, 0) == 1);  // OffsetDelete is never flexible
}
