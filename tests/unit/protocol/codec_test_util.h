// Helpers shared by the protocol tests: encoding a generated message to bytes, and the
// every-version round trip.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "protocol/wire.h"

namespace kb::test {

template <class M>
std::vector<uint8_t> encode(const M& m, int16_t v) {
  wire::Writer w;
  m.encode(w, v);
  return w.buffer();
}

// Encodes, decodes and re-encodes in every version: the bytes must not change, and the decoded
// struct must equal a second decode (fields a version lacks are dropped on the wire). Proper
// prefixes of the bytes are malformed and must be refused without crashing.
template <class M>
void round_trip_all_versions(const M& m) {
  for (int16_t v = M::kMinVersion; v <= M::kMaxVersion; ++v) {
    INFO("version " << v);
    auto bytes = encode(m, v);
    M back;
    wire::Reader r(bytes);
    REQUIRE(back.decode(r, v));
    REQUIRE(r.remaining() == 0);
    REQUIRE(encode(back, v) == bytes);
    M again;
    wire::Reader r2(bytes);
    REQUIRE(again.decode(r2, v));
    REQUIRE(again == back);
    for (size_t cut = 0; cut < bytes.size(); cut += std::max<size_t>(1, bytes.size() / 16)) {
      M partial;
      wire::Reader rp(std::span<const uint8_t>(bytes.data(), cut));
      REQUIRE_FALSE(partial.decode(rp, v));
    }
  }
}

}  // namespace kb::test
