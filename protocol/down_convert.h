// Down-conversion: the log's v2 record batches rewritten as the legacy message sets that
// Fetch v0-3 promise (magic 0 for Fetch v0-1, magic 1 for v2-3), as Kafka's
// RecordsUtil.downConvert does for clients older than 0.11 (kafka-python with api_version
// (0, 9) / (0, 10), sarama below Config.Version 0.11).
//
// What an old client cannot read is left out: control batches (transaction markers), record
// headers, and in uncompressed batches the records before the fetch offset (uncompressed
// magic 0/1 is one message per record, and some librdkafka versions count on the first one
// being at the fetch offset). A compressed batch becomes one compressed wrapper message of the same codec, its
// inner messages numbered relative to the first (magic 1) or absolutely (magic 0), the
// wrapper carrying the last offset; records before the fetch offset stay inside it, as in
// Kafka, and clients skip them. zstd has no legacy form: UNSUPPORTED_COMPRESSION_TYPE.
//
// Memory: the output never exceeds `max_bytes` but for one first message or wrapper (so a
// fetch always moves on); one batch at a time is decompressed (bounded as in validation).
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "protocol/types.h"

namespace kb {

// The message format a Fetch version answers in: 0 for v0-1, 1 for v2-3, 2 (record batches,
// no conversion) for v4 and later.
constexpr int fetch_response_magic(int16_t fetch_version) {
  return fetch_version <= 1 ? 0 : fetch_version <= 3 ? 1 : 2;
}

struct DownConverted {
  std::vector<uint8_t> messages;  // the legacy message set (empty: nothing an old client reads)
  int32_t records = 0;            // messages for records (inner messages of wrappers counted)
  bool stopped_early = false;     // max_bytes or a zstd batch ended it before the input's end
};

// Converts `batches` (whole v2 batches back to back, as a log read returns them; an
// incomplete batch at the end is ignored) to a message set at `magic` (0 or 1), for a fetch
// at `fetch_offset`. Stops before the message or wrapper that would take the output past
// `max_bytes`, unless `at_least_one` and nothing was written yet. A zstd batch ends the
// conversion; when it comes first the answer is UNSUPPORTED_COMPRESSION_TYPE. A damaged batch
// is CORRUPT_MESSAGE.
Result<DownConverted> down_convert(std::span<const uint8_t> batches, int magic, int64_t fetch_offset,
                                   size_t max_bytes, bool at_least_one);

}  // namespace kb
