#include "protocol/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace kb {

namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // reflected Castagnoli polynomial

// Slicing-by-8 tables: t[0] is the classic byte table, t[s] advances a byte by s more bytes.
struct ByteTables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr ByteTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};
constexpr ByteTables kBytes;

// GF(2) arithmetic modulo the polynomial in the reflected bit order (bit 31 = x^0), as zlib's
// crc32_combine does: a*b mod P.
constexpr uint32_t mult_mod_p(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

// x^(8 * n) mod P: multiplying a CRC register by it appends n zero bytes.
constexpr uint32_t zeros_operator(size_t n) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t square = 1u << 23;  // x^8, one zero byte
  while (n) {
    if (n & 1) result = mult_mod_p(square, result);
    square = mult_mod_p(square, square);
    n >>= 1;
  }
  return result;
}

// The crc32 instruction has a 3-cycle latency and 1-cycle throughput, so three independent
// chains over three adjacent lanes run about three times faster than one. The lane registers
// are then joined: reg(A || B) = shift_|B|(reg(A)) ^ reg0(B), where reg0(B) started from zero.
// shift is linear, so it is four table lookups (one per byte of the register).
template <size_t kLane>
struct LaneShift {
  std::array<std::array<uint32_t, 256>, 4> t{};
  constexpr LaneShift() {
    constexpr uint32_t op = zeros_operator(kLane);
    for (int k = 0; k < 4; ++k)
      for (uint32_t b = 0; b < 256; ++b) t[k][b] = mult_mod_p(op, b << (8 * k));
  }
  uint32_t shift(uint32_t r) const {
    return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
  }
};
constexpr size_t kLongLane = 4096;  // for blocks of 12 KiB and more (large batches, recovery)
constexpr size_t kShortLane = 256;  // for the rest down to 768 bytes (typical small batches)
constexpr LaneShift<kLongLane> kLongShift;
constexpr LaneShift<kShortLane> kShortShift;

#if defined(__x86_64__)
template <size_t kLane, class Shift>
__attribute__((target("sse4.2"))) inline uint64_t three_lanes(const uint8_t*& p, size_t& n, uint64_t c,
                                                               const Shift& shift) {
  while (n >= 3 * kLane) {
    uint64_t c1 = 0, c2 = 0;
    const uint8_t* p1 = p + kLane;
    const uint8_t* p2 = p + 2 * kLane;
    for (size_t i = 0; i < kLane; i += 8) {
      uint64_t a, b, d;
      std::memcpy(&a, p + i, 8);
      std::memcpy(&b, p1 + i, 8);
      std::memcpy(&d, p2 + i, 8);
      c = _mm_crc32_u64(c, a);
      c1 = _mm_crc32_u64(c1, b);
      c2 = _mm_crc32_u64(c2, d);
    }
    uint32_t ab = shift.shift(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1);
    c = shift.shift(ab) ^ static_cast<uint32_t>(c2);
    p += 3 * kLane;
    n -= 3 * kLane;
  }
  return c;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = static_cast<uint32_t>(~crc);
  c = three_lanes<kLongLane>(p, n, c, kLongShift);
  c = three_lanes<kShortLane>(p, n, c, kShortShift);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
#endif

bool detect_hardware() {
#if defined(__x86_64__)
  // The CPU model is normally filled by a libgcc constructor; calling init makes the answer
  // right even if the first CRC runs inside another static initializer.
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

bool hardware() {
  static const bool available = detect_hardware();
  return available;
}

}  // namespace

uint32_t crc32c_portable(const uint8_t* p, size_t n, uint32_t crc) {
  uint32_t c = ~crc;
  const auto& t = kBytes.t;
  while (n >= 8) {
    uint32_t lo = c ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
        t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
  return ~c;
}

bool crc32c_hardware_available() { return hardware(); }

uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc) {
#if defined(__x86_64__)
  if (hardware()) return crc32c_sse42(data, n, crc);
#endif
  return crc32c_portable(data, n, crc);
}

}  // namespace kb
