// The Controller on the metadata quorum, wired as every node runs it (KRaft's combined
// node): the Raft quorum over `__cluster_metadata-0` (replication/raft/quorum.h) delivers
// committed batches, snapshots and leadership changes to the Controller, which proposes its
// batches back through a QuorumMetadataLog. Without controller.quorum.voters the node is the
// quorum's only voter: it elects itself at once and commits alone, through the same code.
//
// Owner: the Broker (and controller unit tests). Threads: the quorum's two loops; see
// quorum.h and controller.h.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "controller/controller.h"
#include "replication/raft/quorum.h"
#include "runtime/peer_client.h"
#include "storage/log_manager.h"

namespace kb::controller {

// The cluster id of this node's log dirs (meta.properties): the stored one, else on the
// very first start one derived from controller.quorum.voters, so all voters agree (Kafka has
// `kafka-storage format --cluster-id` for this), or a random one for a lone broker.
Result<std::string> ensure_cluster_id(const config::BrokerConfig& config);

struct ControllerQuorum {
  std::unique_ptr<Controller> controller;
  std::unique_ptr<raft::Quorum> quorum;  // declared last: stopped first, it calls the controller
  ~ControllerQuorum();
  // Stops the quorum (everything committed so far is applied), then drops the controller.
  void stop();
};

// Opens the metadata log through `logs`, the Controller and the quorum (voters: the
// configured ones, or this node alone); `peers` carries the quorum's own requests.
Result<std::unique_ptr<ControllerQuorum>> open_controller_quorum(const config::BrokerConfig& config,
                                                                  const std::string& cluster_id,
                                                                  storage::LogManager& logs, runtime::PeerClient& peers);

}  // namespace kb::controller
