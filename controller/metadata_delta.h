// What one applied metadata batch changed (Kafka's MetadataDelta): topics created and
// deleted, partitions whose leader, ISR or replicas changed (or that are new), topic and
// broker configs, brokers registered, fenced or changed. Built from the batch's records, so a
// listener's work follows the size of the change, not of the cluster; a snapshot load (or a
// listener's first call) compares the two images instead.
//
// local_changes(node) is what the change means for one broker's replicas (Kafka's
// TopicsDelta.localChanges): partitions to lead, to follow, to delete, to reconfigure;
// ReplicaManager::apply_delta carries them out.
//
// Owner: the Controller builds one per published image and hands it to its listeners, which
// must not keep it (its images outlive the call only through shared_ptrs they copy).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/metadata_image.h"
#include "replication/replica_delta.h"

namespace kb::controller {

class MetadataDelta {
 public:
  // The delta of `records` applied in order to `before`, giving `after`.
  MetadataDelta(std::shared_ptr<const MetadataImage> before, std::shared_ptr<const MetadataImage> after,
                const std::vector<MetadataRecord>& records);
  // Everything that differs between two unrelated images (a snapshot replaced the image; a
  // listener's first call, from an empty image).
  static MetadataDelta between(std::shared_ptr<const MetadataImage> before, std::shared_ptr<const MetadataImage> after);

  const MetadataImage& before() const { return *before_; }
  const MetadataImage& after() const { return *after_; }
  const std::shared_ptr<const MetadataImage>& after_ptr() const { return after_; }

  // Topics that exist now and did not before (by id), in `after`.
  std::vector<const TopicInfo*> created_topics() const;
  // Topics that existed before and do not now (deleted, or re-created under a new id), in
  // `before`.
  std::vector<const TopicInfo*> deleted_topics() const;
  // Partitions of topics that exist now, new or changed: (topic id, partition).
  const std::set<std::pair<Uuid, int32_t>>& changed_partitions() const { return partitions_; }
  // Topics whose overrides changed (by name; also those created with overrides).
  const std::set<std::string>& topic_config_changes() const { return topic_configs_; }
  // Whether any BROKER-resource config (the cluster default or a broker's) changed.
  bool broker_configs_changed() const { return broker_configs_; }
  // Brokers registered, unregistered, fenced, unfenced or in controlled shutdown.
  const std::set<int32_t>& changed_brokers() const { return brokers_; }
  // Whether any client quota was set or removed.
  bool client_quotas_changed() const { return client_quotas_; }
  // Whether any SCRAM credential, or any ACL, was added, changed or removed.
  bool scram_changed() const { return scram_; }
  bool acls_changed() const { return acls_; }

  // For broker `node_id`: partitions to lead and to follow whose state changed (and followed
  // partitions whose leader's broker changed: its address or fencing), replicas to delete
  // (topic deleted, or moved off this broker), topics whose log settings may have changed.
  replication::LocalChanges local_changes(int32_t node_id) const;

 private:
  MetadataDelta(std::shared_ptr<const MetadataImage> before, std::shared_ptr<const MetadataImage> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  void record(const MetadataRecord& r);

  std::shared_ptr<const MetadataImage> before_, after_;
  std::set<Uuid> created_, deleted_;
  std::set<std::pair<Uuid, int32_t>> partitions_;
  std::set<std::string> topic_configs_;
  bool broker_configs_ = false;
  std::set<int32_t> brokers_;
  bool client_quotas_ = false;
  bool scram_ = false;
  bool acls_ = false;
};

}  // namespace kb::controller
