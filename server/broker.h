// A kbroker process: storage, the controller (metadata log + image), the replicas this broker
// hosts, the network, metrics and the HTTP endpoint, wired together. A single broker is a
// one-node cluster: it is its own controller and leads every partition.
//
// Owner: main(). start() then stop() once, from the main thread; the accessors are used by
// handlers on network threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/controller.h"
#include "coordinator/group/group_coordinator.h"
#include "coordinator/txn/transaction_coordinator.h"
#include "protocol/types.h"
#include "replication/replica_manager.h"
#include "runtime/peer_client.h"
#include "server/metrics.h"
#include "storage/log_manager.h"

namespace kb::runtime {
class LoopThread;
}
namespace kb::raft {
class Quorum;
}
namespace kb::controller {
class BrokerLifecycle;
class ProducerIdManager;
}
namespace kb::replication {
class ReplicaFetcherManager;
}

namespace kb::server {

class Network;
class HttpServer;
class SchemaRegistryService;

class Broker {
 public:
  static constexpr const char* kTransactionStateTopic = "__transaction_state";

  explicit Broker(config::BrokerConfig config);
  ~Broker();

  Status start();
  // Clean shutdown: stop accepting, finish in-flight requests, flush, write the clean-shutdown
  // marker.
  void stop();

  // The static configuration (YAML and --set), as read at start-up: what the subsystems
  // started with. Values that may change at run time come from effective_config().
  const config::BrokerConfig& config() const { return config_; }
  // The effective configuration: the static one with the metadata image's dynamic broker
  // configs (KIP-226: the cluster-wide default, then this broker's own) layered on. Replaced
  // by on_metadata when they change; callers keep the pointer they got for one request.
  std::shared_ptr<const config::BrokerConfig> effective_config() const;
  int32_t node_id() const { return node_id_; }
  storage::LogManager& logs() { return *logs_; }
  controller::Controller& controller() { return *controller_; }
  replication::ReplicaManager& replicas() { return *replicas_; }
  Metrics& metrics() { return metrics_; }
  coordinator::GroupCoordinator& groups() { return *groups_; }
  coordinator::TransactionCoordinator& transactions() { return *txns_; }
  // Producer ids for InitProducerId, from blocks the controller gives this broker.
  controller::ProducerIdManager& producer_ids() { return *producer_ids_; }
  // The follower fetcher; null until this broker follows a partition.
  replication::ReplicaFetcherManager* fetchers() const { return fetchers_.get(); }
  std::shared_ptr<const controller::MetadataImage> image() const { return controller_->image(); }
  // Cluster mode (controller.quorum.voters set): the metadata quorum; null for a lone broker.
  raft::Quorum* quorum() const { return quorum_.get(); }
  // The broker-to-broker client (follower fetches, controller requests); null for a lone broker.
  runtime::PeerClient* peers() const { return peers_.get(); }
  // The active controller's id as clients see it (Metadata, DescribeCluster): the quorum's
  // leader, or this node when it is its own controller; -1 while there is none.
  int32_t active_controller_id() const;
  // Cluster mode: runs `work` on the thread that serves requests waiting for the quorum
  // (never on a network thread, which the quorum's own requests may need).
  void run_controller_request(std::function<void()> work);

  // Creates the topics that do not exist yet with the broker defaults (Metadata / Produce
  // auto-creation). Errors are returned per topic.
  std::vector<controller::CreateTopicResult> auto_create_topics(const std::vector<std::string>& names);

  // Creates __consumer_offsets when it does not exist yet (the first FindCoordinator does, as
  // in Kafka), with offsets.topic.num.partitions, offsets.topic.replication.factor and a
  // compacted config. Returns its partition count, or COORDINATOR_NOT_AVAILABLE (with why)
  // when it cannot be created now, e.g. fewer brokers than the replication factor.
  Result<int32_t> ensure_offsets_topic();
  // The same for __transaction_state (the first FindCoordinator for a transactional id), with
  // transaction.state.log.num.partitions, .replication.factor, .min.isr (at most the
  // replication factor) and .segment.bytes.
  Result<int32_t> ensure_transaction_state_topic();

  // The error for a partition this broker has no replica of: NOT_LEADER_OR_FOLLOWER when the
  // topic has that partition (led elsewhere), else UNKNOWN_TOPIC_OR_PARTITION.
  ErrorCode missing_partition_error(const TopicPartition& tp) const;

  // The effective log settings of a topic (broker defaults, dynamic ones included, + the
  // topic's overrides).
  storage::LogConfig log_config_for(const std::map<std::string, std::string>& topic_overrides) const;

  int32_t min_insync_replicas_for(const std::map<std::string, std::string>& topic_overrides) const;

  // The built-in Schema Registry; null when schema.registry.enable is false.
  SchemaRegistryService* schema_registry() const { return schema_registry_.get(); }

  uint16_t kafka_port() const;
  uint16_t metrics_port() const;

 private:
  void on_metadata(const controller::MetadataImage& before, const controller::MetadataImage& after);
  // Rebuilds effective_ from the image's dynamic broker configs; true when it changed.
  bool apply_dynamic_configs(const controller::MetadataImage& after);
  // Tells the group and transaction coordinators which partitions of __consumer_offsets and
  // __transaction_state they lead now.
  void update_coordinators(const controller::MetadataImage& before, const controller::MetadataImage& after);
  Result<int32_t> ensure_internal_topic(const controller::CreateTopicSpec& spec, const char* replication_property);
  // Where broker `node` takes inter-broker requests in `image`: its inter.broker.listener.name
  // endpoint, else its first; nullopt when unknown or fenced.
  std::optional<runtime::PeerAddress> broker_address(const controller::MetadataImage& image, int32_t node) const;
  std::vector<GroupSample> sample_groups();
  ClusterSample sample_cluster();
  // ISR shrinks and expansions of partitions led here, for /metrics.
  void count_isr_changes(const controller::MetadataImage& before, const controller::MetadataImage& after);
  std::vector<PartitionSample> sample_partitions();
  // The transaction series: LSO lag and ongoing transactions of the partitions led here, and
  // the transaction coordinator's ids and completed transactions.
  TransactionSamples sample_transactions();

  // Cluster mode: the quorum, the controller on its log, and this broker's lifecycle.
  Status open_replicated_controller();
  // Sends CreateTopics for `specs` to the active controller (a broker that is not the
  // controller cannot create topics itself); the answer is not awaited.
  void forward_create_topics(const std::vector<controller::CreateTopicSpec>& specs);
  // Asks the controller for this broker's next block of producer ids, off the network
  // threads: directly when it is the active controller (or a lone broker), else with
  // AllocateProducerIds over the controller listener.
  void allocate_producer_id_block(std::function<void(Result<controller::ProducerIdBlock>)> done);
  // Every producer.id.expiration.check.interval.ms: idle producer ids leave the replicas.
  void schedule_producer_expiration();
  // Cluster mode: creates the topics on the controller-request thread (here when this node is
  // the active controller, else forwarded); nothing waits for the outcome.
  void create_topics_async(const std::vector<controller::CreateTopicSpec>& specs);

  config::BrokerConfig config_;
  int32_t node_id_;
  mutable std::mutex effective_mu_;  // guards the effective_ pointer only
  std::shared_ptr<const config::BrokerConfig> effective_;
  Metrics metrics_;
  // Before the threads that deliver its blocks, so it is destroyed after them.
  std::unique_ptr<controller::ProducerIdManager> producer_ids_;
  std::shared_ptr<runtime::Timer> producer_expiration_timer_;  // re-armed on the coordinator loop
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<replication::ReplicaManager> replicas_;
  // Fetches the partitions this broker follows from their leaders. Made by on_metadata when
  // this broker first follows a partition (never for a lone broker); stop() must stop it
  // before the logs close. Its own connections: follower fetches long-poll.
  std::unique_ptr<replication::ReplicaFetcherManager> fetchers_;
  std::unique_ptr<runtime::PeerClient> peers_;
  std::unique_ptr<runtime::PeerClient> quorum_peers_;  // the quorum's own connections, never queued behind others
  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<raft::Quorum> quorum_;
  std::unique_ptr<controller::BrokerLifecycle> lifecycle_;
  // Controller writes that wait for the quorum run here, never on a network thread.
  std::unique_ptr<runtime::LoopThread> controller_requests_;
  // The group and transaction coordinators' one loop.
  std::unique_ptr<runtime::LoopThread> coordinator_loop_;
  std::unique_ptr<coordinator::GroupLog> group_log_;
  std::unique_ptr<coordinator::GroupCoordinator> groups_;
  std::unique_ptr<runtime::PeerClient> marker_client_;  // WriteTxnMarkers, to every broker including this one
  std::unique_ptr<coordinator::TxnMarkerSender> txn_markers_;
  std::unique_ptr<coordinator::GroupLog> txn_log_;
  std::unique_ptr<coordinator::TransactionCoordinator> txns_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<HttpServer> http_;
  // After http_: destroyed first, with the REST requests it still holds.
  std::unique_ptr<SchemaRegistryService> schema_registry_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> isr_shrinks_{0}, isr_expands_{0};
  // This process's registration with the controller (cluster mode), and whether the image
  // has caught up with it (on_metadata, serialized by the controller's listeners).
  const Uuid incarnation_ = Uuid::random();
  bool caught_up_ = false;
};

}  // namespace kb::server
