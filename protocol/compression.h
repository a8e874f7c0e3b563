// Kafka's record compression codecs, for the records section of a v2 batch: gzip (zlib's
// gzip format), snappy (raw, and the xerial framing the Java client and kafka-python write),
// lz4 (the LZ4 frame format) and zstd.
//
// Decompression is bounded: a damaged input, or one that would expand past `max_out` bytes
// (a decompression bomb, or a lying length), is CORRUPT_MESSAGE, never a large allocation.
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "protocol/types.h"

namespace kb {

// The most bytes the broker decompresses one batch's records into while validating it.
// Producers batch at most batch.size / message.max.bytes (about a megabyte) before
// compressing; this leaves room for very compressible data and stops bombs.
constexpr size_t kMaxDecompressedBatchBytes = 64u << 20;

// codec: 1 gzip, 2 snappy, 3 lz4, 4 zstd (a batch's attributes & 0x07).
Result<std::vector<uint8_t>> decompress(int codec, std::span<const uint8_t> in, size_t max_out);
Result<std::vector<uint8_t>> compress(int codec, std::span<const uint8_t> in);

const char* codec_name(int codec);  // "gzip", ... ("none" for 0)

// xxHash32, which the LZ4 frame format uses for its header and content checksums.
uint32_t xxh32(std::span<const uint8_t> data, uint32_t seed);

}  // namespace kb
