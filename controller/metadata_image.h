// The cluster metadata as of one offset of the metadata log: brokers, topics, partitions and
// topic configs. Immutable once published; the controller builds the next image by copying
// and applying records (MetadataImage::apply). Every broker answers Metadata from its image.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.h"

namespace kb::metadata {
struct TopicRecord;
struct PartitionRecord;
struct RemoveTopicRecord;
struct RegisterBrokerRecord;
struct ConfigRecord;
}  // namespace kb::metadata

namespace kb::controller {

struct Endpoint {
  std::string listener;
  std::string host;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};
struct BrokerInfo {
  int32_t id = -1;
  std::vector<Endpoint> endpoints;
  std::optional<std::string> rack;
  bool fenced = false;
  int64_t epoch = 0;
  Uuid incarnation_id;
};
struct PartitionInfo {
  int32_t partition = 0;
  std::vector<int32_t> replicas, isr;
  int32_t leader = -1;
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
};
struct TopicInfo {
  std::string name;
  Uuid id;
  std::vector<PartitionInfo> partitions;
  std::map<std::string, std::string> configs;  // explicit overrides
  bool internal = false;
};

class MetadataImage {
 public:
  int64_t offset() const { return offset_; }
  const std::string& cluster_id() const { return cluster_id_; }
  int32_t controller_id() const { return controller_id_; }
  const TopicInfo* topic(std::string_view name) const;
  const TopicInfo* topic(const Uuid& id) const;
  std::vector<const TopicInfo*> topics() const;  // sorted by name
  const BrokerInfo* broker(int32_t id) const;
  std::vector<const BrokerInfo*> brokers() const;

  // Applying records (in metadata log order) to a copy yields the next image.
  void apply(const metadata::TopicRecord& r);
  void apply(const metadata::PartitionRecord& r);
  void apply(const metadata::RemoveTopicRecord& r);
  void apply(const metadata::RegisterBrokerRecord& r);
  void apply(const metadata::ConfigRecord& r);
  void set_offset(int64_t o) { offset_ = o; }
  void set_cluster(std::string cluster_id, int32_t controller_id) {
    cluster_id_ = std::move(cluster_id);
    controller_id_ = controller_id;
  }

 private:
  int64_t offset_ = -1;
  std::string cluster_id_;
  int32_t controller_id_ = -1;
  std::map<std::string, std::shared_ptr<const TopicInfo>, std::less<>> topics_;
  std::map<Uuid, std::string> names_by_id_;
  std::map<int32_t, BrokerInfo> brokers_;
};

}  // namespace kb::controller
