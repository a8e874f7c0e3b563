// Broker-side schema validation (Confluent Server's topic configs, issue 16 item 5): a topic
// with confluent.value.schema.validation (or .key.) set refuses records whose value (key) does
// not start with Confluent's framing — magic byte 0 and a 4-byte big-endian schema id — or
// whose id is not a live version of the subject the topic's
// confluent.value.subject.name.strategy names: `<topic>-value` (TopicNameStrategy, the
// default), the record's full name (RecordNameStrategy) or `<topic>-<record name>`
// (TopicRecordNameStrategy). Null keys and values (tombstones) pass.
//
// A refusal is INVALID_RECORD with one record error per refused record (its index in the
// batch, Produce v8+'s record_errors) and nothing of the batch is written. An id the local
// view does not know yet (registered through another broker moments ago, or never) is
// answered REQUEST_TIMED_OUT, which producers retry, so a fresh registration is never refused
// for the time the view takes to read it; an id that never appears ends in the producer's
// delivery timeout.
//
// Owner: SchemaRegistryService. Thread-safety: update() from the controller's listener,
// check() from any thread. A topic without validation costs one atomic load (no topic
// validates) or one map lookup; no record is looked at.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "controller/metadata_image.h"
#include "protocol/types.h"

namespace kb::registry {
class Registry;
}

namespace kb::server {

enum class SubjectNameStrategy { kTopicName, kRecordName, kTopicRecordName };

struct SchemaValidationResult {
  ErrorCode error = ErrorCode::NONE;
  std::string message;  // the first refusal, for the partition's error_message
  struct RecordError {
    int32_t index = 0;  // the record's place in its batch (Kafka's batch_index)
    std::string message;
  };
  std::vector<RecordError> record_errors;
};

class SchemaValidator {
 public:
  explicit SchemaValidator(const registry::Registry& registry) : registry_(registry) {}

  // Takes the topics' confluent.* configs from the image.
  void update(const controller::MetadataImage& image);
  // Checks every record of `batches` (structurally valid record batches) of `topic`.
  SchemaValidationResult check(const std::string& topic, std::span<const uint8_t> batches) const;

 private:
  struct Rules {
    bool key = false, value = false;
    SubjectNameStrategy key_strategy = SubjectNameStrategy::kTopicName;
    SubjectNameStrategy value_strategy = SubjectNameStrategy::kTopicName;
  };
  // Why one key or value is refused ("" when it passes); sets `retriable` for an unknown id.
  std::string check_one(const std::string& topic, bool is_key, SubjectNameStrategy strategy,
                        std::string_view bytes, bool& retriable) const;

  const registry::Registry& registry_;
  std::atomic<bool> any_{false};
  mutable std::mutex mu_;
  std::shared_ptr<const std::map<std::string, Rules, std::less<>>> rules_;
};

}  // namespace kb::server
