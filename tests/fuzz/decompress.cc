// Each decompressor (gzip, snappy raw and xerial, lz4 frame, zstd). Input: one byte picking
// the codec (1-4), then the compressed bytes. Properties: decompression stays within its bound
// and never crashes; compressing any bytes and decompressing them gives them back.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "protocol/compression.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kb;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  int codec = 1 + data[0] % 4;
  std::span<const uint8_t> in(data + 1, size - 1);
  constexpr size_t kBound = 1 << 20;
  auto out = decompress(codec, in, kBound);
  if (out.ok()) fuzz::require(out.value().size() <= kBound);

  auto packed = compress(codec, in);
  fuzz::require(packed.ok());
  auto back = decompress(codec, packed.value(), in.size() + 1);
  fuzz::require(back.ok() && std::equal(back.value().begin(), back.value().end(), in.begin(), in.end()));
  return 0;
}
