#include "controller/metadata_delta.h"

#include <algorithm>

namespace kb::controller {

namespace {

bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

bool same_partition(const PartitionInfo& a, const PartitionInfo& b) {
  return a.leader == b.leader && a.leader_epoch == b.leader_epoch && a.partition_epoch == b.partition_epoch &&
         a.replicas == b.replicas && a.isr == b.isr && a.adding_replicas == b.adding_replicas &&
         a.removing_replicas == b.removing_replicas;
}

bool same_broker(const BrokerInfo& a, const BrokerInfo& b) {
  return a.epoch == b.epoch && a.fenced == b.fenced && a.in_controlled_shutdown == b.in_controlled_shutdown &&
         a.endpoints == b.endpoints && a.rack == b.rack;
}

replication::LocalReplica local_replica(const TopicInfo& t, const PartitionInfo& p) {
  return {TopicPartition{t.name, p.partition}, t.id,
          replication::PartitionState{p.leader, p.leader_epoch, p.partition_epoch, p.replicas, p.isr}, t.configs};
}

}  // namespace

MetadataDelta::MetadataDelta(std::shared_ptr<const MetadataImage> before, std::shared_ptr<const MetadataImage> after,
                             const std::vector<MetadataRecord>& records)
    : MetadataDelta(std::move(before), std::move(after)) {
  for (const auto& r : records) record(r);
}

void MetadataDelta::record(const MetadataRecord& rec) {
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, metadata::TopicRecord>) {
          created_.insert(r.topic_id);
        } else if constexpr (std::is_same_v<T, metadata::RemoveTopicRecord>) {
          // Created and removed in one batch: never there for the listeners.
          if (!created_.erase(r.topic_id)) deleted_.insert(r.topic_id);
          std::erase_if(partitions_, [&](const auto& p) { return p.first == r.topic_id; });
        } else if constexpr (std::is_same_v<T, metadata::PartitionRecord> ||
                             std::is_same_v<T, metadata::PartitionChangeRecord>) {
          partitions_.emplace(r.topic_id, r.partition_id);
        } else if constexpr (std::is_same_v<T, metadata::ConfigRecord>) {
          if (r.resource_type == static_cast<int8_t>(ConfigResourceType::kTopic)) topic_configs_.insert(r.resource_name);
          else if (r.resource_type == static_cast<int8_t>(ConfigResourceType::kBroker)) broker_configs_ = true;
        } else if constexpr (std::is_same_v<T, metadata::RegisterBrokerRecord> ||
                             std::is_same_v<T, metadata::UnregisterBrokerRecord> ||
                             std::is_same_v<T, metadata::BrokerRegistrationChangeRecord>) {
          brokers_.insert(r.broker_id);
        } else if constexpr (std::is_same_v<T, metadata::FenceBrokerRecord> ||
                             std::is_same_v<T, metadata::UnfenceBrokerRecord>) {
          brokers_.insert(r.id);
        } else if constexpr (std::is_same_v<T, metadata::ClientQuotaRecord>) {
          client_quotas_ = true;
        } else if constexpr (std::is_same_v<T, metadata::UserScramCredentialRecord> ||
                             std::is_same_v<T, metadata::RemoveUserScramCredentialRecord>) {
          scram_ = true;
        } else if constexpr (std::is_same_v<T, metadata::AccessControlEntryRecord> ||
                             std::is_same_v<T, metadata::RemoveAccessControlEntryRecord>) {
          acls_ = true;
        }
      },
      rec);
}

MetadataDelta MetadataDelta::between(std::shared_ptr<const MetadataImage> before,
                                     std::shared_ptr<const MetadataImage> after) {
  MetadataDelta d(std::move(before), std::move(after));
  for (const TopicInfo* t : d.before_->topics())
    if (!d.after_->topic(t->id)) d.deleted_.insert(t->id);
  for (const TopicInfo* t : d.after_->topics()) {
    const TopicInfo* was = d.before_->topic(t->id);
    if (!was) d.created_.insert(t->id);
    if (!was || was->configs != t->configs) d.topic_configs_.insert(t->name);
    for (const PartitionInfo& p : t->partitions) {
      const bool known = was && p.partition < static_cast<int32_t>(was->partitions.size());
      if (!known || !same_partition(was->partitions[static_cast<size_t>(p.partition)], p))
        d.partitions_.emplace(t->id, p.partition);
    }
  }
  for (const BrokerInfo* b : d.after_->brokers()) {
    const BrokerInfo* was = d.before_->broker(b->id);
    if (!was || !same_broker(*was, *b)) d.brokers_.insert(b->id);
  }
  for (const BrokerInfo* b : d.before_->brokers())
    if (!d.after_->broker(b->id)) d.brokers_.insert(b->id);
  std::set<std::string> resources;
  for (const BrokerInfo* b : d.after_->brokers()) resources.insert(std::to_string(b->id));
  for (const BrokerInfo* b : d.before_->brokers()) resources.insert(std::to_string(b->id));
  resources.insert("");
  for (const auto& r : resources) {
    const auto* a = d.before_->broker_configs(r);
    const auto* b = d.after_->broker_configs(r);
    if ((a == nullptr) != (b == nullptr) || (a && *a != *b)) d.broker_configs_ = true;
  }
  d.client_quotas_ = d.before_->client_quotas() != d.after_->client_quotas();
  d.scram_ = d.before_->scram_credentials() != d.after_->scram_credentials();
  d.acls_ = d.before_->acls_by_id() != d.after_->acls_by_id();
  return d;
}

std::vector<const TopicInfo*> MetadataDelta::created_topics() const {
  std::vector<const TopicInfo*> out;
  for (const Uuid& id : created_)
    if (const TopicInfo* t = after_->topic(id)) out.push_back(t);
  return out;
}

std::vector<const TopicInfo*> MetadataDelta::deleted_topics() const {
  std::vector<const TopicInfo*> out;
  for (const Uuid& id : deleted_)
    if (const TopicInfo* t = before_->topic(id)) out.push_back(t);
  return out;
}

replication::LocalChanges MetadataDelta::local_changes(int32_t node_id) const {
  replication::LocalChanges out;
  for (const TopicInfo* t : deleted_topics())
    for (const PartitionInfo& p : t->partitions) out.deletes.push_back(TopicPartition{t->name, p.partition});
  std::set<std::pair<Uuid, int32_t>> followed;
  for (const auto& [id, partition] : partitions_) {
    const TopicInfo* t = after_->topic(id);
    if (!t || partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) continue;
    const PartitionInfo& p = t->partitions[static_cast<size_t>(partition)];
    const TopicInfo* was = before_->topic(id);
    const PartitionInfo* old =
        was && partition < static_cast<int32_t>(was->partitions.size()) ? &was->partitions[static_cast<size_t>(partition)]
                                                                         : nullptr;
    if (!contains(p.replicas, node_id)) {
      if (old && contains(old->replicas, node_id)) out.moved_off.push_back(local_replica(*t, p));
    } else if (p.leader == node_id) {
      out.leaders.push_back(local_replica(*t, p));
    } else {
      out.followers.push_back(local_replica(*t, p));
      followed.emplace(id, partition);
    }
  }
  if (!brokers_.empty()) {
    // A leader's address or fencing changes without a new leader epoch: its followers here
    // fetch from where the metadata says now.
    for (const TopicInfo* t : after_->topics())
      for (const PartitionInfo& p : t->partitions)
        if (p.leader != node_id && brokers_.count(p.leader) && contains(p.replicas, node_id) &&
            !followed.count({t->id, p.partition}))
          out.followers.push_back(local_replica(*t, p));
  }
  auto reconfigure = [&](const TopicInfo* t) {
    if (t && !created_.count(t->id)) out.reconfigured.emplace_back(t->name, t->configs);  // new: set at creation
  };
  if (broker_configs_) {
    // The broker-wide defaults every topic falls back to.
    for (const TopicInfo* t : after_->topics()) reconfigure(t);
  } else {
    for (const std::string& name : topic_configs_) reconfigure(after_->topic(name));
  }
  return out;
}

}  // namespace kb::controller
