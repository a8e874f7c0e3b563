// A kbroker process: storage, the controller (metadata log + image), the replicas this broker
// hosts, the network, metrics and the HTTP endpoint, wired together. A single broker is a
// one-node cluster: it is its own controller and leads every partition.
//
// Owner: main(). start() then stop() once, from the main thread; the accessors are used by
// handlers on network threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/controller.h"
#include "controller/controller_quorum.h"
#include "coordinator/group/group_coordinator.h"
#include "coordinator/txn/transaction_coordinator.h"
#include "coordinator/txn/txn_verifier.h"
#include "protocol/types.h"
#include "replication/replica_manager.h"
#include "runtime/peer_client.h"
#include "security/scram.h"
#include "server/authorization.h"
#include "server/client_quota_manager.h"
#include "server/metadata_publishers.h"
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
class ControllerChannel;
class ProducerIdManager;
}
namespace kb::replication {
class ReplicaFetcherManager;
}

namespace kb::server {

class ConnectionQuotas;
class TlsReloader;
class Network;
class HttpServer;
class SchemaRegistryService;


class Broker {
 public:
  static constexpr const char* kTransactionStateTopic = CoordinatorPublisher::kTransactionStateTopic;

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
  // when they change (DynamicConfigPublisher); callers keep the pointer they got for one
  // request.
  std::shared_ptr<const config::BrokerConfig> effective_config() const;
  // INVALID_CONFIG when a listener's key or trust store in `next` (a dynamic change being
  // checked) would not load (TlsReloader::check).
  Status check_listener_stores(const config::BrokerConfig& next) const;
  int32_t node_id() const { return node_id_; }
  storage::LogManager& logs() { return *logs_; }
  controller::Controller& controller() { return *metadata_->controller; }
  replication::ReplicaManager& replicas() { return *replicas_; }
  Metrics& metrics() { return metrics_; }
  coordinator::GroupCoordinator& groups() { return *groups_; }
  coordinator::TransactionCoordinator& transactions() { return *txns_; }
  // A partition leader's questions to transaction coordinators (KIP-890 part 1).
  coordinator::TxnVerifier& txn_verifier() { return *txn_verifier_; }
  // Producer ids for InitProducerId, from blocks the controller gives this broker.
  controller::ProducerIdManager& producer_ids() { return *producer_ids_; }
  std::shared_ptr<const controller::MetadataImage> image() const { return metadata_->controller->image(); }
  // The metadata quorum (a quorum of one, this node, when controller.quorum.voters is empty).
  raft::Quorum& quorum() const { return *metadata_->quorum; }
  // How this broker reaches the active controller, itself included.
  controller::ControllerChannel& controller_channel() const { return *channel_; }
  // The active controller's id as clients see it (Metadata, DescribeCluster): the quorum's
  // leader; -1 while there is none.
  int32_t active_controller_id() const;
  // Runs `work` on the thread that serves requests waiting for the quorum (never on a
  // network thread, which the quorum's own requests may need).
  void run_controller_request(std::function<void()> work);
  // Whether `listener` is one of controller.listener.names (broker-to-controller traffic).
  bool controller_listener(const std::string& listener) const;

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

  // Who may do what (authorizer.class.name, super.users, the ACLs of the metadata image).
  Authorization& authorization() { return *authorization_; }

  // The stored SCRAM credential of `user` for SASL listeners (the metadata image's SCRAM
  // records); nullopt for an unknown user.
  std::optional<security::ScramCredential> scram_credential(security::ScramMechanism mechanism,
                                                            const std::string& user) const;
  // Client quotas: producer/consumer byte rates and controller mutations per user and client id.
  ClientQuotaManager& quotas() { return *quotas_; }

  // The built-in Schema Registry; null when schema.registry.enable is false.
  SchemaRegistryService* schema_registry() const { return schema_registry_.get(); }

  uint16_t kafka_port() const;
  uint16_t metrics_port() const;

 private:
  Result<int32_t> ensure_internal_topic(const controller::CreateTopicSpec& spec, const char* replication_property);
  std::vector<GroupSample> sample_groups();
  ClusterSample sample_cluster();
  // ISR shrinks and expansions of partitions led here, for /metrics.
  void count_isr_changes(const controller::MetadataDelta& delta);
  std::vector<PartitionSample> sample_partitions();
  // The transaction series: LSO lag and ongoing transactions of the partitions led here, and
  // the transaction coordinator's ids and completed transactions.
  TransactionSamples sample_transactions();

  // The quorum (of one, for a lone broker), the controller on its log, and the channel to
  // the active controller.
  Status open_controller();
  // The ControllerChannel's way to this node's own controller: the request is dispatched
  // like one from another broker, on the controller-request loop.
  void serve_locally(int16_t api_key, int16_t version, std::vector<uint8_t> body,
                     std::function<void(Result<std::vector<uint8_t>>)> done);
  // Asks the active controller for this broker's next block of producer ids
  // (AllocateProducerIds through the channel).
  void allocate_producer_id_block(std::function<void(Result<controller::ProducerIdBlock>)> done);
  // Whether `p`, led here, has a late transaction (its oldest open one's producer silent past
  // transaction.max.timeout.ms + 5 min, Kafka's measure); says so in a warning, once per 5 min
  // per partition. Checked at every scrape and producer-expiration tick.
  bool late_transaction(const replication::Partition& p, int64_t now_ms);
  // Every producer.id.expiration.check.interval.ms: idle producer ids leave the replicas (and
  // late transactions are looked for).
  void schedule_producer_expiration();
  // Every 10 s while no active controller is known: one line saying so and for how long, so a
  // broker cut off from its quorum is not silent. Runs on the coordinator loop.
  void schedule_controller_watch();
  // Sends CreateTopics for `specs` to the active controller (forwarded like a client's);
  // nothing waits for the outcome.
  void create_topics_async(const std::vector<controller::CreateTopicSpec>& specs);

  config::BrokerConfig config_;
  int32_t node_id_;
  std::unique_ptr<DynamicConfigPublisher> dynamic_configs_;  // the effective configuration
  // max.connections(.per.ip): the network counts, dynamic config changes set the limits.
  std::shared_ptr<ConnectionQuotas> connection_quotas_;
  // Reloads the TLS listeners' stores when their dynamic settings or files change.
  std::unique_ptr<TlsReloader> tls_reloader_;
  Metrics metrics_;
  std::unique_ptr<Authorization> authorization_;
  std::unique_ptr<ClientQuotaManager> quotas_;
  // Before the threads that deliver its blocks, so it is destroyed after them.
  std::unique_ptr<controller::ProducerIdManager> producer_ids_;
  std::shared_ptr<runtime::Timer> producer_expiration_timer_;  // re-armed on the coordinator loop
  std::shared_ptr<runtime::Timer> controller_watch_timer_;     // likewise
  int64_t controller_unknown_since_ms_ = -1;                   // -1: known; coordinator loop only
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<replication::ReplicaManager> replicas_;
  // The replicas (and the follower fetcher) and the coordinators following the metadata.
  std::unique_ptr<ReplicaPublisher> replica_publisher_;
  std::unique_ptr<CoordinatorPublisher> coordinator_publisher_;
  // How this broker's own connections log in to the inter-broker and controller listeners.
  runtime::PeerSecurity broker_peer_security_, controller_peer_security_;
  std::unique_ptr<runtime::PeerClient> peers_;
  std::unique_ptr<runtime::PeerClient> quorum_peers_;  // the quorum's own connections, never queued behind others
  std::unique_ptr<controller::ControllerQuorum> metadata_;  // the Controller on the Raft quorum
  std::unique_ptr<controller::ControllerChannel> channel_;
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
  // Its own connections: a verification must not queue behind a marker waiting for an ISR.
  std::unique_ptr<runtime::PeerClient> verifier_client_;
  std::unique_ptr<coordinator::TxnVerifier> txn_verifier_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<HttpServer> http_;
  // After http_: destroyed first, with the REST requests it still holds.
  std::unique_ptr<SchemaRegistryService> schema_registry_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> isr_shrinks_{0}, isr_expands_{0};
  // This process's registration with the controller.
  const Uuid incarnation_ = Uuid::random();
};

}  // namespace kb::server
