// The null sink: the baseline of scripts/bench. A minimal Kafka endpoint that answers
// ApiVersions, Metadata, CreateTopics, Produce and Fetch with kb_protocol's generated codecs
// and stores nothing, so a broker's produce throughput can be reported as a fraction of what
// the client itself can push on the same machine.
//
// It is deliberately not a broker: topics "exist" as soon as a client names them, record
// batches are never CRC-checked or kept (only their headers are read, to count offsets), and
// every other API closes the connection, as a broker does for a request it cannot parse.
// Each partition behaves like a log whose retention has already removed every record: its
// log start offset, high watermark and log end offset are all the next offset to assign.
//
// As a null *source* (a SourceLog given), every partition instead holds `records` records of
// `value_size` bytes from offset 0, served by Fetch out of one prebuilt batch whose base
// offset is patched per answer: a consumer's ceiling on this machine, memory speed.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/types.h"

namespace kbench {

// The versions the sink advertises in ApiVersions (and accepts; any other version of these
// APIs closes the connection). Produce starts at v3, the first with RecordBatch v2. Fetch is
// there because librdkafka derives its message format from both: it encodes RecordBatch v2
// only for a broker with Produce >= 3 *and* Fetch >= 4, and falls back to the legacy v1
// message set otherwise, which would make the baseline a different client workload.
struct SinkApi {
  int16_t api_key;
  int16_t min_version;
  int16_t max_version;
};
inline constexpr SinkApi kSinkApis[] = {
    {0, 3, 9},   // Produce
    {1, 4, 12},  // Fetch (topic names; v13+ address topics by id)
    {2, 1, 5},   // ListOffsets (earliest/latest, for a consumer starting at either end)
    {3, 0, 12},  // Metadata
    {18, 0, 3},  // ApiVersions
    {19, 0, 7},  // CreateTopics
};

// Owner: kbench's main, alive until the process ends. Thread-safe: one instance serves every
// connection thread; the topic table is guarded by a mutex held only while answering.
struct SourceLog {
  int64_t records = 0;      // per partition, rounded up to whole batches
  size_t value_size = 1024;
};

class NullSink {
 public:
  // `host`/`port` are what Metadata advertises as the one broker (node 1), which leads every
  // partition; topics a client names without creating them get `default_partitions`.
  NullSink(std::string host, uint16_t port, int32_t default_partitions,
           std::optional<SourceLog> source = std::nullopt);
  // Records per prebuilt batch of the source (0 without one).
  int32_t source_batch_records() const { return batch_records_; }

  // Answers one request frame (the bytes after its 4-byte size prefix) by appending the
  // size-prefixed response to `out`; a Produce with acks=0 appends nothing. Returns false
  // when the connection must be closed: an undecodable request, or an API or version the
  // sink does not serve.
  bool handle(std::span<const uint8_t> frame, std::vector<uint8_t>& out);

  // Listens on host:port and serves each connection on its own thread, forever. Returns only
  // when the socket cannot be bound, with the reason.
  std::string serve_forever();

 private:
  struct Topic {
    kb::Uuid id;
    std::vector<int64_t> next_offset;  // per partition: the offset the next batch gets
  };
  Topic& topic_locked(const std::string& name, int32_t partitions);
  // The next offset of an existing partition, or nullptr for an unknown topic or partition.
  int64_t* next_offset_locked(const std::string& topic, int32_t partition);
  // The source's batches from the one holding `offset` up to `max_bytes` (at least one), not
  // past `end`, laid out in `cache` (the caller's, kept between calls); a view into it.
  std::span<const uint8_t> source_chain(int64_t offset, int64_t end, int64_t max_bytes,
                                        std::vector<uint8_t>& cache) const;
  void serve_connection(int fd);  // owns fd: closes it
  void pump(int fd);              // returns when the connection must close

  std::string host_;
  uint16_t port_;
  int32_t default_partitions_;
  std::mutex mu_;
  std::map<std::string, Topic> topics_;
  std::optional<SourceLog> source_;
  std::vector<uint8_t> batch_;  // the source's batch, base offset 0
  int32_t batch_records_ = 0;
};

// A TCP connection to host:port that has had one ApiVersions (v0) answered, so the server
// counts it as a Kafka client's; the fd, or -1. For kbench's idle-connection case.
int connect_api_versions(const std::string& host, uint16_t port);
void close_fd(int fd);

// Offsets a Produce's `records` field takes: the sum over its record batches (v2) of
// lastOffsetDelta + 1. -1 when the bytes are not a whole chain of v2 batch headers.
int64_t count_offsets(std::span<const uint8_t> records);

}  // namespace kbench
