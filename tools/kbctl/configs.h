// Topic and broker configs: DescribeConfigs and IncrementalAlterConfigs, shared by `topic
// describe`, `topic alter-config` and `config get|set`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/kbctl/kbctl.h"

namespace kb::kbctl {

constexpr int8_t kTopicResource = 2;  // Kafka's ConfigResource.Type
constexpr int8_t kBrokerResource = 4;
constexpr int8_t kSourceTopic = 1;    // DYNAMIC_TOPIC_CONFIG
constexpr int8_t kSourceDefault = 5;  // DEFAULT_CONFIG

struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;
  int8_t source = -1;
  bool read_only = false;
  bool sensitive = false;
  std::string shown_value() const { return sensitive ? "(sensitive)" : value.value_or("(null)"); }
};

const char* source_name(int8_t source);
Json config_json(const ConfigEntry& c);

// The configs of one resource (every key when `keys` is empty), asked of `node` (a broker's
// own configs must be asked of it) or of any broker. A refusal is a Failure.
std::vector<ConfigEntry> describe_configs(Client& client, int8_t type, const std::string& name,
                                          const std::optional<std::vector<std::string>>& keys,
                                          std::optional<int32_t> node);

// Sets (KEY=VALUE) and deletes (KEY) configs of one resource with IncrementalAlterConfigs, sent to
// `node` or any broker, then prints what changed; `what` names the resource in messages.
void alter_configs(Context& ctx, int8_t type, const std::string& name, const std::vector<std::string>& sets,
                   const std::vector<std::string>& deletes, const std::string& what,
                   std::optional<int32_t> node = std::nullopt);

}  // namespace kb::kbctl
