// Broker and topic configuration. YAML in, Kafka property names out: nested keys flatten to
// dotted names (`log: {retention: {hours: 24}}` == `log.retention.hours: 24`). One table
// (properties.cc) lists every property with its type, default, rule and documentation.
// Problems found at start-up throw ConfigError naming the key; topic configs validated at
// run time return INVALID_CONFIG.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace kb::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Type { Bool, Int, Long, Double, String, List, Password };

struct PropertyDef {
  std::string name;
  Type type;
  std::optional<std::string> default_value;  // nullopt = null
  std::string doc;
  bool dynamic = false;
  std::string topic_synonym;  // topic config this broker property is the default of
  std::optional<double> min, max;
  std::vector<std::string> one_of;  // allowed values (lists: each element)
};

const std::vector<PropertyDef>& broker_properties();
const std::vector<PropertyDef>& topic_properties();

struct Listener {
  std::string name;
  std::string host;
  uint16_t port = 0;
};

class BrokerConfig {
 public:
  static BrokerConfig from_yaml(std::string_view yaml_text, const std::vector<std::string>& overrides = {});
  static BrokerConfig from_file(const std::string& path, const std::vector<std::string>& overrides = {});
  static std::string_view embedded_default();

  bool get_bool(std::string_view name) const;
  int32_t get_int(std::string_view name) const;
  int64_t get_long(std::string_view name) const;
  double get_double(std::string_view name) const;
  std::string get_string(std::string_view name) const;
  std::vector<std::string> get_list(std::string_view name) const;
  bool is_set(std::string_view name) const;
  std::optional<std::string> raw(std::string_view name) const;

  int32_t node_id() const;
  std::vector<Listener> listeners() const;
  std::vector<Listener> advertised_listeners() const;
  std::vector<std::string> log_dirs() const;
  int64_t log_retention_ms() const;
  int64_t log_roll_ms() const;
  std::string metrics_host() const;
  uint16_t metrics_port() const;

 private:
  std::map<std::string, std::optional<std::string>, std::less<>> values_;  // explicit settings
};

class TopicConfig {
 public:
  static Result<TopicConfig> make(const BrokerConfig& broker, const std::map<std::string, std::string>& overrides);
  std::string get(std::string_view name) const;
  int64_t get_long(std::string_view name) const;
  const std::map<std::string, std::string>& overrides() const { return overrides_; }
  std::map<std::string, std::string> all() const { return effective_; }
  bool is_default(std::string_view name) const { return !overrides_.count(std::string(name)); }

 private:
  std::map<std::string, std::string> overrides_;
  std::map<std::string, std::string> effective_;
};

// Checks one value against a property's type and rule; empty string when fine, else why not.
std::string check_value(const PropertyDef& def, const std::string& value);
std::vector<Listener> parse_listeners(const std::string& key, const std::vector<std::string>& items);
std::string properties_help();

}  // namespace kb::config
