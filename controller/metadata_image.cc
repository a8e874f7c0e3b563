#include "controller/metadata_image.h"

#include "controller/records/config_record.h"
#include "controller/records/partition_record.h"
#include "controller/records/register_broker_record.h"
#include "controller/records/remove_topic_record.h"
#include "controller/records/topic_record.h"

namespace kb::controller {

namespace {
constexpr int8_t kTopicResource = 2;  // ConfigResource.Type.TOPIC
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
  for (const auto& [n, t] : topics_) v.push_back(t.get());
  return v;
}
const BrokerInfo* MetadataImage::broker(int32_t id) const {
  auto it = brokers_.find(id);
  return it == brokers_.end() ? nullptr : &it->second;
}
std::vector<const BrokerInfo*> MetadataImage::brokers() const {
  std::vector<const BrokerInfo*> v;
  for (const auto& [id, b] : brokers_) v.push_back(&b);
  return v;
}

void MetadataImage::apply(const metadata::TopicRecord& r) {
  auto t = std::make_shared<TopicInfo>();
  t->name = r.name;
  t->id = r.topic_id;
  t->internal = !r.name.empty() && r.name[0] == '_' && (r.name == "__consumer_offsets" || r.name == "__transaction_state");
  topics_[r.name] = t;
  names_by_id_[r.topic_id] = r.name;
}

void MetadataImage::apply(const metadata::PartitionRecord& r) {
  auto name = names_by_id_.find(r.topic_id);
  if (name == names_by_id_.end()) return;
  auto t = std::make_shared<TopicInfo>(*topics_[name->second]);  // copy-on-write
  PartitionInfo p;
  p.partition = r.partition_id;
  p.replicas = r.replicas;
  p.isr = r.isr;
  p.leader = r.leader;
  p.leader_epoch = r.leader_epoch;
  p.partition_epoch = r.partition_epoch;
  if (p.partition >= static_cast<int32_t>(t->partitions.size())) t->partitions.resize(p.partition + 1);
  t->partitions[p.partition] = std::move(p);
  topics_[name->second] = std::move(t);
}

void MetadataImage::apply(const metadata::RemoveTopicRecord& r) {
  auto name = names_by_id_.find(r.topic_id);
  if (name == names_by_id_.end()) return;
  topics_.erase(name->second);
  names_by_id_.erase(name);
}

void MetadataImage::apply(const metadata::RegisterBrokerRecord& r) {
  BrokerInfo b;
  b.id = r.broker_id;
  b.epoch = r.broker_epoch;
  b.incarnation_id = r.incarnation_id;
  b.rack = r.rack;
  b.fenced = r.fenced;
  for (const auto& e : r.end_points) b.endpoints.push_back({e.name, e.host, e.port});
  brokers_[b.id] = std::move(b);
}

void MetadataImage::apply(const metadata::ConfigRecord& r) {
  if (r.resource_type != kTopicResource) return;
  auto it = topics_.find(r.resource_name);
  if (it == topics_.end()) return;
  auto t = std::make_shared<TopicInfo>(*it->second);
  if (r.value) t->configs[r.name] = *r.value;
  else t->configs.erase(r.name);
  it->second = std::move(t);
}

}  // namespace kb::controller
