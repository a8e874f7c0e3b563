#include "protocol/down_convert.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/compression.h"
#include "protocol/legacy_messages.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace kb {

namespace {

struct Rec {
  int64_t offset;
  int64_t timestamp;
  std::optional<std::string_view> key, value;
};

// Kafka 0.8-0.9 computed the LZ4 frame's header checksum over the 4 magic bytes too, and
// Kafka keeps writing that checksum in magic-0 wrappers because the clients of that era check
// it; newer clients repair or ignore it when they read magic 0.
void use_kafka08_lz4_header_checksum(std::vector<uint8_t>& frame) {
  if (frame.size() < 7) return;
  uint8_t flg = frame[4];
  size_t hc_pos = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);  // after content size, dict id
  if (frame.size() <= hc_pos) return;
  frame[hc_pos] = static_cast<uint8_t>((xxh32(std::span<const uint8_t>(frame).first(hc_pos), 0) >> 8) & 0xff);
}

Error corrupt(const std::string& why) { return Error{ErrorCode::CORRUPT_MESSAGE, "down-conversion: " + why}; }

}  // namespace

Result<DownConverted> down_convert(std::span<const uint8_t> in, int magic, int64_t fetch_offset, size_t max_bytes,
                                   bool at_least_one) {
  DownConverted out;
  wire::Writer w;
  auto fits = [&](size_t n) {
    return w.buffer().size() + n <= max_bytes || (at_least_one && w.buffer().empty());
  };
  std::vector<Rec> recs;
  std::vector<uint8_t> plain;
  size_t pos = 0;
  while (!out.stopped_early && in.size() - pos >= batch::kHeaderSize) {
    auto h = read_batch_header(in.subspan(pos));
    if (!h.ok()) return h.error();
    if (h->batch_length < batch::kMinBatchLength) return corrupt("batch length " + std::to_string(h->batch_length));
    // A log read returns whole batches; a cut one at the end is not ours to convert.
    if (static_cast<uint64_t>(h->total_size()) > in.size() - pos) break;
    auto b = in.subspan(pos, static_cast<size_t>(h->total_size()));
    pos += b.size();
    // Old clients know nothing of transaction markers.
    if (h->is_control() || h->records_count == 0) continue;
    const int codec = h->compression();
    if (codec == static_cast<int>(Compression::kZstd)) {
      if (w.buffer().empty())
        return Error{ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
                     "zstd-compressed records have no magic " + std::to_string(magic) + " form (Fetch v10+ reads them)"};
      out.stopped_early = true;  // the next fetch starts at this batch and gets the error
      break;
    }
    std::span<const uint8_t> readable = b;
    if (codec != 0) {
      auto r = recompress_batch(b, 0);  // decompressed with the validation bound
      if (!r.ok()) return r.error();
      plain = std::move(r.value());
      readable = plain;
    }
    // LogAppendTime: every record's timestamp is the one the broker stamped on the batch.
    const bool log_append = h->log_append_time();
    recs.clear();
    auto walked = for_each_record(readable, [&](const RecordView& r) {
      if (codec == 0 && r.offset < fetch_offset) return;
      recs.push_back({r.offset, log_append ? h->max_timestamp : r.timestamp, r.key, r.value});
    });
    if (!walked.ok()) return walked.error();
    if (recs.empty()) continue;
    const int8_t ts_type = magic == 1 && log_append ? legacy::kTimestampTypeMask : 0;

    if (codec == 0) {
      for (const Rec& r : recs) {
        if (!fits(legacy_message_size(magic, r.key, r.value))) {
          out.stopped_early = true;
          break;
        }
        write_legacy_message(w, magic, r.offset, ts_type, r.timestamp, r.key, r.value);
        ++out.records;
      }
      continue;
    }

    wire::Writer inner;
    int64_t max_timestamp = -1;
    for (const Rec& r : recs) {
      // Magic 1 numbers inner messages from the wrapper's first record; the wrapper's own
      // offset (the last record's) anchors them. Magic 0 has absolute inner offsets.
      int64_t inner_offset = magic == 1 ? r.offset - recs.front().offset : r.offset;
      write_legacy_message(inner, magic, inner_offset, ts_type, r.timestamp, r.key, r.value);
      max_timestamp = std::max(max_timestamp, r.timestamp);
    }
    auto packed = compress(codec, inner.buffer());
    if (!packed.ok()) return packed.error();
    if (magic == 0 && codec == static_cast<int>(Compression::kLz4)) use_kafka08_lz4_header_checksum(*packed);
    std::string_view value(reinterpret_cast<const char*>(packed->data()), packed->size());
    if (!fits(legacy_message_size(magic, std::nullopt, value))) {
      out.stopped_early = true;
      break;
    }
    write_legacy_message(w, magic, recs.back().offset, static_cast<int8_t>(codec | ts_type),
                         log_append ? h->max_timestamp : max_timestamp, std::nullopt, value);
    out.records += static_cast<int32_t>(recs.size());
  }
  out.messages = std::move(w.buffer());
  return out;
}

}  // namespace kb
