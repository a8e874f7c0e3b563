// The message formats before record batches (magic 0, Kafka 0.8-0.9, and magic 1, 0.10: one
// message per record with a CRC-32, compressed messages wrapping an inner message set), as
// Produce v0-2 carries them. The broker stores only v2 batches, so a legacy message set is
// validated and converted up on arrival, as Kafka does with message.format.version 3.x.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "protocol/types.h"

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

// A legacy message set from records (tests, and Fetch v0-3 down-conversion later): one
// uncompressed message per (key, value, timestamp) at `magic`, or with codec != 0 one
// compressed wrapper holding them.
std::vector<uint8_t> build_legacy_message_set(
    int magic, int codec,
    const std::vector<std::tuple<std::optional<std::string>, std::optional<std::string>, int64_t>>& records);

}  // namespace kb
