// A kbroker process: storage, the controller (metadata log + image), the replicas this broker
// hosts, the network, metrics and the HTTP endpoint, wired together. A single broker is a
// one-node cluster: it is its own controller and leads every partition.
//
// Owner: main(). start() then stop() once, from the main thread; the accessors are used by
// handlers on network threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/controller.h"
#include "protocol/types.h"
#include "replication/replica_manager.h"
#include "server/metrics.h"
#include "storage/log_manager.h"

namespace kb::server {

class Network;
class HttpServer;

class Broker {
 public:
  explicit Broker(config::BrokerConfig config);
  ~Broker();

  Status start();
  // Clean shutdown: stop accepting, finish in-flight requests, flush, write the clean-shutdown
  // marker.
  void stop();

  const config::BrokerConfig& config() const { return config_; }
  int32_t node_id() const { return node_id_; }
  storage::LogManager& logs() { return *logs_; }
  controller::Controller& controller() { return *controller_; }
  replication::ReplicaManager& replicas() { return *replicas_; }
  Metrics& metrics() { return metrics_; }
  std::shared_ptr<const controller::MetadataImage> image() const { return controller_->image(); }

  // Creates the topics that do not exist yet with the broker defaults (Metadata / Produce
  // auto-creation). Errors are returned per topic.
  std::vector<controller::CreateTopicResult> auto_create_topics(const std::vector<std::string>& names);

  // The error for a partition this broker has no replica of: NOT_LEADER_OR_FOLLOWER when the
  // topic has that partition (led elsewhere), else UNKNOWN_TOPIC_OR_PARTITION.
  ErrorCode missing_partition_error(const TopicPartition& tp) const;

  // The effective log settings of a topic (broker defaults + the topic's overrides).
  storage::LogConfig log_config_for(const std::map<std::string, std::string>& topic_overrides) const;

  int32_t min_insync_replicas_for(const std::map<std::string, std::string>& topic_overrides) const;

  uint16_t kafka_port() const;
  uint16_t metrics_port() const;

 private:
  void on_metadata(const controller::MetadataImage& before, const controller::MetadataImage& after);
  std::vector<PartitionSample> sample_partitions();

  config::BrokerConfig config_;
  int32_t node_id_;
  Metrics metrics_;
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<replication::ReplicaManager> replicas_;
  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> stopped_{false};
};

}  // namespace kb::server
