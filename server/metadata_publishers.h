// The broker's metadata publishers (Kafka's MetadataPublisher): each takes the deltas the
// Controller publishes (controller/metadata_delta.h) and keeps one part of this broker in
// step with the metadata. The Broker wires them, in this order:
// - DynamicConfigPublisher: the effective configuration (KIP-226 dynamic broker configs on
//   the static YAML), first, so the replicas below get log settings with the new broker-wide
//   defaults (the Broker passes new cleaner settings on);
// - ReplicaPublisher: this broker's replicas (ReplicaManager::apply_delta) and the follower
//   fetcher; it holds everything back until the controller unfenced this incarnation, then
//   hands the rest of the broker one delta from an empty image;
// - CoordinatorPublisher: which __consumer_offsets and __transaction_state partitions the
//   group and transaction coordinators lead.
//
// Threads: every on_delta runs on the quorum's apply thread, in log order (the Controller's
// listeners); the accessors may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"
#include "controller/metadata_delta.h"
#include "replication/replica_fetcher.h"
#include "replication/replica_manager.h"
#include "runtime/peer_client.h"
#include "storage/log_manager.h"

namespace kb::coordinator {
class GroupCoordinator;
class TransactionCoordinator;
}  // namespace kb::coordinator

namespace kb::server {

// Where broker `node` takes inter-broker requests in `image`: its `listener` endpoint
// (inter.broker.listener.name) when set and present, else its first; nullopt when the broker
// is unknown or fenced.
std::optional<runtime::PeerAddress> inter_broker_address(const controller::MetadataImage& image, int32_t node,
                                                         const std::optional<std::string>& listener);

class DynamicConfigPublisher {
 public:
  explicit DynamicConfigPublisher(const config::BrokerConfig& static_config);
  // The static configuration with the image's BROKER-resource configs (the cluster default,
  // then this broker's) layered on; callers keep the pointer they got for one request.
  std::shared_ptr<const config::BrokerConfig> effective() const;
  // True when the effective configuration changed.
  bool on_delta(const controller::MetadataDelta& delta);

 private:
  // Rebuilds the effective configuration from `after`; true when it changed.
  bool rebuild(const controller::MetadataImage& after);

  const config::BrokerConfig& static_;
  mutable std::mutex mu_;  // guards the effective_ pointer only
  std::shared_ptr<const config::BrokerConfig> effective_;
};

class ReplicaPublisher {
 public:
  struct Options {
    int32_t node_id = -1;
    Uuid incarnation;  // this process's registration: roles wait until it is unfenced
    replication::ReplicaFetcherOptions fetcher;
    std::optional<std::string> inter_broker_listener;
    runtime::PeerSecurity peer_security;  // the follower fetcher's login to the leaders
    int64_t replica_lag_time_max_ms = 30000;
  };
  using LogConfigFn = std::function<storage::LogConfig(const std::map<std::string, std::string>&)>;
  using MinIsrFn = std::function<int32_t(const std::map<std::string, std::string>&)>;
  // The rest of the broker's view of the change, once this broker has caught up.
  using Next = std::function<void(const controller::MetadataDelta&)>;

  ReplicaPublisher(Options options, storage::LogManager& logs, replication::ReplicaManager& replicas,
                   LogConfigFn log_config, MinIsrFn min_isr, Next next);
  void on_delta(const controller::MetadataDelta& delta);
  // Waits at most timeout_ms until the replicas took their roles; false when they did not,
  // or `give_up` said to stop waiting.
  bool wait_caught_up(int64_t timeout_ms, const std::function<bool()>& give_up);
  // The follower fetcher; null until this broker first follows a partition.
  replication::ReplicaFetcherManager* fetchers() const;
  // Before the logs close.
  void stop_fetchers();

 private:
  // Stray logs: partitions on disk that the metadata no longer gives this broker.
  void delete_stray_logs(const controller::MetadataImage& image);
  void apply(const controller::MetadataDelta& delta);

  const Options opts_;
  storage::LogManager& logs_;
  replication::ReplicaManager& replicas_;
  const LogConfigFn log_config_;
  const MinIsrFn min_isr_;
  const Next next_;
  bool caught_up_ = false;  // apply thread only
  mutable std::mutex mu_;   // guards fetchers_ and roles_taken_
  std::condition_variable cv_;
  bool roles_taken_ = false;
  std::unique_ptr<replication::ReplicaFetcherManager> fetchers_;
};

class CoordinatorPublisher {
 public:
  static constexpr const char* kTransactionStateTopic = "__transaction_state";
  CoordinatorPublisher(int32_t node_id, coordinator::GroupCoordinator& groups, coordinator::TransactionCoordinator& txns)
      : node_id_(node_id), groups_(groups), txns_(txns) {}
  // Resigns / leads each partition of the two internal topics whose leadership here changed
  // (a new leader epoch is a new term: resign, then lead again).
  void on_delta(const controller::MetadataDelta& delta);

 private:
  const int32_t node_id_;
  coordinator::GroupCoordinator& groups_;
  coordinator::TransactionCoordinator& txns_;
};

}  // namespace kb::server
