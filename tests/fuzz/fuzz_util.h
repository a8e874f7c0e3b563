// Shared by the record harnesses: most random bytes die at a checksum, so a harness may set
// the checksums right first (when the input's first byte asks for it) and reach the parsing
// behind them.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace kb::fuzz {

// Sets the CRC-32C of every whole v2 batch in `bytes`, walking them by batchLength.
inline void fix_batch_crcs(std::vector<uint8_t>& bytes) {
  size_t at = 0;
  while (bytes.size() - at >= batch::kHeaderSize) {
    auto length = static_cast<int32_t>(wire::load_be32(bytes.data() + at + 8));
    if (length < batch::kMinBatchLength || size_t(length) + batch::kLogOverhead > bytes.size() - at) return;
    std::span<const uint8_t> one(bytes.data() + at, size_t(length) + batch::kLogOverhead);
    wire::store_be32(bytes.data() + at + 17, compute_batch_crc(one));
    at += one.size();
  }
}

// Sets the CRC-32 of every top-level legacy message (offset, size, crc, magic...): the crc
// covers the bytes from magic to the message's end.
inline void fix_legacy_crcs(std::vector<uint8_t>& bytes) {
  size_t at = 0;
  while (bytes.size() - at >= 12 + 4) {
    auto size = static_cast<int32_t>(wire::load_be32(bytes.data() + at + 8));
    if (size < 4 || size_t(size) > bytes.size() - at - 12) return;
    const uint8_t* from = bytes.data() + at + 16;
    auto crc = crc32(0L, from, static_cast<uInt>(size - 4));
    wire::store_be32(bytes.data() + at + 12, static_cast<uint32_t>(crc));
    at += 12 + size_t(size);
  }
}

// A property the code promises was broken: libFuzzer reports the abort with its input.
inline void require(bool holds) {
  if (!holds) std::abort();
}

}  // namespace kb::fuzz
