// TopicConfig: a topic's overrides over the broker-wide defaults, with Kafka's synonym
// precedence (retention.ms <- log.retention.ms > log.retention.minutes > log.retention.hours).
#include "config/config.h"
#include "config/parse.h"

namespace kb::config {

// The default a topic config gets from this broker, computed once per BrokerConfig.
struct BrokerConfig::TopicDefault {
  std::string value;
  ConfigSource source;                  // StaticBrokerConfig or DefaultConfig
  std::vector<ConfigSynonym> synonyms;  // the broker part of DescribeConfigs' synonyms
};

namespace {

std::optional<size_t> topic_index(std::string_view name) {
  const auto& defs = topic_properties();
  for (size_t i = 0; i < defs.size(); ++i)
    if (defs[i].name == name) return i;
  return std::nullopt;
}

// A broker value in the topic config's unit (hours -> ms).
std::string scaled(const std::string& value, int64_t factor) {
  if (factor == 1) return value;
  return std::to_string(detail::parse_long(value).value_or(0) * factor);
}

}  // namespace

void BrokerConfig::derive_topic_defaults() {
  auto out = std::make_shared<std::vector<TopicDefault>>();
  const std::pair<const std::map<std::string, std::string, std::less<>>*, ConfigSource> levels[] = {
      {&dynamic_broker_, ConfigSource::DynamicBrokerConfig},
      {&dynamic_default_, ConfigSource::DynamicDefaultBrokerConfig},
      {&values_, ConfigSource::StaticBrokerConfig}};
  for (const auto& def : topic_properties()) {
    TopicDefault td{def.default_value.value_or(""), ConfigSource::DefaultConfig, {}};
    const auto& syns = detail::synonyms_of(def.name);
    // The synonyms as Kafka lists them: level by level (per-broker, cluster default, YAML),
    // each in precedence order, then the built-in defaults under the broker's names.
    for (const auto& [layer, source] : levels)
      for (const auto& s : syns)
        if (auto it = layer->find(s.broker_name); it != layer->end())
          td.synonyms.push_back({s.broker_name, it->second, source});
    for (const auto& s : syns) {
      const PropertyDef* bd = find_broker_property(s.broker_name);
      if (bd && bd->default_value) td.synonyms.push_back({s.broker_name, bd->default_value, ConfigSource::DefaultConfig});
    }
    if (!td.synonyms.empty()) td.source = td.synonyms.front().source;
    // The value: the highest-precedence synonym that has one at any level (a static
    // log.retention.ms beats a dynamic log.retention.hours, as in Kafka's merged KafkaConfig).
    for (const auto& s : syns)
      if (auto v = raw(s.broker_name)) {
        td.value = scaled(*v, s.factor);
        break;
      }
    // Kafka maps any negative broker retention to -1 (unlimited).
    if (def.name == "retention.ms") td.value = std::to_string(log_retention_ms());
    out->push_back(std::move(td));
  }
  topic_defaults_ = std::move(out);
}

Result<TopicConfig> TopicConfig::make(const BrokerConfig& broker,
                                      const std::map<std::string, std::string>& overrides) {
  TopicConfig t;
  t.defaults_ = broker.topic_defaults_;
  if (!t.defaults_) {  // a BrokerConfig not built by from_yaml: only the built-in defaults
    BrokerConfig copy = broker;
    copy.derive_topic_defaults();
    t.defaults_ = copy.topic_defaults_;
  }
  for (const auto& [name, value] : overrides) {
    const PropertyDef* d = find_topic_property(name);
    if (!d) return Error{ErrorCode::INVALID_CONFIG, "Unknown topic config name: " + name};
    std::string why = check_value(*d, value);
    if (!why.empty())
      return Error{ErrorCode::INVALID_CONFIG,
                   "Invalid value " + value + " for configuration " + name + ": " + why};
    t.overrides_[name] = detail::normalize(*d, value);
  }
  int64_t min_lag = t.get_long("min.compaction.lag.ms"), max_lag = t.get_long("max.compaction.lag.ms");
  if (min_lag > max_lag)
    return Error{ErrorCode::INVALID_CONFIG, "conflict topic config setting min.compaction.lag.ms (" +
                                                std::to_string(min_lag) + ") > max.compaction.lag.ms (" +
                                                std::to_string(max_lag) + ")"};
  return t;
}

std::string TopicConfig::get(std::string_view name) const {
  auto it = overrides_.find(std::string(name));
  if (it != overrides_.end()) return it->second;
  auto i = topic_index(name);
  return i ? (*defaults_)[*i].value : "";
}

int64_t TopicConfig::get_long(std::string_view name) const {
  return detail::parse_long(get(name)).value_or(0);
}

std::map<std::string, std::string> TopicConfig::all() const {
  std::map<std::string, std::string> out;
  for (const auto& d : topic_properties()) out[d.name] = get(d.name);
  return out;
}

bool TopicConfig::is_default(std::string_view name) const { return overrides_.count(std::string(name)) == 0; }

ConfigSource TopicConfig::source(std::string_view name) const {
  if (!is_default(name)) return ConfigSource::DynamicTopicConfig;
  auto i = topic_index(name);
  return i ? (*defaults_)[*i].source : ConfigSource::Unknown;
}

std::vector<ConfigSynonym> TopicConfig::synonyms(std::string_view name) const {
  std::vector<ConfigSynonym> out;
  auto i = topic_index(name);
  if (!i) return out;
  auto it = overrides_.find(std::string(name));
  if (it != overrides_.end()) out.push_back({it->first, it->second, ConfigSource::DynamicTopicConfig});
  const auto& broker = (*defaults_)[*i].synonyms;
  out.insert(out.end(), broker.begin(), broker.end());
  return out;
}

}  // namespace kb::config
