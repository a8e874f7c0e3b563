// The built-in controller: validates CreateTopics/DeleteTopics, turns them into metadata
// records, appends them to the metadata log (`__cluster_metadata-0`, durable before the answer),
// applies them to the metadata image and tells listeners. In a single-broker start this node
// is the only voter and the log is a local file; the cluster issue replicates the same log
// with Raft.
//
// Owner: Broker. Thread-safety: create/delete are serialized by a mutex; image() is a cheap
// snapshot from any thread; listeners run on the thread that applied the change, in log order.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/metadata_image.h"
#include "storage/log_manager.h"

namespace kb::controller {

struct CreateTopicSpec {
  std::string name;
  int32_t num_partitions = -1;
  int16_t replication_factor = -1;
  std::map<int32_t, std::vector<int32_t>> assignments;
  std::map<std::string, std::string> configs;
};
struct CreateTopicResult {
  std::string name;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  Uuid topic_id;
  int32_t num_partitions = -1;
  int16_t replication_factor = -1;
  std::map<std::string, std::string> configs;  // effective topic config
};
struct DeleteTopicResult {
  std::string name;
  Uuid topic_id;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};

// Kafka's topic name rules: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
Status validate_topic_name(std::string_view name);

class Controller {
 public:
  static Result<std::unique_ptr<Controller>> open(const config::BrokerConfig& config, storage::LogManager& logs);
  ~Controller();

  std::vector<CreateTopicResult> create_topics(const std::vector<CreateTopicSpec>& topics, bool validate_only);
  std::vector<DeleteTopicResult> delete_topics(const std::vector<std::string>& names, const std::vector<Uuid>& ids);
  std::shared_ptr<const MetadataImage> image() const;

  using Listener = std::function<void(const MetadataImage& before, const MetadataImage& after)>;
  void subscribe(Listener listener);  // invoked at once with (empty image, current image)

 private:
  Controller(const config::BrokerConfig& config) : config_(config) {}
  struct Pending;  // records of one operation, encoded
  Status commit(Pending& pending);  // append + flush + apply + notify (mu_ held)
  Status replay();

  const config::BrokerConfig& config_;
  std::shared_ptr<storage::Log> log_;
  mutable std::mutex mu_;          // serializes writers
  mutable std::mutex image_mu_;    // guards image_ pointer swaps
  std::shared_ptr<const MetadataImage> image_;
  std::vector<Listener> listeners_;
  int32_t next_placement_ = 0;
};

}  // namespace kb::controller
