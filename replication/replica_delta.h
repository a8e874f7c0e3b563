// What a metadata change means for the replicas one broker hosts (Kafka's
// TopicsDelta.LocalReplicaChanges), and what the broker knows that the replicas do not (its
// effective topic configs, the leaders' addresses, the follower fetcher). The controller
// computes the changes from a metadata delta (controller/metadata_delta.h);
// ReplicaManager::apply_delta (replica_manager_delta.cc) carries them out.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "replication/partition.h"
#include "runtime/peer_client.h"
#include "storage/log.h"

namespace kb::replication {

class ReplicaFetcherManager;

// One partition this broker hosts, as the metadata has it now.
struct LocalReplica {
  TopicPartition tp;
  Uuid topic_id;
  PartitionState state;
  std::map<std::string, std::string> topic_configs;  // the topic's overrides
};

struct LocalChanges {
  std::vector<LocalReplica> leaders;    // to lead (a new leader epoch), or whose ISR/replicas moved
  std::vector<LocalReplica> followers;  // to follow, or whose leader's address may have changed
  std::vector<TopicPartition> deletes;  // of deleted topics: the replica goes with its files
  std::vector<LocalReplica> moved_off;  // reassigned away (their state now): the same
  
  // Topics hosted here whose log settings may have changed (their overrides, or the broker
  // defaults they fall back to), with their overrides.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> reconfigured;
  bool empty() const {
    return leaders.empty() && followers.empty() && deletes.empty() && moved_off.empty() && reconfigured.empty();
  }
};

// The broker's side of applying changes.
struct DeltaEnvironment {
  std::function<storage::LogConfig(const std::map<std::string, std::string>& overrides)> log_config;
  std::function<int32_t(const std::map<std::string, std::string>& overrides)> min_insync_replicas;
  int64_t replica_lag_time_max_ms = 30000;
  int64_t now_ms = 0;
  // Where this broker fetches from a leader (its inter-broker listener); nullopt when the
  // leader is unknown or fenced: no fetching until the metadata names a live one.
  std::function<std::optional<runtime::PeerAddress>(int32_t broker)> leader_address;
  // The follower fetcher: `existing` when there is one (null before this broker first
  // follows), `create` makes it on first use.
  std::function<ReplicaFetcherManager*()> existing_fetchers;
  std::function<ReplicaFetcherManager&()> fetchers;
};

}  // namespace kb::replication
