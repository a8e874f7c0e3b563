// The built-in controller: validates CreateTopics/DeleteTopics (and producer-id block
// requests), turns them into metadata records, appends them to the metadata log (durable
// before the answer), applies them to the metadata image and tells listeners. In a
// single-broker start (`controller.quorum.voters` empty) this node is the only voter and the
// log is a LocalMetadataLog; the cluster issue swaps in a Raft log carrying the same records.
//
// Owner: the Broker (server/), created after the LogManager and destroyed before it.
// Thread-safety: writers (create_topics, delete_topics, allocate_producer_ids, subscribe) may
// be called from any thread and are serialized by one mutex, under which the metadata log is
// appended and fsynced; image() is a brief-locked pointer copy from any thread. Listeners run
// on the writing thread, under that mutex, in log order: they must not call the writers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/metadata_image.h"
#include "controller/metadata_log.h"
#include "storage/log_manager.h"

namespace kb::controller {

struct CreateTopicSpec {
  std::string name;
  int32_t num_partitions = -1;     // -1: num.partitions
  int16_t replication_factor = -1;  // -1: default.replication.factor
  // Manual placement: partition -> replicas (first = preferred leader). When given,
  // num_partitions and replication_factor must be -1.
  std::map<int32_t, std::vector<int32_t>> assignments;
  std::map<std::string, std::string> configs;  // topic config overrides
};

struct CreateTopicResult {
  std::string name;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  Uuid topic_id;  // zero for validate_only
  int32_t num_partitions = -1;
  int16_t replication_factor = -1;
  std::map<std::string, std::string> configs;  // every topic config's effective value (CreateTopics v5+)
};

struct DeleteTopicResult {
  std::string name;  // empty when the topic was named by an id that matches no topic
  Uuid topic_id;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};

// A block of producer ids handed to one broker (Kafka's AllocateProducerIds): ids
// first .. first + size - 1 are this broker's to give to InitProducerId callers.
struct ProducerIdBlock {
  int32_t broker_id = -1;
  int64_t first = 0;
  int32_t size = 0;
};

// Kafka's Topic.validate: 1..249 characters of [a-zA-Z0-9._-], not "." or "..";
// INVALID_TOPIC_EXCEPTION with Kafka's message otherwise.
Status validate_topic_name(std::string_view name);

class Controller {
 public:
  using Listener = std::function<void(const MetadataImage& before, const MetadataImage& after)>;

  // The metadata log's topic: clients may not create it (INVALID_REQUEST), since its log
  // shares the data log directory.
  static constexpr const char* kMetadataTopic = LocalMetadataLog::kTopic;
  // Producer ids per AllocateProducerIds block (Kafka's ProducerIdManager block size).
  static constexpr int32_t kProducerIdBlockSize = 1000;
  // Most records one request may turn into (Kafka's MAX_RECORDS_PER_USER_OP); beyond it
  // Kafka refuses the whole request with POLICY_VIOLATION.
  static constexpr size_t kMaxRecordsPerRequest = 10000;

  // Checks meta.properties in every log dir (creating the cluster id on the very first
  // start), opens `<first log dir>/__cluster_metadata-0` through the LogManager and replays it
  // into the image, then registers this broker (RegisterBrokerRecord, then UnfenceBrokerRecord)
  // when it is not registered, its endpoints or rack changed, or it is fenced. The first start
  // also records the metadata.version feature level. Errors are fatal start-up errors.
  static Result<std::unique_ptr<Controller>> open(const config::BrokerConfig& config, storage::LogManager& logs);
  // The same over any metadata log (the Raft quorum later; tests).
  static Result<std::unique_ptr<Controller>> open(const config::BrokerConfig& config, std::unique_ptr<MetadataLog> log,
                                                  std::string cluster_id);
  ~Controller();

  // CreateTopics. One result per spec, in order. Errors (Kafka's codes and messages):
  // INVALID_TOPIC_EXCEPTION (name rules, or a '.'/'_' collision with an existing topic),
  // TOPIC_ALREADY_EXISTS (also for a second spec of the same name), INVALID_CONFIG,
  // INVALID_REQUEST (assignments together with a count), INVALID_REPLICA_ASSIGNMENT,
  // INVALID_REPLICATION_FACTOR (<= 0 or more than the registered brokers), INVALID_PARTITIONS
  // (<= 0), INVALID_REQUEST (the metadata topic), POLICY_VIOLATION (more than
  // kMaxRecordsPerRequest records), KAFKA_STORAGE_ERROR (the metadata log failed).
  // validate_only checks everything and writes nothing.
  std::vector<CreateTopicResult> create_topics(const std::vector<CreateTopicSpec>& topics, bool validate_only);

  // DeleteTopics by name and by id. One result per distinct name (first names, in order) then
  // per distinct id; like Kafka's ControllerApis: a name or id given twice is INVALID_REQUEST
  // ("Duplicate topic name."), as is a zero id and a name whose topic was also given by id;
  // UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID for missing topics; every entry is
  // TOPIC_DELETION_DISABLED when delete.topic.enable is false (DeleteTopics v0-2 answer that
  // with INVALID_REQUEST: the handler's choice). Internal topics may be deleted, as in Kafka.
  std::vector<DeleteTopicResult> delete_topics(const std::vector<std::string>& names, const std::vector<Uuid>& ids);

  // Makes `overrides` a topic's complete set of config overrides (AlterConfigs and
  // IncrementalAlterConfigs compute it): one ConfigRecord per key that changed (a null value
  // removes an override). UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG with Kafka's message,
  // KAFKA_STORAGE_ERROR. validate_only checks and writes nothing.
  Status set_topic_configs(const std::string& topic, const std::map<std::string, std::string>& overrides,
                           bool validate_only);

  // Hands the next block of kProducerIdBlockSize producer ids to `broker_id`, durably
  // (ProducerIdsRecord), so no id is ever given twice, even across restarts.
  // BROKER_ID_NOT_REGISTERED for an unknown broker, STALE_BROKER_EPOCH when `broker_epoch`
  // (-1: any) is not its current epoch, UNKNOWN_SERVER_ERROR when the ids are exhausted.
  Result<ProducerIdBlock> allocate_producer_ids(int32_t broker_id, int64_t broker_epoch = -1);

  // The current image; never null.
  std::shared_ptr<const MetadataImage> image() const;

  // Adds a listener, invoked at once with (empty image, current image) and then after every
  // applied batch with the image before and after it.
  void subscribe(Listener listener);

 private:
  Controller(const config::BrokerConfig& config, std::unique_ptr<MetadataLog> log);
  Status replay();
  Status register_this_broker();
  // Appends one batch, applies it to a copy of the image, publishes the copy and notifies the
  // listeners. mu_ held. Fail-stop: after a log error every later write fails.
  Status commit(std::vector<MetadataRecord> records);

  const config::BrokerConfig config_;
  std::unique_ptr<MetadataLog> log_;
  mutable std::mutex mu_;        // serializes writers, the log and the listeners
  mutable std::mutex image_mu_;  // guards the image_ pointer only
  std::shared_ptr<const MetadataImage> image_;
  std::vector<Listener> listeners_;
  uint32_t next_leader_ = 0;  // rotating start of the round-robin placement
  Status failed_;             // the first metadata log error, once there was one
};

}  // namespace kb::controller
