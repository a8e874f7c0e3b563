// A cluster broker's side of its relation with the active controller (Kafka's
// BrokerLifecycleManager and the leader's AlterPartition manager):
// - registers (BrokerRegistration, with a new incarnation id per process) and heartbeats every
//   broker.heartbeat.interval.ms with the metadata offset it has applied; the controller
//   unfences it once that offset reaches its registration; the registration names its log
//   dirs (directory.id) and each heartbeat those offline now (KIP-858);
// - with several log dirs, tells the controller which dir holds each of its replicas when the
//   image says otherwise (AssignReplicasToDirs, Kafka's AssignmentsManager: batched, and
//   retried since it is recomputed from the image and the LogManager at every round);
// - as partition leader, asks for ISR changes (AlterPartition): followers that lag more than
//   replica.lag.time.max.ms leave the ISR, followers that caught up join it;
// - checkpoints the replicas' high watermarks every replica.high.watermark.checkpoint.interval.ms;
// - on SIGTERM, controlled shutdown: heartbeats with want_shut_down until the controller has
//   moved this broker's leaderships away and answers should_shut_down.
// The active controller is reached through the ControllerChannel (this very node's when it is
// the quorum's leader, a lone broker's always).
//
// Owner: the Broker. Threads: a LoopThread of its own; the public methods may
// be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "replication/replica_manager.h"

namespace kb::controller {

class ControllerChannel;

struct LifecycleOptions {
  int32_t node_id = -1;
  std::string cluster_id;
  Uuid incarnation_id;  // this process's (BrokerRegistration)
  std::vector<Endpoint> endpoints;
  std::vector<int16_t> security_protocols;
  std::optional<std::string> rack;
  int64_t heartbeat_interval_ms = 2000;
  int64_t replica_lag_time_max_ms = 30000;
  int64_t high_watermark_checkpoint_interval_ms = 5000;
  int64_t request_timeout_ms = 5000;
  // The directory.id of each log dir, in log.dirs order (the LogManager's), and the
  // LogManager whose dirs they are (null: no dirs are reported).
  std::vector<Uuid> log_dir_ids;
  storage::LogManager* logs = nullptr;
};

class BrokerLifecycle {
 public:
  BrokerLifecycle(LifecycleOptions options, ControllerChannel& channel, Controller& controller,
                  replication::ReplicaManager& replicas);
  ~BrokerLifecycle();  // stop()
  void stop();

  // Controlled shutdown; true when the controller confirmed it within timeout_ms.
  bool controlled_shutdown(int64_t timeout_ms);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::controller
