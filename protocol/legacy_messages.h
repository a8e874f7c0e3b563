// The message formats before record batches (magic 0, Kafka 0.8-0.9, and magic 1, 0.10: one
// message per record with a CRC-32, compressed messages wrapping an inner message set), as
// Produce v0-2 carries them. The broker stores only v2 batches, so a legacy message set is
// validated and converted up on arrival, as Kafka does with message.format.version 3.x; Fetch
// v0-3 answers are converted back down (protocol/down_convert.h).
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "protocol/types.h"
#include "protocol/wire.h"

namespace kb {

struct ConvertedMessageSet {
  std::vector<uint8_t> batch;  // one v2 record batch (offsets from 0, CRC-32C set)
  int magic = 0;               // of the messages received
  int codec = 0;               // the producer's codec, kept for the v2 batch
  int32_t records = 0;
};

// Validates every message (CRC-32, magic 0 or 1, lengths, codec; wrappers decompressed with
// at most `max_decompressed` bytes and their inner messages checked the same way) and
// converts them to one v2 batch compressed with the producer's codec. CORRUPT_MESSAGE for
// anything damaged; INVALID_RECORD for magic 2 data (record batches need Produce v3+).
Result<ConvertedMessageSet> convert_legacy_message_set(std::span<const uint8_t> set, size_t max_decompressed);

namespace legacy {
constexpr int8_t kTimestampTypeMask = 0x08;  // magic 1 attributes: set for LogAppendTime
constexpr size_t kLogOverhead = 12;          // offset int64 + message_size int32
// crc, magic, attributes, key and value lengths; magic 1 adds an int64 timestamp.
constexpr size_t overhead(int magic) { return magic == 0 ? 14 : 22; }
}  // namespace legacy

// Bytes one message takes in a message set, log overhead included.
inline size_t legacy_message_size(int magic, std::optional<std::string_view> key,
                                  std::optional<std::string_view> value) {
  return legacy::kLogOverhead + legacy::overhead(magic) + (key ? key->size() : 0) + (value ? value->size() : 0);
}

// Appends one message at `offset` to a message set: CRC-32 computed, timestamp written only
// for magic 1. `attributes` carries the codec (wrappers) and, for magic 1, the timestamp type.
void write_legacy_message(wire::Writer& out, int magic, int64_t offset, int8_t attributes, int64_t timestamp,
                          std::optional<std::string_view> key, std::optional<std::string_view> value);

// A legacy message set from records (tests; Fetch v0-3 use protocol/down_convert.h): one
// uncompressed message per (key, value, timestamp) at `magic`, or with codec != 0 one
// compressed wrapper holding them.
std::vector<uint8_t> build_legacy_message_set(
    int magic, int codec,
    const std::vector<std::tuple<std::optional<std::string>, std::optional<std::string>, int64_t>>& records);

}  // namespace kb
