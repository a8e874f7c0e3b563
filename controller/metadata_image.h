// The cluster metadata as of one offset of the metadata log: brokers, topics, partitions,
// configs, finalized features, the producer-id high mark, SCRAM credentials and ACLs. Every
// broker answers Metadata from its image and creates or deletes partition logs by comparing
// two images.
//
// Owner: the Controller builds each image and publishes it as shared_ptr<const>; once
// published it is immutable, so any thread may read it without locking. The next image is a
// copy with more records applied; topics are shared between the two (copy-on-write through
// shared_ptr<const TopicInfo>), so a copy costs one pointer per topic.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/client_quotas.h"
#include "controller/metadata_records.h"
#include "protocol/types.h"
#include "security/acl.h"
#include "security/scram.h"

namespace kb::controller {

struct Endpoint {
  std::string listener;
  std::string host;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// Log directory ids with a meaning of their own (Kafka's DirectoryId, KIP-858): a real
// directory id (meta.properties' directory.id) is never one of the first 100.
inline constexpr Uuid kDirUnassigned{};  // not placed yet, or placed where the controller was not told
inline constexpr Uuid kDirLost{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};  // some offline dir
// Placed before directories were tracked (records written without them): somewhere online.
inline constexpr Uuid kDirMigrating{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

struct BrokerInfo {
  int32_t id = -1;
  std::vector<Endpoint> endpoints;  // in registration order; the first is the default listener
  std::optional<std::string> rack;
  bool fenced = false;  // a fenced broker leads nothing and is left out of Metadata answers
  bool in_controlled_shutdown = false;
  int64_t epoch = 0;  // broker epoch: the metadata offset of its RegisterBrokerRecord
  Uuid incarnation_id;
  // The log dirs the broker registered that are still online (RegisterBrokerRecord v3,
  // BrokerRegistrationChangeRecord v2). Empty: the broker reported none (an older record).
  // {kDirLost}: it reported some and every one has gone offline.
  std::vector<Uuid> log_dirs;
  // Whether a replica the image places in `dir` on this broker may lead or be in sync
  // (Kafka's BrokerRegistration.hasOnlineDir): a registered online dir, or an unassigned or
  // migrating one while any dir is online.
  bool has_online_dir(const Uuid& dir) const;
  // The endpoint of `listener` (clients are answered with the addresses of the listener they
  // came in on, as Kafka does), else the first one; null when there is none.
  const Endpoint* endpoint_for(std::string_view listener) const {
    for (const auto& e : endpoints)
      if (e.listener == listener) return &e;
    return endpoints.empty() ? nullptr : &endpoints.front();
  }
};

struct PartitionInfo {
  int32_t partition = 0;
  std::vector<int32_t> replicas, isr;
  std::vector<int32_t> removing_replicas, adding_replicas;  // reassignment in progress
  int32_t leader = -1;  // -1: no leader (LEADER_NOT_AVAILABLE)
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
  // The log dir of each replica, in the order of `replicas` (PartitionRecord v1+). Records
  // without them (written before directories were tracked) load as kDirMigrating.
  std::vector<Uuid> directories;
  // The log dir of `broker`'s replica; kDirUnassigned when it is not a replica.
  Uuid directory(int32_t broker) const;
};

struct TopicInfo {
  std::string name;
  Uuid id;
  std::vector<PartitionInfo> partitions;       // index = partition id
  std::map<std::string, std::string> configs;  // explicit overrides, not the defaults
  bool internal = false;                       // __consumer_offsets, __transaction_state
};

// Kafka's ConfigResource.Type numbers, as ConfigRecord carries them.
enum class ConfigResourceType : int8_t { kTopic = 2, kBroker = 4 };

class MetadataImage {
 public:
  int64_t offset() const { return offset_; }  // last applied metadata log offset, -1 if none
  const std::string& cluster_id() const { return cluster_id_; }
  int32_t controller_id() const { return controller_id_; }

  const TopicInfo* topic(std::string_view name) const;
  const TopicInfo* topic(const Uuid& id) const;
  std::vector<const TopicInfo*> topics() const;  // sorted by name
  size_t topic_count() const { return topics_.size(); }
  const PartitionInfo* partition(std::string_view topic, int32_t partition) const;

  const BrokerInfo* broker(int32_t id) const;
  std::vector<const BrokerInfo*> brokers() const;  // sorted by id
  // The log dir a new replica on `broker` starts in (Kafka's ClusterControlManager.defaultDir):
  // the broker's only dir when it registered exactly one, else kDirUnassigned until the broker
  // tells where it put the replica (AssignReplicasToDirs).
  Uuid default_dir(int32_t broker) const;

  // Broker-level dynamic configs: resource "" is the cluster-wide default, "1" broker 1.
  const std::map<std::string, std::string>* broker_configs(std::string_view resource) const;
  // Finalized feature levels (FeatureLevelRecord), e.g. "metadata.version".
  const std::map<std::string, int16_t, std::less<>>& features() const { return features_; }
  // The first producer id not yet handed out in a block (ProducerIdsRecord), 0 at first.
  int64_t next_producer_id() const { return next_producer_id_; }
  // Client quotas by entity (ClientQuotaRecord); an entity without values is not kept.
  const ClientQuotaMap& client_quotas() const { return client_quotas_; }

  // SCRAM credentials (UserScramCredentialRecord): the one of `user` for `mechanism`, if any.
  // SASL/SCRAM logins and the Schema Registry's Basic auth check passwords against these.
  std::optional<security::ScramCredential> scram_credential(security::ScramMechanism mechanism,
                                                            const std::string& user) const;
  using ScramCredentials = std::map<std::string, std::map<security::ScramMechanism, security::ScramCredential>,
                                    std::less<>>;
  // Every user's credentials, by user name then mechanism.
  const ScramCredentials& scram_credentials() const { return scram_; }
  // The ACLs (AccessControlEntryRecord) by their id, and as the list an Authorizer takes.
  const std::map<Uuid, security::AclBinding>& acls_by_id() const { return acls_; }
  std::vector<security::AclBinding> acls() const;

  // Applies one record in metadata log order. A record that contradicts the image (a
  // partition of an unknown topic, a second topic of the same name, fencing an unknown
  // broker or a stale epoch) is an error naming it; the image is then partly updated, so
  // callers apply a batch to a copy and publish the copy only when every record applied.
  Status apply(const MetadataRecord& record);
  // The records that build this image when applied, in order, to an empty one (a metadata
  // snapshot, as KRaft writes it): features, brokers, configs, topics with their partitions,
  // the producer-id mark. The offset and cluster fields are not records.
  std::vector<MetadataRecord> to_records() const;
  void set_offset(int64_t offset) { offset_ = offset; }
  void set_cluster(std::string cluster_id, int32_t controller_id) {
    cluster_id_ = std::move(cluster_id);
    controller_id_ = controller_id;
  }

 private:
  Status apply_one(const metadata::RegisterBrokerRecord& r);
  Status apply_one(const metadata::UnregisterBrokerRecord& r);
  Status apply_one(const metadata::TopicRecord& r);
  Status apply_one(const metadata::PartitionRecord& r);
  Status apply_one(const metadata::ConfigRecord& r);
  Status apply_one(const metadata::PartitionChangeRecord& r);
  Status apply_one(const metadata::FenceBrokerRecord& r);
  Status apply_one(const metadata::UnfenceBrokerRecord& r);
  Status apply_one(const metadata::RemoveTopicRecord& r);
  Status apply_one(const metadata::FeatureLevelRecord& r);
  Status apply_one(const metadata::ProducerIdsRecord& r);
  Status apply_one(const metadata::BrokerRegistrationChangeRecord& r);
  Status apply_one(const metadata::NoOpRecord& r);
  Status apply_one(const metadata::ClientQuotaRecord& r);
  Status apply_one(const metadata::UserScramCredentialRecord& r);
  Status apply_one(const metadata::RemoveUserScramCredentialRecord& r);
  Status apply_one(const metadata::AccessControlEntryRecord& r);
  Status apply_one(const metadata::RemoveAccessControlEntryRecord& r);
  // to_records' part for the SCRAM credentials and ACLs (metadata_image_security.cc).
  void security_records(std::vector<MetadataRecord>& out) const;
  // A private copy of the topic, replacing the shared one (copy-on-write).
  TopicInfo* mutable_topic(const std::string& name);
  BrokerInfo* broker_with_epoch(int32_t id, int64_t epoch, std::string_view what, Status& error);

  int64_t offset_ = -1;
  std::string cluster_id_;
  int32_t controller_id_ = -1;
  std::map<std::string, std::shared_ptr<const TopicInfo>, std::less<>> topics_;
  std::map<Uuid, std::string> names_by_id_;
  // Topic overrides by topic name, kept apart from TopicInfo like Kafka's ConfigurationsImage
  // so a ConfigRecord may precede its TopicRecord; TopicInfo::configs mirrors them.
  std::map<std::string, std::map<std::string, std::string>, std::less<>> topic_configs_;
  std::map<std::string, std::map<std::string, std::string>, std::less<>> broker_configs_;
  std::map<int32_t, BrokerInfo> brokers_;
  std::map<std::string, int16_t, std::less<>> features_;
  int64_t next_producer_id_ = 0;
  ClientQuotaMap client_quotas_;
  ScramCredentials scram_;
  std::map<Uuid, security::AclBinding> acls_;
};

// The records that store one ACL and one SCRAM credential.
metadata::AccessControlEntryRecord acl_record(const Uuid& id, const security::AclBinding& binding);
metadata::UserScramCredentialRecord scram_record(const std::string& user, security::ScramMechanism mechanism,
                                                 const security::ScramCredential& credential);

}  // namespace kb::controller
