// What the registry needs of the `_schemas` topic (one partition): a conditional append and an
// ordered read. The broker implements it over its own partition leader (the append checks the
// leader's log end offset before appending; reads are Fetch requests tailing the topic);
// memory_schema_log.h implements it in memory for tests.
//
// Offsets are Kafka offsets of the partition. Callbacks may run on any thread, and may run
// before the call that asked for them returns; the registry takes neither for granted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kb::registry {

// One record: key bytes and value bytes, or no value for a tombstone.
struct LogRecord {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const LogRecord&) const = default;
};

struct LoggedRecord {
  int64_t offset = 0;
  LogRecord record;
};

struct AppendResult {
  enum class Status {
    kOk,        // appended: records got offsets base_offset, base_offset + 1, ...
    kConflict,  // the log end offset was not the expected one: nothing appended
    kTimeout,   // no answer in time: the records may or may not be in the log
    kError,     // not appended (no leader, not enough replicas, ...)
  };
  Status status = Status::kError;
  int64_t base_offset = -1;  // kOk
  int64_t end_offset = -1;   // kConflict: the log end offset the leader has
  std::string message;       // kTimeout, kError: why, for the log and the error answer
};

struct ReadResult {
  bool ok = true;
  std::vector<LoggedRecord> records;  // in offset order, all at or after the offset asked for
  // Where the next read starts: past the last record delivered, or, when the reader is at the
  // end, the end offset itself (a gap of compacted-away or control records is skipped this way).
  int64_t next_offset = 0;
  // The partition's end offset (high watermark) when the read was answered: the registry is
  // caught up when it has applied everything below the end it first saw.
  int64_t end_offset = 0;
  std::string message;  // !ok: why
};

class SchemaLog {
 public:
  virtual ~SchemaLog() = default;

  // Appends `records` as one batch, all or nothing, only if the log end offset is
  // `expected_end_offset`. The records are durable (acks=all) when `done` says kOk.
  virtual void append(std::vector<LogRecord> records, int64_t expected_end_offset,
                      std::function<void(AppendResult)> done) = 0;

  // Reads records from `offset` on. When there is nothing at `offset` yet, the read waits (a
  // long poll) until there is, or until the implementation's wait ends with no records. A
  // failed read (ok=false) is answered only after the implementation's retry back-off: the
  // registry reads again as soon as any read completes, so a read must never fail at once in
  // a loop. At most one read is outstanding per reader.
  virtual void read(int64_t offset, std::function<void(ReadResult)> done) = 0;

  // The partition's end offset (high watermark) now, or nullopt when it cannot be had (no
  // leader). The registry asks at start and answers requests once its view has applied every
  // record below it; on nullopt it asks again after its next read completes.
  virtual void end_offset(std::function<void(std::optional<int64_t>)> done) = 0;
};

}  // namespace kb::registry
