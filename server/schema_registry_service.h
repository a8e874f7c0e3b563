// The Schema Registry built into the broker (issue 16): the registry service (registry/) over
// the `schema.registry.topic` partition (BrokerSchemaLog) and behind the broker's HTTP server
// (its own listener, schema.registry.listener), with its /metrics series and the topic's
// creation. Every broker runs one; they share nothing but the topic, so any broker answers
// any request and writes from several brokers are serialized by the topic's leader.
//
// Owner: Broker, which creates it when schema.registry.enable is true, adds listener() to its
// HttpServer before starting that, calls start() once the controller is open, and stop()
// before the HTTP server and the controller stop. Threads: one loop of its own
// (`kb-schema-reg`: the registry's tick, the topic check, the log's retries) and the log's two
// peer clients; REST requests arrive on the HTTP thread. validator() is used by produce
// handlers on network threads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/controller.h"
#include "runtime/peer_client.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace kb::runtime {
class LoopThread;
}
namespace kb::registry {
class Registry;
class Rest;
class Authenticator;
}  // namespace kb::registry

namespace kb::server {

class BrokerSchemaLog;
class SchemaValidator;
class RegistryRestMetrics;

class SchemaRegistryService {
 public:
  struct Hooks {
    controller::Controller* controller = nullptr;  // the image (leader, brokers, topic configs)
    // Where a broker takes inter-broker requests (server/metadata_publishers.h: inter_broker_address).
    std::function<std::optional<runtime::PeerAddress>(const controller::MetadataImage&, int32_t node)>
        address;
    // Creates an internal topic (Broker::ensure_internal_topic): its partition count, or why not
    // (yet); in a cluster the creation is forwarded and not awaited.
    std::function<Result<int32_t>(const controller::CreateTopicSpec&)> create_topic;
    bool lone_broker = true;  // no metadata quorum: no other broker will ever join
    runtime::PeerSecurity peer_security;  // the login to the inter-broker listener of `address`
  };

  SchemaRegistryService(const config::BrokerConfig& config, Hooks hooks);
  ~SchemaRegistryService();

  HttpListener listener();
  void start();
  void stop();

  // Broker-side schema validation (confluent.key/value.schema.validation), for produce.
  const SchemaValidator& validator() const { return *validator_; }
  // The registry's series for /metrics, as a collector for Metrics::add_collector.
  Metrics::Collector collector() const;

 private:
  // Creates the topic when the image lacks it (every second until it exists, and again if it
  // is ever deleted); in a cluster only once enough brokers are registered.
  void check_topic();
  void schedule_tick();
  std::vector<prometheus::MetricFamily> collect() const;

  const std::string topic_;
  const int32_t replication_factor_;
  const int32_t min_insync_replicas_;
  const int32_t max_request_bytes_;
  const std::string host_;
  const uint16_t port_;
  Hooks hooks_;
  std::unique_ptr<runtime::LoopThread> loop_;
  std::unique_ptr<BrokerSchemaLog> log_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<registry::Authenticator> auth_;
  std::unique_ptr<RegistryRestMetrics> rest_metrics_;
  std::unique_ptr<registry::Rest> rest_;
  std::unique_ptr<SchemaValidator> validator_;
  bool waiting_logged_ = false;  // on the loop: "waiting for brokers" said once
  int64_t next_topic_check_ms_ = 0;
};

}  // namespace kb::server
