// The batches of the coordinators' internal topics (__consumer_offsets, __transaction_state)
// as stored bytes: building them (compressed with offsets.topic.compression.codec, as Kafka's
// group coordinator writes them) and replaying a partition's log into records.
//
// Replaying reads compressed batches (Kafka compresses __consumer_offsets when the codec is
// set; a client may also have produced one there) and never lets one bad batch stop the
// partition: a batch that does not decompress or parse, or one damaged on disk (CRC mismatch),
// is skipped and counted, and the replay goes on after it. Only when the log cannot be read
// at all (an I/O error) is the replay an error; when a damaged batch's header no longer says
// where the next one starts, the replay ends there with what it read.
//
// Threads: plain functions and a local builder; the caller's thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "coordinator/group/group_log.h"
#include "protocol/record_batch.h"
#include "storage/log.h"

namespace kb::coordinator {

// RecordBatchBuilder whose build() compresses the records with `codec` (0 none, 1 gzip,
// 2 snappy, 3 lz4, 4 zstd). It hides the base class's build(): call it on this type.
class InternalBatchBuilder : public RecordBatchBuilder {
 public:
  explicit InternalBatchBuilder(int codec) : codec_(codec) {}
  // Uncompressed when the codec is 0, or if compressing fails (an uncompressed batch is
  // always valid; it never happens with a known codec).
  std::vector<uint8_t> build() const;

 private:
  int codec_;
};

// Calls fn with every record of `log` in [from, end), in log order, transaction markers
// included; what cannot be read goes to `skipped` (see above).
Status replay_batches(const storage::Log& log, Offset from, Offset end,
                      const std::function<void(const StoredGroupRecord&)>& fn, SkippedRecords& skipped);

}  // namespace kb::coordinator
