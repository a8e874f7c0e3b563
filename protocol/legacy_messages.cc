#include "protocol/legacy_messages.h"

#include <zlib.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>

#include "protocol/compression.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace kb {

namespace {

Error corrupt(const std::string& why) { return Error{ErrorCode::CORRUPT_MESSAGE, "legacy message set: " + why}; }

uint32_t crc32_of(std::span<const uint8_t> b) {
  return static_cast<uint32_t>(crc32(0L, b.data(), static_cast<uInt>(b.size())));
}

struct LegacyRecord {
  std::optional<std::string> key, value;
  int64_t timestamp = -1;
};

// Parses `set` (top level when `depth` is 0, a wrapper's inner set when 1) into records.
Status parse(std::span<const uint8_t> set, int depth, int& magic_seen, int& codec_seen,
             std::vector<LegacyRecord>& out, size_t max_decompressed) {
  size_t pos = 0;
  if (set.empty()) return corrupt("no message");
  while (pos < set.size()) {
    if (set.size() - pos < 12) return corrupt("truncated message header at byte " + std::to_string(pos));
    wire::Reader h(set.subspan(pos, 12));
    h.read_int64();  // offset: ignored (the log assigns offsets)
    int32_t size = h.read_int32();
    pos += 12;
    if (size < 14 || static_cast<size_t>(size) > set.size() - pos)
      return corrupt("message size " + std::to_string(size) + " does not fit");
    auto msg = set.subspan(pos, static_cast<size_t>(size));
    pos += static_cast<size_t>(size);
    // The magic byte sits at the same place in every format: look at it before the CRC,
    // whose position depends on it.
    if (msg[4] == 2) return Error{ErrorCode::INVALID_RECORD, "record batches (magic 2) need Produce v3 or later"};
    wire::Reader r(msg);
    uint32_t crc = static_cast<uint32_t>(r.read_int32());
    int8_t magic = r.read_int8();
    int8_t attributes = r.read_int8();
    if (magic != 0 && magic != 1) return corrupt("unknown magic " + std::to_string(magic));
    if (crc32_of(msg.subspan(4)) != crc) return corrupt("message CRC-32 mismatch");
    if (magic_seen >= 0 && magic != magic_seen) return corrupt("mixed message magics");
    magic_seen = magic;
    LegacyRecord rec;
    if (magic == 1) rec.timestamp = r.read_int64();
    auto read_bytes = [&](std::optional<std::string>& dst) -> bool {
      int32_t n = r.read_int32();
      if (!r.ok() || n < -1 || (n >= 0 && static_cast<size_t>(n) > r.remaining())) return false;
      if (n >= 0) {
        auto b = r.read_raw(static_cast<size_t>(n));
        dst = std::string(reinterpret_cast<const char*>(b.data()), b.size());
      }
      return true;
    };
    if (!read_bytes(rec.key) || !read_bytes(rec.value) || r.remaining() != 0)
      return corrupt("invalid key or value length");
    int codec = attributes & 0x07;
    if (codec == 0) {
      out.push_back(std::move(rec));
      continue;
    }
    if (depth > 0) return corrupt("a compressed message inside a compressed message");
    if (codec > 3) return corrupt("codec " + std::to_string(codec) + " is not allowed before record batches");
    if (!rec.value) return corrupt("a compressed message without a value");
    codec_seen = codec;
    auto inner = decompress(codec, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rec.value->data()),
                                                            rec.value->size()),
                            max_decompressed);
    if (!inner.ok()) return inner.error();
    size_t before = out.size();
    int inner_magic = magic_seen;
    if (auto s = parse(*inner, depth + 1, inner_magic, codec_seen, out, max_decompressed); !s.ok()) return s;
    // LogAppendTime on a magic-1 wrapper: its timestamp is every inner message's.
    if (magic == 1 && (attributes & 0x08))
      for (size_t i = before; i < out.size(); ++i) out[i].timestamp = rec.timestamp;
  }
  return {};
}

}  // namespace

Result<ConvertedMessageSet> convert_legacy_message_set(std::span<const uint8_t> set, size_t max_decompressed) {
  std::vector<LegacyRecord> records;
  ConvertedMessageSet out;
  int magic = -1;
  if (auto s = parse(set, 0, magic, out.codec, records, max_decompressed); !s.ok()) return s.error();
  RecordBatchBuilder b;
  for (const auto& r : records)
    b.add(r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
          r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, r.timestamp);
  out.batch = b.build();
  out.magic = magic;
  out.records = static_cast<int32_t>(records.size());
  if (out.codec != 0) {
    auto packed = recompress_batch(out.batch, out.codec);
    if (!packed.ok()) return packed.error();
    out.batch = std::move(packed.value());
  }
  return out;
}

void write_legacy_message(wire::Writer& out, int magic, int64_t offset, int8_t attributes, int64_t timestamp,
                          std::optional<std::string_view> key, std::optional<std::string_view> value) {
  out.write_int64(offset);
  size_t size_at = out.reserve_int32();
  size_t crc_at = out.reserve_int32();
  out.write_int8(static_cast<int8_t>(magic));
  out.write_int8(attributes);
  if (magic == 1) out.write_int64(timestamp);
  for (const auto& part : {key, value}) {
    if (!part) {
      out.write_int32(-1);
    } else {
      out.write_int32(static_cast<int32_t>(part->size()));
      out.write_raw(*part);
    }
  }
  // The CRC covers magic to the end of the value; the size counts the CRC too.
  const auto& buf = out.buffer();
  size_t body = crc_at + 4;
  out.patch_int32(size_at, static_cast<int32_t>(buf.size() - crc_at));
  out.patch_int32(crc_at, static_cast<int32_t>(crc32_of(std::span<const uint8_t>(buf).subspan(body))));
}

std::vector<uint8_t> build_legacy_message_set(
    int magic, int codec,
    const std::vector<std::tuple<std::optional<std::string>, std::optional<std::string>, int64_t>>& records) {
  auto view = [](const std::optional<std::string>& s) {
    return s ? std::optional<std::string_view>(*s) : std::nullopt;
  };
  wire::Writer inner;
  int64_t offset = 0;
  for (const auto& [k, v, ts] : records) write_legacy_message(inner, magic, offset++, 0, ts, view(k), view(v));
  if (codec == 0) return std::move(inner.buffer());
  auto packed = compress(codec, inner.buffer()).value();
  wire::Writer outer;
  int64_t max_ts = -1;
  for (const auto& r : records) max_ts = std::max(max_ts, std::get<2>(r));
  write_legacy_message(outer, magic, offset - 1, static_cast<int8_t>(codec), max_ts, std::nullopt,
                       std::string_view(reinterpret_cast<const char*>(packed.data()), packed.size()));
  return std::move(outer.buffer());
}

}  // namespace kb
