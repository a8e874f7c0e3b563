#include "controller/metadata_image.h"

#include <algorithm>
#include <string>

namespace kb::controller {

namespace {

// PartitionChangeRecord.leader: the leader did not change.
constexpr int32_t kNoLeaderChange = -2;

Status inconsistent(std::string what) { return Status(ErrorCode::UNKNOWN_SERVER_ERROR, std::move(what)); }

std::string id_text(const Uuid& id) { return id.to_string(); }

// The directories after `replicas` replaced `before` (Kafka's
// DirectoryId.createDirectoriesFrom): a replica that stays keeps its dir, a new one has none.
std::vector<Uuid> carried_directories(const PartitionInfo& before, const std::vector<int32_t>& replicas) {
  std::vector<Uuid> out;
  out.reserve(replicas.size());
  for (int32_t b : replicas) out.push_back(before.directory(b));
  return out;
}

}  // namespace

bool BrokerInfo::has_online_dir(const Uuid& dir) const {
  if (log_dirs.empty()) return true;  // the broker never reported its dirs
  const bool any_online = !(log_dirs.size() == 1 && log_dirs.front() == kDirLost);
  if (dir == kDirUnassigned || dir == kDirMigrating) return any_online;
  return dir != kDirLost && std::find(log_dirs.begin(), log_dirs.end(), dir) != log_dirs.end();
}

Uuid MetadataImage::default_dir(int32_t broker) const {
  const BrokerInfo* b = this->broker(broker);
  if (!b || b->log_dirs.size() != 1 || b->log_dirs.front() == kDirLost) return kDirUnassigned;
  return b->log_dirs.front();
}

Uuid PartitionInfo::directory(int32_t broker) const {
  for (size_t i = 0; i < replicas.size() && i < directories.size(); ++i)
    if (replicas[i] == broker) return directories[i];
  return kDirUnassigned;
}

const TopicInfo* MetadataImage::topic(std::string_view name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

const TopicInfo* MetadataImage::topic(const Uuid& id) const {
  auto it = names_by_id_.find(id);
  return it == names_by_id_.end() ? nullptr : topic(it->second);
}

std::vector<const TopicInfo*> MetadataImage::topics() const {
  std::vector<const TopicInfo*> v;
  v.reserve(topics_.size());
  for (const auto& [name, t] : topics_) v.push_back(t.get());
  return v;
}

const PartitionInfo* MetadataImage::partition(std::string_view name, int32_t partition) const {
  const TopicInfo* t = topic(name);
  if (!t || partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) return nullptr;
  return &t->partitions[static_cast<size_t>(partition)];
}

const BrokerInfo* MetadataImage::broker(int32_t id) const {
  auto it = brokers_.find(id);
  return it == brokers_.end() ? nullptr : &it->second;
}

std::vector<const BrokerInfo*> MetadataImage::brokers() const {
  std::vector<const BrokerInfo*> v;
  v.reserve(brokers_.size());
  for (const auto& [id, b] : brokers_) v.push_back(&b);
  return v;
}

const std::map<std::string, std::string>* MetadataImage::broker_configs(std::string_view resource) const {
  auto it = broker_configs_.find(resource);
  return it == broker_configs_.end() ? nullptr : &it->second;
}

Status MetadataImage::apply(const MetadataRecord& record) {
  return std::visit([this](const auto& r) { return apply_one(r); }, record);
}

TopicInfo* MetadataImage::mutable_topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) return nullptr;
  // Only this image holds it (created or already copied since the last publish): change it
  // in place, so the PartitionRecords of a 10,000-partition topic cost no copies. An image
  // being built is seen by no other thread, so the count cannot grow meanwhile.
  if (it->second.use_count() == 1) return const_cast<TopicInfo*>(it->second.get());
  auto copy = std::make_shared<TopicInfo>(*it->second);
  TopicInfo* raw = copy.get();
  it->second = std::move(copy);
  return raw;
}

BrokerInfo* MetadataImage::broker_with_epoch(int32_t id, int64_t epoch, std::string_view what, Status& error) {
  auto it = brokers_.find(id);
  if (it == brokers_.end()) {
    error = inconsistent(std::string(what) + " for broker " + std::to_string(id) + ", which is not registered");
    return nullptr;
  }
  if (it->second.epoch != epoch) {
    error = inconsistent(std::string(what) + " for broker " + std::to_string(id) + " with epoch " +
                         std::to_string(epoch) + ", but its epoch is " + std::to_string(it->second.epoch));
    return nullptr;
  }
  return &it->second;
}

Status MetadataImage::apply_one(const metadata::RegisterBrokerRecord& r) {
  // A new registration (a restart, new endpoints) replaces the old one whole.
  BrokerInfo b;
  b.id = r.broker_id;
  b.epoch = r.broker_epoch;
  b.incarnation_id = r.incarnation_id;
  b.rack = r.rack;
  b.fenced = r.fenced;
  b.in_controlled_shutdown = r.in_controlled_shutdown;
  b.log_dirs = r.log_dirs;
  for (const auto& e : r.end_points) b.endpoints.push_back({e.name, e.host, e.port});
  brokers_[b.id] = std::move(b);
  return {};
}

Status MetadataImage::apply_one(const metadata::UnregisterBrokerRecord& r) {
  Status error;
  if (!broker_with_epoch(r.broker_id, r.broker_epoch, "UnregisterBrokerRecord", error)) return error;
  brokers_.erase(r.broker_id);
  return {};
}

Status MetadataImage::apply_one(const metadata::FenceBrokerRecord& r) {
  Status error;
  BrokerInfo* b = broker_with_epoch(r.id, r.epoch, "FenceBrokerRecord", error);
  if (!b) return error;
  // The ISR changes that go with a fencing are PartitionChangeRecords of their own.
  b->fenced = true;
  return {};
}

Status MetadataImage::apply_one(const metadata::UnfenceBrokerRecord& r) {
  Status error;
  BrokerInfo* b = broker_with_epoch(r.id, r.epoch, "UnfenceBrokerRecord", error);
  if (!b) return error;
  b->fenced = false;
  return {};
}

Status MetadataImage::apply_one(const metadata::BrokerRegistrationChangeRecord& r) {
  Status error;
  BrokerInfo* b = broker_with_epoch(r.broker_id, r.broker_epoch, "BrokerRegistrationChangeRecord", error);
  if (!b) return error;
  // fenced: -1 unfenced, 0 no change, 1 fenced. in_controlled_shutdown: 0 no change, 1 entered.
  if (r.fenced < -1 || r.fenced > 1 || r.in_controlled_shutdown < 0 || r.in_controlled_shutdown > 1)
    return inconsistent("BrokerRegistrationChangeRecord for broker " + std::to_string(r.broker_id) +
                        " with fenced=" + std::to_string(r.fenced) +
                        " in_controlled_shutdown=" + std::to_string(r.in_controlled_shutdown));
  if (r.fenced == 1) b->fenced = true;
  if (r.fenced == -1) b->fenced = false;
  if (r.in_controlled_shutdown == 1) b->in_controlled_shutdown = true;
  // As in Kafka, an empty list leaves the dirs as they were (the field's default).
  if (!r.log_dirs.empty()) b->log_dirs = r.log_dirs;
  return {};
}

Status MetadataImage::apply_one(const metadata::TopicRecord& r) {
  if (auto it = topics_.find(r.name); it != topics_.end())
    return inconsistent("duplicate TopicRecord for " + r.name + " with topic ID " + id_text(r.topic_id) +
                        " (it has ID " + id_text(it->second->id) + ")");
  if (auto it = names_by_id_.find(r.topic_id); it != names_by_id_.end())
    return inconsistent("TopicRecord for " + r.name + " reuses the topic ID " + id_text(r.topic_id) + " of " +
                        it->second);
  auto t = std::make_shared<TopicInfo>();
  t->name = r.name;
  t->id = r.topic_id;
  t->internal = is_internal_topic(r.name);
  if (auto c = topic_configs_.find(r.name); c != topic_configs_.end()) t->configs = c->second;
  topics_.emplace(r.name, std::move(t));
  names_by_id_[r.topic_id] = r.name;
  return {};
}

Status MetadataImage::apply_one(const metadata::PartitionRecord& r) {
  auto name = names_by_id_.find(r.topic_id);
  if (name == names_by_id_.end())
    return inconsistent("PartitionRecord " + std::to_string(r.partition_id) + " for unknown topic ID " +
                        id_text(r.topic_id));
  TopicInfo* t = mutable_topic(name->second);
  // Partitions are created in order (CreateTopics, CreatePartitions): an id past the end would
  // leave a hole that Metadata could not describe.
  if (r.partition_id < 0 || r.partition_id > static_cast<int32_t>(t->partitions.size()))
    return inconsistent("PartitionRecord " + std::to_string(r.partition_id) + " for " + t->name + ", which has " +
                        std::to_string(t->partitions.size()) + " partitions");
  PartitionInfo p;
  p.partition = r.partition_id;
  p.replicas = r.replicas;
  p.isr = r.isr;
  p.removing_replicas = r.removing_replicas;
  p.adding_replicas = r.adding_replicas;
  p.leader = r.leader;
  p.leader_epoch = r.leader_epoch;
  p.partition_epoch = r.partition_epoch;
  // PartitionRecord v0 has no directories: placed before they were tracked (Kafka's MIGRATING).
  if (r.directories.size() == r.replicas.size()) p.directories = r.directories;
  else p.directories.assign(r.replicas.size(), kDirMigrating);
  if (r.partition_id == static_cast<int32_t>(t->partitions.size())) t->partitions.push_back(std::move(p));
  else t->partitions[static_cast<size_t>(r.partition_id)] = std::move(p);
  return {};
}

Status MetadataImage::apply_one(const metadata::PartitionChangeRecord& r) {
  auto name = names_by_id_.find(r.topic_id);
  if (name == names_by_id_.end())
    return inconsistent("PartitionChangeRecord " + std::to_string(r.partition_id) + " for unknown topic ID " +
                        id_text(r.topic_id));
  TopicInfo* t = mutable_topic(name->second);
  if (r.partition_id < 0 || r.partition_id >= static_cast<int32_t>(t->partitions.size()))
    return inconsistent("PartitionChangeRecord for unknown partition " + t->name + "-" +
                        std::to_string(r.partition_id));
  // Kafka's PartitionRegistration.merge: null fields did not change; a leader change bumps
  // the leader epoch; every change bumps the partition epoch.
  PartitionInfo& p = t->partitions[static_cast<size_t>(r.partition_id)];
  if (r.directories && r.directories->size() == (r.replicas ? r.replicas->size() : p.replicas.size()))
    p.directories = *r.directories;
  else if (r.replicas)
    p.directories = carried_directories(p, *r.replicas);
  if (r.replicas) p.replicas = *r.replicas;
  if (r.isr) p.isr = *r.isr;
  if (r.removing_replicas) p.removing_replicas = *r.removing_replicas;
  if (r.adding_replicas) p.adding_replicas = *r.adding_replicas;
  if (r.leader != kNoLeaderChange) {
    p.leader = r.leader;
    ++p.leader_epoch;
  }
  ++p.partition_epoch;
  return {};
}

Status MetadataImage::apply_one(const metadata::RemoveTopicRecord& r) {
  auto name = names_by_id_.find(r.topic_id);
  if (name == names_by_id_.end())
    return inconsistent("RemoveTopicRecord for unknown topic ID " + id_text(r.topic_id));
  // The topic's configs go with it: a new topic of the same name starts from the defaults.
  topic_configs_.erase(name->second);
  topics_.erase(name->second);
  names_by_id_.erase(name);
  return {};
}

Status MetadataImage::apply_one(const metadata::ConfigRecord& r) {
  auto set = [&](std::map<std::string, std::string>& m) {
    if (r.value) m[r.name] = *r.value;
    else m.erase(r.name);
  };
  switch (static_cast<ConfigResourceType>(r.resource_type)) {
    case ConfigResourceType::kTopic: {
      auto& configs = topic_configs_[r.resource_name];
      set(configs);
      if (TopicInfo* t = mutable_topic(r.resource_name)) t->configs = configs;
      if (configs.empty()) topic_configs_.erase(r.resource_name);
      return {};
    }
    case ConfigResourceType::kBroker: {
      auto& configs = broker_configs_[r.resource_name];
      set(configs);
      if (configs.empty()) broker_configs_.erase(r.resource_name);
      return {};
    }
  }
  // Other resources (client metrics, groups) have no state in kbroker yet; Kafka's image
  // keeps them, and skipping them here loses nothing that is read.
  return {};
}

Status MetadataImage::apply_one(const metadata::FeatureLevelRecord& r) {
  // Level 0 removes the feature (Kafka: "0 means feature not supported").
  if (r.feature_level == 0) features_.erase(r.name);
  else features_[r.name] = r.feature_level;
  return {};
}

Status MetadataImage::apply_one(const metadata::ProducerIdsRecord& r) {
  if (r.next_producer_id <= next_producer_id_)
    return inconsistent("ProducerIdsRecord with next producer ID " + std::to_string(r.next_producer_id) +
                        ", not above the current " + std::to_string(next_producer_id_));
  next_producer_id_ = r.next_producer_id;
  return {};
}

Status MetadataImage::apply_one(const metadata::NoOpRecord&) { return {}; }

Status MetadataImage::apply_one(const metadata::ClientQuotaRecord& r) {
  // Kept as written: the controller validated the entity, and a type a newer Kafka knows is
  // carried along (and ignored by the quota manager) rather than refused.
  ClientQuotaEntity entity;
  for (const auto& e : r.entity) entity.push_back({e.entity_type, e.entity_name});
  std::sort(entity.begin(), entity.end());
  if (r.remove) {
    auto it = client_quotas_.find(entity);
    if (it == client_quotas_.end()) return {};
    it->second.erase(r.key);
    if (it->second.empty()) client_quotas_.erase(it);
  } else {
    client_quotas_[entity][r.key] = r.value;
  }
  return {};
}

std::vector<MetadataRecord> MetadataImage::to_records() const {
  std::vector<MetadataRecord> out;
  for (const auto& [name, level] : features_) {
    metadata::FeatureLevelRecord r;
    r.name = name;
    r.feature_level = level;
    out.emplace_back(std::move(r));
  }
  for (const auto& [id, b] : brokers_) {
    metadata::RegisterBrokerRecord r;
    r.broker_id = id;
    r.incarnation_id = b.incarnation_id;
    r.broker_epoch = b.epoch;
    for (const auto& e : b.endpoints) {
      auto& ep = r.end_points.emplace_back();
      ep.name = e.listener;
      ep.host = e.host;
      ep.port = e.port;
    }
    r.rack = b.rack;
    r.fenced = b.fenced;
    r.in_controlled_shutdown = b.in_controlled_shutdown;
    r.log_dirs = b.log_dirs;
    out.emplace_back(std::move(r));
  }
  auto configs = [&out](ConfigResourceType type, const auto& by_resource) {
    for (const auto& [resource, values] : by_resource)
      for (const auto& [key, value] : values) {
        metadata::ConfigRecord r;
        r.resource_type = static_cast<int8_t>(type);
        r.resource_name = resource;
        r.name = key;
        r.value = value;
        out.emplace_back(std::move(r));
      }
  };
  configs(ConfigResourceType::kBroker, broker_configs_);
  configs(ConfigResourceType::kTopic, topic_configs_);
  for (const auto& [entity, values] : client_quotas_)
    for (const auto& [key, value] : values) {
      metadata::ClientQuotaRecord r;
      for (const auto& p : entity) {
        auto& e = r.entity.emplace_back();
        e.entity_type = p.type;
        e.entity_name = p.name;
      }
      r.key = key;
      r.value = value;
      out.emplace_back(std::move(r));
    }
  for (const auto& [name, t] : topics_) {
    metadata::TopicRecord tr;
    tr.name = name;
    tr.topic_id = t->id;
    out.emplace_back(std::move(tr));
    for (const auto& p : t->partitions) {
      metadata::PartitionRecord r;
      r.partition_id = p.partition;
      r.topic_id = t->id;
      r.replicas = p.replicas;
      r.isr = p.isr;
      r.removing_replicas = p.removing_replicas;
      r.adding_replicas = p.adding_replicas;
      r.leader = p.leader;
      r.leader_epoch = p.leader_epoch;
      r.partition_epoch = p.partition_epoch;
      r.directories = p.directories;
      out.emplace_back(std::move(r));
    }
  }
  if (next_producer_id_ > 0) {
    metadata::ProducerIdsRecord r;
    r.broker_id = -1;  // who took the last block is not kept; the mark is what matters
    r.next_producer_id = next_producer_id_;
    out.emplace_back(std::move(r));
  }
  security_records(out);
  return out;
}

}  // namespace kb::controller
