// Broker and topic configuration.
//
// YAML in, Kafka property names out: nested maps flatten to dotted names, so
// `log: {retention: {hours: 24}}` and `log.retention.hours: 24` are the same setting. One table
// (properties.cc) lists every property with Kafka's name, type, default and rule, plus the two
// kbroker-only ones (metrics.listener, log.level).
//
// Two kinds of failure, two channels:
// - start-up: BrokerConfig::from_yaml/from_file throw ConfigError whose what() names the key and
//   what was expected; main() prints it and exits.
// - run time: TopicConfig::make returns INVALID_CONFIG with Kafka's wording
//   ("Invalid value X for configuration Y: ..."), which handlers pass to the client;
//   check_dynamic_broker_configs / BrokerConfig::with_dynamic return INVALID_REQUEST for a
//   dynamic broker config change (Kafka's code for it, KAFKA-13609).
//
// Dynamic broker configs (KIP-226) are layers over the static YAML: the cluster-wide default
// (the controller's BROKER resource "") and this broker's own (resource "<node.id>"), in
// Kafka's order per-broker > cluster default > static > built-in default. with_dynamic()
// builds the effective configuration from the metadata image's layers; the Broker swaps it in
// whenever the image changes.
//
// Both classes are immutable values once built: safe to read from any thread, cheap to copy.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace kb::config {

struct BrokerSettings;  // config/settings.h

// A fatal configuration problem found at start-up. what() names the offending key first
// ("num.partitions: invalid value '0': Value must be at least 1"); from_file puts the file's
// path in front.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Kafka's ConfigDef types (SHORT is an Int with the range 1..32767 where Kafka uses it).
enum class Type { Bool, Int, Long, Double, String, List, Password };

// One known property. Values travel as strings in Kafka's text form ("true", "604800000",
// "delete,compact"); the table's rule decides which strings are valid.
struct PropertyDef {
  std::string name;
  Type type;
  std::optional<std::string> default_value;  // nullopt = null (no value unless configured)
  std::string doc;                           // one line
  bool dynamic = false;  // Kafka can change it without a restart (per-broker or cluster-wide);
                         // false = read-only. DescribeConfigs reports read_only = !dynamic.
  // In broker_properties(): the topic config this property is the broker-wide default of.
  // In topic_properties(): the first (highest precedence) broker synonym; see broker_synonyms().
  std::string topic_synonym;
  // The rule. Numbers: inclusive bounds. one_of: allowed strings (for lists: each element).
  std::optional<double> min, max;
  std::vector<std::string> one_of;
  // A rule a range or set can't say (listener syntax...): "" when fine, else why not.
  std::string (*check)(std::string_view value) = nullptr;
  // Kafka's "per-broker" update mode: dynamic on the BROKER resource "<node.id>" only, not at
  // the cluster-wide default "".
  bool per_broker = false;
  // Kafka's SSL key and trust store settings: dynamic only under a listener.name.<l>. prefix
  // (dynamic_listener_property), on one broker's resource.
  bool listener_only = false;
  // A Kafka property kbroker accepts for compatibility (YAML, AlterConfigs, DescribeConfigs)
  // and does not use (config/kafka_compat.cc).
  bool not_used = false;

  bool sensitive() const { return type == Type::Password; }  // never log or return its value
};

const std::vector<PropertyDef>& broker_properties();
const std::vector<PropertyDef>& topic_properties();
const PropertyDef* find_broker_property(std::string_view name);  // nullptr if unknown
const PropertyDef* find_topic_property(std::string_view name);   // nullptr if unknown

// Kafka's reconfigurable SSL key and trust store settings under a listener prefix
// (`listener.name.<l>.ssl.keystore.location`, ...): dynamic on one broker's resource only. The
// base property's definition for such a name, else nullptr.
const PropertyDef* dynamic_listener_property(std::string_view name);

// Broker properties whose values are the default of a topic config, highest precedence first
// (Kafka's synonyms): retention.ms -> {log.retention.ms, log.retention.minutes,
// log.retention.hours}. Empty for an unknown name or a topic config without broker synonym.
std::vector<std::string> broker_synonyms(std::string_view topic_config);

// Checks one value against a property's type and rule. "" when valid, else Kafka's reason
// ("Value must be at least 1", "Not a number of type INT", "String must be one of: ...").
std::string check_value(const PropertyDef& def, std::string_view value);

// Kafka's DescribeConfigs ConfigSource numbers.
enum class ConfigSource : int8_t {
  Unknown = 0,
  DynamicTopicConfig = 1,  // a topic override
  DynamicBrokerConfig = 2,
  DynamicDefaultBrokerConfig = 3,
  StaticBrokerConfig = 4,  // set in the broker's YAML or by --set
  DefaultConfig = 5,       // nobody set it: the built-in default
};

// One entry of a DescribeConfigs synonyms list.
struct ConfigSynonym {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source;
};

// "PLAINTEXT://127.0.0.1:9092". The name is upper-cased as Kafka normalises listener names;
// an empty host means every interface.
struct Listener {
  std::string name;
  std::string host;
  uint16_t port = 0;
  std::string security_protocol = "PLAINTEXT";  // from listener.security.protocol.map
};

// "1@controller-1:9093": one voter of the metadata quorum (controller.quorum.voters).
struct QuorumVoter {
  int32_t id = 0;
  std::string host;
  uint16_t port = 0;
};

// max.connections.per.ip.overrides: "host:count,host:count" (Kafka's syntax; a host is an
// address or a name, which the network layer resolves). nullopt, with the reason in `why`,
// when malformed; an empty value is no override.
std::optional<std::map<std::string, int32_t>> parse_per_ip_overrides(std::string_view value, std::string& why);

// One KBROKER_<PROPERTY> environment variable (config/environment.cc).
struct EnvSetting {
  std::string variable;  // KBROKER_LOG_DIRS
  std::string property;  // log.dirs
  std::string value;     // read like a --set value (a YAML scalar)
};

// The KBROKER_ variables among `environment` ("NAME=value" entries, as environ holds them),
// each mapped to the broker property whose name, upper-cased with dots and dashes as
// underscores, is the rest of the variable's name. Throws ConfigError naming the variable
// for one that names no property, or more than one. Variables that are not properties
// (environment_variables_not_properties(): KBROKER_BIN, the binary scripts and tests run)
// are skipped.
std::vector<EnvSetting> environment_settings(const std::vector<std::string>& environment);
const std::vector<std::string>& environment_variables_not_properties();

// The broker's static configuration, validated as a whole when built. Owned by main() / the
// Broker, read by every subsystem; immutable, so any thread may read it without locking.
class BrokerConfig {
 public:
  // Parses, flattens, applies `env` then `overrides` ("key=value", value parsed as a YAML
  // scalar), so --set > environment > file > default, and validates every key and the rules
  // between keys. Throws ConfigError naming the key (and the variable, for `env`).
  static BrokerConfig from_yaml(std::string_view yaml_text, const std::vector<std::string>& overrides = {},
                                const std::vector<EnvSetting>& env = {});
  static BrokerConfig from_file(const std::string& path, const std::vector<std::string>& overrides = {},
                                const std::vector<EnvSetting>& env = {});
  // config/broker.yaml, compiled into the binary: what `kbroker` runs with no --config.
  static std::string_view embedded_default();

  // Typed reads of a known property's effective value. These are for code, not for input:
  // an unknown name, a getter of the wrong type or a numeric/bool read of a null value throws
  // std::logic_error (a kbroker bug, caught by the first test touching it). get_long also
  // reads Int properties.
  bool get_bool(std::string_view name) const;
  int32_t get_int(std::string_view name) const;
  int64_t get_long(std::string_view name) const;
  double get_double(std::string_view name) const;
  std::string get_string(std::string_view name) const;             // "" if null; never throws on a null
  std::vector<std::string> get_list(std::string_view name) const;  // comma-split, trimmed
  // A listener's own value of a security property: `listener.name.<listener>.<property>` when
  // set, else the property's effective value (for `<mechanism>.sasl.jaas.config`, nullopt).
  std::optional<std::string> listener_raw(std::string_view listener, std::string_view property) const;
  // "listener.name.<listener in lower case>.<property>".
  static std::string listener_key(std::string_view listener, std::string_view property);
  // Set in the YAML, by --set or dynamically (a YAML null is "not set": the default applies).
  bool is_set(std::string_view name) const;
  // The effective value as Kafka's text; nullopt when null or the name is unknown. Safe to
  // call with names from requests.
  std::optional<std::string> raw(std::string_view name) const;
  // Where the effective value comes from: DynamicBrokerConfig, DynamicDefaultBrokerConfig,
  // StaticBrokerConfig or DefaultConfig (Unknown for an unknown name).
  ConfigSource source(std::string_view name) const;
  // DescribeConfigs' synonyms of a broker property, Kafka's ConfigHelper order: level by level
  // (per-broker, cluster default, static, built-in default), each level naming the property's
  // synonym group (log.retention.ms/minutes/hours, log.roll.ms/hours, ...) in precedence
  // order, then everything before the first entry of `name` itself dropped.
  std::vector<ConfigSynonym> synonyms(std::string_view name) const;

  // KIP-226: this configuration with the dynamic layers on top: `cluster_default` (resource
  // "") under `per_broker` (resource "<node.id>"). The static part is this object's YAML
  // settings (layers already applied are replaced, not stacked). Keys that are unknown, not
  // dynamic or invalid are skipped (the controller never stores such values) and named in
  // `skipped`. INVALID_REQUEST when the combination breaks a rule between keys (retention 0,
  // min compaction lag above the max), naming the key.
  Result<BrokerConfig> with_dynamic(const std::map<std::string, std::string>& cluster_default,
                                    const std::map<std::string, std::string>& per_broker,
                                    std::vector<std::string>* skipped = nullptr) const;
  // The dynamic layers in effect (empty for a configuration without them).
  const std::map<std::string, std::string, std::less<>>& dynamic_default() const { return dynamic_default_; }
  const std::map<std::string, std::string, std::less<>>& dynamic_broker() const { return dynamic_broker_; }
  // Every broker property with its effective value (nullopt = null). Password values are
  // included: callers showing them must check PropertyDef::sensitive().
  std::map<std::string, std::optional<std::string>> all() const;

  // Derived values, with Kafka's precedence rules applied (all validated at load time).
  int32_t node_id() const;
  std::vector<Listener> listeners() const;
  // advertised.listeners, or listeners when unset, without the controller.listener.names
  // entries (Kafka never advertises those to clients). A host that is empty or 0.0.0.0/::
  // (possible only through the listeners fallback) is replaced by this machine's hostname.
  std::vector<Listener> advertised_listeners() const;
  std::vector<QuorumVoter> quorum_voters() const;  // empty: this node alone is the controller
  std::vector<std::string> log_dirs() const;       // log.dirs, else log.dir
  int64_t log_retention_ms() const;                // ms > minutes > hours; negative -> -1
  int64_t log_roll_ms() const;                     // log.roll.ms > log.roll.hours
  std::string metrics_host() const;                // metrics.listener, IPv6 without brackets
  uint16_t metrics_port() const;
  // What Kafka warns about at start-up in this configuration: deprecated settings it ignores
  // (log.message.format.version below 0.11, inter.broker.protocol.version in KRaft mode).
  std::vector<std::string> warnings() const;
  std::string schema_registry_host() const;       // schema.registry.listener, as metrics_host
  uint16_t schema_registry_port() const;
  // The properties the code reads, as typed fields (config/settings.h), filled when this
  // configuration was built: the effective values of this snapshot, dynamic layers included.
  // A configuration built without YAML (BrokerConfig{}) has the built-in defaults.
  const BrokerSettings& settings() const;

 private:
  struct TopicDefault;  // one topic config's broker-derived default (topic_config.cc)
  friend class TopicConfig;
  friend struct Loader;

  void derive();                 // fills listeners_, advertised_, voters_; throws ConfigError
  void derive_topic_defaults();  // fills topic_defaults_ (topic_config.cc)
  void derive_settings();        // fills settings_ (settings.cc)

  // Explicit static settings (YAML, --set), as normalised text. Only non-null values are stored.
  std::map<std::string, std::string, std::less<>> values_;
  // KIP-226 layers (normalised, dynamic properties only): resource "" and "<node.id>".
  std::map<std::string, std::string, std::less<>> dynamic_default_, dynamic_broker_;
  std::vector<Listener> listeners_, advertised_;
  std::vector<QuorumVoter> voters_;
  // Indexed like topic_properties(); shared with every TopicConfig made from this broker.
  std::shared_ptr<const std::vector<TopicDefault>> topic_defaults_;
  std::shared_ptr<const BrokerSettings> settings_;
};

// The effective configuration of one topic: its explicit overrides on top of the broker's
// defaults. An immutable value; make() is cheap (shares the broker's precomputed defaults).
class TopicConfig {
 public:
  // Validates every override: an unknown name or bad value gives INVALID_CONFIG with Kafka's
  // message ("Unknown topic config name: X", "Invalid value X for configuration Y: ...").
  static Result<TopicConfig> make(const BrokerConfig& broker,
                                  const std::map<std::string, std::string>& overrides);

  std::string get(std::string_view name) const;   // effective value; "" for an unknown name
  int64_t get_long(std::string_view name) const;  // 0 for an unknown or non-numeric name
  const std::map<std::string, std::string>& overrides() const { return overrides_; }
  std::map<std::string, std::string> all() const;  // every topic property, effective values
  bool is_default(std::string_view name) const;    // no topic override for it
  // Where the effective value comes from: DynamicTopicConfig (override), else the level of
  // the first broker synonym Kafka lists (DynamicBrokerConfig, DynamicDefaultBrokerConfig,
  // StaticBrokerConfig), else DefaultConfig.
  ConfigSource source(std::string_view name) const;
  // DescribeConfigs' synonyms, highest precedence first: the override, the broker synonyms
  // that are set, then the default under the broker's name (Kafka lists it that way).
  std::vector<ConfigSynonym> synonyms(std::string_view name) const;

 private:
  std::map<std::string, std::string> overrides_;  // validated, normalised
  std::shared_ptr<const std::vector<BrokerConfig::TopicDefault>> defaults_;
};

// KIP-226: checks the complete set of dynamic configs one BROKER resource would have. Kafka's
// DynamicBrokerConfig rules and messages, all INVALID_REQUEST (Kafka's code, KAFKA-13609):
// "Cannot update these configs dynamically: [a, b]" for properties that are not dynamic,
// "Unknown broker config name: x" (kbroker refuses names it does not know; Kafka would store
// them), "Invalid value v for configuration k: <rule>".
// `cluster_default`: the set is the BROKER resource "" (Kafka refuses per-broker properties
// there: "Cannot update these configs at default cluster level, broker id must be specified").
Status check_dynamic_broker_configs(const std::map<std::string, std::string>& configs, bool cluster_default = false);
// The values of a valid set in their stored text form (trimmed, canonical numbers...).
std::map<std::string, std::string> normalize_broker_configs(const std::map<std::string, std::string>& configs);

// Kafka's warning for a topic's message.format.version override it ignores (a value below
// 0.11, under an inter-broker protocol of 3.0 or later, which kbroker always has); "" if none.
std::string ignored_topic_config_warning(std::string_view topic, const std::map<std::string, std::string>& overrides);

// Usage text for --help: every broker property with type, default, dynamic flag and doc.
std::string properties_help();

}  // namespace kb::config
