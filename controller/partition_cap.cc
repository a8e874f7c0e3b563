#include "controller/partition_cap.h"

namespace kb::controller {

PartitionCap::PartitionCap(const config::BrokerConfig& static_config, const MetadataImage& image)
    : static_config_(static_config), image_(image) {
  // During a reassignment `replicas` is the union of the old and the new set (Kafka's rule),
  // so replicas being added count already.
  for (const TopicInfo* t : image.topics())
    for (const auto& p : t->partitions)
      for (int32_t b : p.replicas) ++hosted_[b];
}

int64_t PartitionCap::limit_of(int32_t broker) const {
  for (const std::string& resource : {std::to_string(broker), std::string()})
    if (const auto* c = image_.broker_configs(resource))
      if (auto it = c->find(kProperty); it != c->end()) {
        try {
          return std::stoll(it->second);
        } catch (const std::exception&) {
          // Checked when it was altered; an unreadable value is no limit rather than a refusal.
          return 0;
        }
      }
  return static_config_.get_int(kProperty);
}

std::optional<std::string> PartitionCap::add(const std::vector<std::vector<int32_t>>& replicas) {
  std::map<int32_t, int64_t> adding;
  for (const auto& list : replicas)
    for (int32_t b : list) ++adding[b];
  for (const auto& [broker, n] : adding) {
    const int64_t limit = limit_of(broker);
    const int64_t total = hosted_[broker] + n;
    if (limit > 0 && total > limit)
      return "This would put " + std::to_string(total) + " partition replicas on broker " + std::to_string(broker) +
             " (it hosts " + std::to_string(hosted_[broker]) + "), over its limit of " + std::to_string(limit) + " (" +
             kProperty + ").";
  }
  for (const auto& [broker, n] : adding) hosted_[broker] += n;
  return std::nullopt;
}

}  // namespace kb::controller
