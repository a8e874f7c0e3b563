#include "protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace kb {

namespace {

Error corrupt(int codec, const std::string& why) {
  return Error{ErrorCode::CORRUPT_MESSAGE, std::string(codec_name(codec)) + " records: " + why};
}

Error too_large(int codec, size_t max_out) {
  return corrupt(codec, "decompress to more than " + std::to_string(max_out) + " bytes");
}

// Grows `out` by a chunk, never past max_out; false when it is already there.
bool grow(std::vector<uint8_t>& out, size_t used, size_t max_out) {
  if (used >= max_out) return false;
  size_t want = std::min(max_out, std::max<size_t>(used * 2, 64 * 1024));
  out.resize(want);
  return true;
}

Result<std::vector<uint8_t>> gunzip(std::span<const uint8_t> in, size_t max_out) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return corrupt(1, "cannot start zlib");
  std::unique_ptr<z_stream, void (*)(z_stream*)> guard(&z, [](z_stream* s) { inflateEnd(s); });
  std::vector<uint8_t> out;
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  size_t used = 0;
  for (;;) {
    if (used == out.size() && !grow(out, used, max_out)) {
      // Full: only a stream that has ended exactly here is acceptable.
      uint8_t probe;
      z.next_out = &probe;
      z.avail_out = 1;
      int rc = inflate(&z, Z_NO_FLUSH);
      if (rc == Z_STREAM_END && z.avail_out == 1) break;
      return too_large(1, max_out);
    }
    z.next_out = out.data() + used;
    z.avail_out = static_cast<uInt>(out.size() - used);
    int rc = inflate(&z, Z_NO_FLUSH);
    used = out.size() - z.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return corrupt(1, z.msg ? z.msg : "invalid data");
    if (rc == Z_BUF_ERROR && z.avail_in == 0) return corrupt(1, "truncated stream");
  }
  out.resize(used);
  return out;
}

// The xerial framing: a 16-byte header (magic, version, compatible version), then blocks of
// [int32 compressed length][raw snappy block].
constexpr uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

Status unsnappy_raw(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t max_out) {
  size_t n = 0;
  auto src = reinterpret_cast<const char*>(in.data());
  if (!snappy::GetUncompressedLength(src, in.size(), &n)) return corrupt(2, "invalid block header");
  if (n > max_out - std::min(max_out, out.size())) return too_large(2, max_out);
  size_t at = out.size();
  out.resize(at + n);
  if (!snappy::RawUncompress(src, in.size(), reinterpret_cast<char*>(out.data() + at)))
    return corrupt(2, "invalid block");
  return {};
}

Result<std::vector<uint8_t>> unsnappy(std::span<const uint8_t> in, size_t max_out) {
  std::vector<uint8_t> out;
  if (in.size() >= 16 && std::memcmp(in.data(), kXerialMagic, 8) == 0) {
    size_t pos = 16;
    while (pos < in.size()) {
      if (in.size() - pos < 4) return corrupt(2, "truncated xerial block length");
      uint32_t len = (uint32_t(in[pos]) << 24) | (uint32_t(in[pos + 1]) << 16) | (uint32_t(in[pos + 2]) << 8) |
                     uint32_t(in[pos + 3]);
      pos += 4;
      if (len > in.size() - pos) return corrupt(2, "xerial block runs past the end");
      if (auto s = unsnappy_raw(in.subspan(pos, len), out, max_out); !s.ok()) return s.error();
      pos += len;
    }
    return out;
  }
  if (auto s = unsnappy_raw(in, out, max_out); !s.ok()) return s.error();
  return out;
}

// Kafka 0.8-0.9 (magic 0) wrote LZ4 frames whose header checksum wrongly covers the 4 magic
// bytes too; kafka-python still writes that for old brokers. Such a header is repaired before
// decoding, as Kafka and librdkafka accept it. Returns the input unchanged otherwise.
std::span<const uint8_t> repair_kafka08_header(std::span<const uint8_t> in, std::vector<uint8_t>& copy) {
  if (in.size() < 7 || in[0] != 0x04 || in[1] != 0x22 || in[2] != 0x4d || in[3] != 0x18) return in;
  uint8_t flg = in[4];
  size_t hc_pos = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
  if (in.size() <= hc_pos) return in;
  auto proper = static_cast<uint8_t>((xxh32(in.subspan(4, hc_pos - 4), 0) >> 8) & 0xff);
  auto kafka08 = static_cast<uint8_t>((xxh32(in.subspan(0, hc_pos), 0) >> 8) & 0xff);
  if (in[hc_pos] == proper || in[hc_pos] != kafka08) return in;
  copy.assign(in.begin(), in.end());
  copy[hc_pos] = proper;
  return copy;
}

Result<std::vector<uint8_t>> unlz4(std::span<const uint8_t> original, size_t max_out) {
  std::vector<uint8_t> repaired;
  std::span<const uint8_t> in = repair_kafka08_header(original, repaired);
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) return corrupt(3, "cannot start lz4");
  std::unique_ptr<LZ4F_dctx, size_t (*)(LZ4F_dctx*)> guard(ctx, LZ4F_freeDecompressionContext);
  std::vector<uint8_t> out;
  size_t used = 0, pos = 0;
  for (;;) {
    if (used == out.size() && !grow(out, used, max_out)) {
      if (pos == in.size()) break;
      return too_large(3, max_out);
    }
    size_t dst = out.size() - used, src = in.size() - pos;
    size_t hint = LZ4F_decompress(ctx, out.data() + used, &dst, in.data() + pos, &src, nullptr);
    if (LZ4F_isError(hint)) return corrupt(3, LZ4F_getErrorName(hint));
    used += dst;
    pos += src;
    if (hint == 0) break;  // the frame is complete
    if (pos == in.size() && dst == 0) return corrupt(3, "truncated frame");
  }
  out.resize(used);
  return out;
}

Result<std::vector<uint8_t>> unzstd(std::span<const uint8_t> in, size_t max_out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return corrupt(4, "cannot start zstd");
  std::vector<uint8_t> out;
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  size_t used = 0;
  for (;;) {
    if (used == out.size() && !grow(out, used, max_out)) {
      if (src.pos == src.size) break;
      return too_large(4, max_out);
    }
    ZSTD_outBuffer dst{out.data(), out.size(), used};
    size_t rc = ZSTD_decompressStream(ctx.get(), &dst, &src);
    if (ZSTD_isError(rc)) return corrupt(4, ZSTD_getErrorName(rc));
    used = dst.pos;
    if (rc == 0 && src.pos == src.size) break;  // frame complete, input consumed
    if (src.pos == src.size && dst.pos < dst.size) return corrupt(4, "truncated frame");
  }
  out.resize(used);
  return out;
}

}  // namespace

uint32_t xxh32(std::span<const uint8_t> data, uint32_t seed) {
  constexpr uint32_t P1 = 2654435761U, P2 = 2246822519U, P3 = 3266489917U, P4 = 668265263U, P5 = 374761393U;
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  auto read32 = [&](size_t at) {
    return uint32_t(data[at]) | (uint32_t(data[at + 1]) << 8) | (uint32_t(data[at + 2]) << 16) |
           (uint32_t(data[at + 3]) << 24);
  };
  const size_t n = data.size();
  size_t at = 0;
  uint32_t h;
  if (n >= 16) {
    uint32_t v[4] = {seed + P1 + P2, seed + P2, seed, seed - P1};
    for (; at + 16 <= n; at += 16)
      for (int i = 0; i < 4; ++i) v[i] = rotl(v[i] + read32(at + 4 * size_t(i)) * P2, 13) * P1;
    h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
  } else {
    h = seed + P5;
  }
  h += static_cast<uint32_t>(n);
  for (; at + 4 <= n; at += 4) h = rotl(h + read32(at) * P3, 17) * P4;
  for (; at < n; ++at) h = rotl(h + data[at] * P5, 11) * P1;
  h ^= h >> 15;
  h *= P2;
  h ^= h >> 13;
  h *= P3;
  h ^= h >> 16;
  return h;
}

const char* codec_name(int codec) {
  switch (codec) {
    case 0: return "none";
    case 1: return "gzip";
    case 2: return "snappy";
    case 3: return "lz4";
    case 4: return "zstd";
  }
  return "unknown";
}

Result<std::vector<uint8_t>> decompress(int codec, std::span<const uint8_t> in, size_t max_out) {
  switch (codec) {
    case 1: return gunzip(in, max_out);
    case 2: return unsnappy(in, max_out);
    case 3: return unlz4(in, max_out);
    case 4: return unzstd(in, max_out);
  }
  return Error{ErrorCode::CORRUPT_MESSAGE, "unknown compression codec " + std::to_string(codec)};
}

Result<std::vector<uint8_t>> compress(int codec, std::span<const uint8_t> in) {
  std::vector<uint8_t> out;
  switch (codec) {
    case 1: {
      z_stream z{};
      if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return Error{ErrorCode::UNKNOWN_SERVER_ERROR, "cannot start zlib"};
      out.resize(deflateBound(&z, static_cast<uLong>(in.size())) + 32);
      z.next_in = const_cast<Bytef*>(in.data());
      z.avail_in = static_cast<uInt>(in.size());
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      int rc = deflate(&z, Z_FINISH);
      out.resize(out.size() - z.avail_out);
      deflateEnd(&z);
      if (rc != Z_STREAM_END) return Error{ErrorCode::UNKNOWN_SERVER_ERROR, "gzip compression failed"};
      return out;
    }
    case 2: {
      std::string s;
      snappy::Compress(reinterpret_cast<const char*>(in.data()), in.size(), &s);
      return std::vector<uint8_t>(s.begin(), s.end());
    }
    case 3: {
      // Kafka's Java client reads only frames of independent blocks of at most 64 KiB
      // (KafkaLZ4BlockInputStream); liblz4's default links the blocks.
      LZ4F_preferences_t prefs{};
      prefs.frameInfo.blockSizeID = LZ4F_max64KB;
      prefs.frameInfo.blockMode = LZ4F_blockIndependent;
      out.resize(LZ4F_compressFrameBound(in.size(), &prefs));
      size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
      if (LZ4F_isError(n)) return Error{ErrorCode::UNKNOWN_SERVER_ERROR, LZ4F_getErrorName(n)};
      out.resize(n);
      return out;
    }
    case 4: {
      out.resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
      if (ZSTD_isError(n)) return Error{ErrorCode::UNKNOWN_SERVER_ERROR, ZSTD_getErrorName(n)};
      out.resize(n);
      return out;
    }
  }
  return Error{ErrorCode::UNKNOWN_SERVER_ERROR, "unknown compression codec " + std::to_string(codec)};
}

}  // namespace kb
