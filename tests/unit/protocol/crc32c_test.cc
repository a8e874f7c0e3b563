#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "protocol/crc32c.h"

using namespace kb;

namespace {
std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE("CRC-32C gives the published check values (RFC 3720 and the catalogue's 123456789)") {
  auto check = bytes_of("123456789");
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  struct Vector {
    const std::vector<uint8_t>* data;
    uint32_t crc;
  };
  for (auto [data, crc] : {Vector{&check, 0xE3069283u}, Vector{&zeros, 0x8A9136AAu}, Vector{&ones, 0x62A8AB43u},
                           Vector{&up, 0x46DD794Eu}, Vector{&down, 0x113FDB5Cu}}) {
    CHECK(crc32c(data->data(), data->size()) == crc);
    CHECK(crc32c_portable(data->data(), data->size()) == crc);
  }
  CHECK(crc32c(nullptr, 0) == 0);
}

TEST_CASE("hardware and portable CRC-32C agree on random data of every length and alignment") {
  INFO("hardware CRC available: " << crc32c_hardware_available());
  std::mt19937 rng(12345);
  std::vector<uint8_t> data(64 * 1024 + 17);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  // Lengths around every lane boundary (3 x 256, 3 x 4096) plus random ones.
  std::vector<size_t> lengths;
  for (size_t n = 0; n < 1100; ++n) lengths.push_back(n);
  for (size_t edge : {3 * 256, 3 * 4096, 6 * 4096, 3 * 4096 + 3 * 256})
    for (size_t d = 0; d < 20; ++d) lengths.push_back(edge - 10 + d);
  for (int i = 0; i < 200; ++i) lengths.push_back(rng() % (data.size() - 8));
  lengths.push_back(data.size() - 8);
  for (size_t n : lengths) {
    for (size_t misalign : {0, 1, 3, 7}) {
      const uint8_t* p = data.data() + misalign;
      uint32_t seed = static_cast<uint32_t>(n * 2654435761u);
      REQUIRE(crc32c(p, n) == crc32c_portable(p, n));
      REQUIRE(crc32c(p, n, seed) == crc32c_portable(p, n, seed));
    }
  }
}

TEST_CASE("CRC-32C continues a previous result: crc(a||b) == crc(b, crc(a))") {
  std::mt19937 rng(7);
  std::vector<uint8_t> data(40000);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  uint32_t whole = crc32c(data.data(), data.size());
  for (size_t split : {0ul, 1ul, 100ul, 12287ul, 12288ul, 20000ul, 39999ul, 40000ul}) {
    uint32_t first = crc32c(data.data(), split);
    REQUIRE(crc32c(data.data() + split, data.size() - split, first) == whole);
    REQUIRE(crc32c_portable(data.data() + split, data.size() - split, crc32c_portable(data.data(), split)) == whole);
  }
  // A single flipped bit anywhere changes the checksum.
  for (size_t pos : {0ul, 5000ul, 39999ul}) {
    auto copy = data;
    copy[pos] ^= 0x01;
    REQUIRE(crc32c(copy.data(), copy.size()) != whole);
  }
}
