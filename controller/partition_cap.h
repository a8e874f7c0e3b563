// max.partitions.per.broker (kbroker; Kafka has no such limit, Redpanda has
// topic_partitions_per_shard): how many partition replicas one broker may host. CreateTopics
// and CreatePartitions that would put more on any broker answer INVALID_PARTITIONS with a
// message naming the broker, its count and its limit (Redpanda's code for its own limit).
// A broker's limit is its dynamic per-broker value, else the cluster-wide default, else the
// controller's static configuration (Kafka's order, as for unclean.leader.election.enable);
// 0 is no limit. Replicas a reassignment is adding count too.
//
// One per request, on the controller's writer (under its lock): it starts from the image's
// counts and takes in each accepted topic, so a request's own topics count against each other.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/metadata_image.h"

namespace kb::controller {

class PartitionCap {
 public:
  static constexpr const char* kProperty = "max.partitions.per.broker";

  PartitionCap(const config::BrokerConfig& static_config, const MetadataImage& image);
  // Counts `replicas` (one replica list per new partition) when every broker stays within its
  // limit; otherwise counts nothing and returns the reason.
  std::optional<std::string> add(const std::vector<std::vector<int32_t>>& replicas);

 private:
  int64_t limit_of(int32_t broker) const;

  const config::BrokerConfig& static_config_;
  const MetadataImage& image_;
  std::map<int32_t, int64_t> hosted_;  // partition replicas per broker
};

}  // namespace kb::controller
