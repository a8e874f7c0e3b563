// BrokerConfig: the YAML loader (flattening, --set, per-key validation), the rules between
// keys (Kafka's KafkaConfig checks that apply to kbroker), and the typed reads.
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config.h"
#include "config/parse.h"

namespace kb::config {

extern const char* const kEmbeddedBrokerYaml;  // embedded_config.cc, generated from broker.yaml

using detail::join;
using detail::parse_long;
using detail::split_list;

namespace {

// One leaf of the YAML tree under its dotted name.
struct Leaf {
  enum Kind { Scalar, Null, Sequence } kind;
  std::string key;
  std::string text;  // scalar text, or sequence items joined with ','
};

void flatten(const YAML::Node& node, const std::string& key, std::vector<Leaf>& out) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      for (const auto& kv : node) {
        if (!kv.first.IsScalar() || kv.first.Scalar().empty())
          throw ConfigError((key.empty() ? std::string("the top level") : key) +
                            ": keys must be plain names like log.retention.hours");
        std::string k = kv.first.Scalar();
        flatten(kv.second, key.empty() ? k : key + "." + k, out);
      }
      break;
    case YAML::NodeType::Sequence: {
      std::vector<std::string> items;
      for (const auto& item : node) {
        if (!item.IsScalar())
          throw ConfigError(key + ": expected a list of plain values, got a nested structure");
        // Kafka lists are comma separated, so an item holding a comma could not round-trip.
        if (item.Scalar().find(',') != std::string::npos)
          throw ConfigError(key + ": list item '" + item.Scalar() + "' contains a comma");
        items.push_back(item.Scalar());
      }
      out.push_back({Leaf::Sequence, key, join(items, ",")});
      break;
    }
    case YAML::NodeType::Scalar:
      out.push_back({Leaf::Scalar, key, node.Scalar()});
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out.push_back({Leaf::Null, key, ""});
      break;
  }
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean log.retention.ms? ...)" for a likely typo or a topic-level name; "" if none.
std::string suggestion(const std::string& key) {
  if (find_topic_property(key)) {
    auto syn = broker_synonyms(key);
    if (!syn.empty())
      return " (" + key + " is a topic config; its broker-wide default is " + join(syn, " / ") + ")";
  }
  const PropertyDef* best = nullptr;
  size_t best_distance = std::max<size_t>(2, key.size() / 6) + 1;
  for (const auto& d : broker_properties()) {
    size_t dist = edit_distance(key, d.name);
    if (dist < best_distance) best = &d, best_distance = dist;
  }
  return best ? " (did you mean " + best->name + "?)" : "";
}

std::string show_default(const PropertyDef& d) {
  if (!d.default_value) return "null";
  return d.default_value->empty() ? "\"\"" : *d.default_value;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::vector<std::string> upper_all(std::vector<std::string> v) {
  for (auto& s : v)
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v;
}

std::string this_host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') return name;
  return "localhost";
}

}  // namespace

// Builds one BrokerConfig: collects the settings, then checks the rules between them.
struct Loader {
  BrokerConfig c;
  std::set<std::string> seen;  // keys written in the YAML, nulls included: a second one is an error

  void set(const Leaf& leaf, bool from_override) {
    std::string key = leaf.key;
    const PropertyDef* d = find_broker_property(key);
    if (auto base = d ? std::nullopt : detail::listener_property_base(key)) {
      // listener.name.<l>.<property>: kept with the listener in lower case, as Kafka writes it.
      const size_t from = std::string_view("listener.name.").size(), dot = key.find('.', from);
      key = BrokerConfig::listener_key(key.substr(from, dot - from), key.substr(dot + 1));
      d = find_broker_property(*base);
    }
    if (!d)
      throw ConfigError(key + ": unknown property" + suggestion(key) + "; `kbroker --help` lists them all");
    if (!from_override && !seen.insert(key).second)
      throw ConfigError(key +
                        ": set twice (a nested and a dotted key, or a repeated key, name the same property)");
    if (leaf.kind == Leaf::Sequence && d->type != Type::List)
      throw ConfigError(key + ": expected " + detail::expectation(*d) + ", got a YAML list");
    if (leaf.kind == Leaf::Null) {
      // A null means "not configured", which only a property without a default can be.
      if (d->default_value)
        throw ConfigError(key + ": expected " + detail::expectation(*d) +
                          ", got no value (leave the key out for the default, " + show_default(*d) + ")");
      c.values_.erase(key);
      return;
    }
    std::string why = check_value(*d, leaf.text);
    if (!why.empty()) {
      bool wrong_type = why.rfind("Not a number", 0) == 0 || why.rfind("Expected value", 0) == 0;
      throw ConfigError(key + ": invalid value '" + leaf.text +
                        "': " + (wrong_type ? "expected " + detail::expectation(*d) : why));
    }
    c.values_[key] = detail::normalize(*d, leaf.text);
  }

  void apply_override(const std::string& o) {
    auto eq = o.find('=');
    std::string key = detail::trim(o.substr(0, eq == std::string::npos ? 0 : eq));
    if (eq == std::string::npos || key.empty()) throw ConfigError("--set " + o + ": expected key=value");
    std::string text = o.substr(eq + 1);
    YAML::Node n;
    try {
      n = YAML::Load(text);
    } catch (const YAML::Exception&) {
      n = YAML::Node(text);  // not YAML (e.g. starts with '@'): take it verbatim
    }
    std::vector<Leaf> leaves;
    flatten(n, key, leaves);
    for (const auto& l : leaves) set(l, true);
  }

  void check_identity() {
    auto node = c.raw("node.id"), broker = c.raw("broker.id");
    if (node && broker && *node != *broker)
      throw ConfigError("broker.id: " + *broker + " differs from node.id " + *node +
                        " (they name the same id)");
    if (!node && broker) c.values_["node.id"] = *broker;
    if (!c.raw("node.id"))
      throw ConfigError(
          "node.id: required, and has no default (expected this node's integer id, e.g. node.id: 1)");
  }

  void check_retention() {
    int64_t ms = c.log_retention_ms();
    if (ms == 0) {
      std::string key = c.raw("log.retention.ms")        ? "log.retention.ms"
                        : c.raw("log.retention.minutes") ? "log.retention.minutes"
                                                         : "log.retention.hours";
      throw ConfigError(key + ": retention must be unlimited (-1) or at least 1 ms, got 0");
    }
    int64_t min_lag = c.get_long("log.cleaner.min.compaction.lag.ms");
    int64_t max_lag = c.get_long("log.cleaner.max.compaction.lag.ms");
    if (min_lag > max_lag)
      throw ConfigError("log.cleaner.min.compaction.lag.ms: " + std::to_string(min_lag) +
                        " is above log.cleaner.max.compaction.lag.ms " + std::to_string(max_lag));
  }

  // Kafka's KRaft rules between process.roles, controller.quorum.voters and
  // controller.listener.names, as they apply to kbroker.
  void check_roles() {
    auto roles = c.get_list("process.roles");
    bool broker = contains(roles, "broker"), controller = contains(roles, "controller");
    int32_t id = c.node_id();
    bool voter =
        std::any_of(c.voters_.begin(), c.voters_.end(), [&](const QuorumVoter& v) { return v.id == id; });
    auto controller_names = upper_all(c.get_list("controller.listener.names"));
    std::vector<std::string> names;
    for (const auto& l : c.listeners_) names.push_back(l.name);
    if (controller) {
      if (!c.voters_.empty() && !voter)
        throw ConfigError("controller.quorum.voters: node.id " + std::to_string(id) +
                          " must be one of the voters when process.roles contains controller");
      if (!c.voters_.empty() && controller_names.empty())
        throw ConfigError(
            "controller.listener.names: required with controller.quorum.voters: name the listener "
            "the other voters reach this controller on");
      for (const auto& n : controller_names)
        if (!contains(names, n))
          throw ConfigError("controller.listener.names: " + n + " must be one of the listeners (" +
                            join(names, ",") + ") when process.roles contains controller");
      if (!broker)
        for (const auto& n : names)
          if (!contains(controller_names, n))
            throw ConfigError("listeners: " + n +
                              " is not in controller.listener.names; a controller-only node "
                              "listens for the quorum only");
    } else {
      if (c.voters_.empty())
        throw ConfigError(
            "controller.quorum.voters: required when process.roles is broker alone (name the "
            "controllers as id@host:port)");
      if (voter)
        throw ConfigError("controller.quorum.voters: node.id " + std::to_string(id) +
                          " must not be a voter when process.roles is broker alone");
      if (controller_names.empty())
        throw ConfigError("controller.listener.names: required when process.roles is broker alone");
      for (const auto& n : controller_names)
        if (contains(names, n))
          throw ConfigError("controller.listener.names: " + n +
                            " must not be one of the listeners when process.roles is broker alone");
    }
    if (broker && c.advertised_.empty())
      throw ConfigError(
          "advertised.listeners: there must be at least one broker listener (are all listeners in "
          "controller.listener.names?)");
  }
};

void BrokerConfig::derive() {
  // Listener name -> security protocol. Like Kafka, when the map is left at its default,
  // controller listeners missing from it are PLAINTEXT.
  std::string why;
  auto map = detail::parse_protocol_map(get_string("listener.security.protocol.map"), why);
  if (!map) throw ConfigError("listener.security.protocol.map: " + why);
  auto controller_names = upper_all(get_list("controller.listener.names"));
  if (!is_set("listener.security.protocol.map"))
    for (const auto& n : controller_names)
      if (std::none_of(map->begin(), map->end(), [&](const auto& e) { return e.first == n; }))
        map->emplace_back(n, "PLAINTEXT");
  auto resolve = [&](const std::string& key, Listener& l) {
    auto it = std::find_if(map->begin(), map->end(), [&](const auto& e) { return e.first == l.name; });
    if (it == map->end())
      throw ConfigError(key + ": no security protocol for listener " + l.name +
                        " in listener.security.protocol.map (add " + l.name + ":PLAINTEXT)");
    l.security_protocol = it->second;
  };
  auto parse_all = [&](const std::string& key, const std::string& value) {
    std::vector<Listener> out;
    for (const auto& item : split_list(value)) {
      std::string item_why;
      auto l = detail::parse_listener(item, item_why);
      if (!l) throw ConfigError(key + ": " + item_why);  // unreachable: checked per key already
      resolve(key, *l);
      out.push_back(*l);
    }
    return out;
  };

  listeners_ = parse_all("listeners", get_string("listeners"));
  if (listeners_.empty())
    throw ConfigError("listeners: at least one listener is required (NAME://host:port)");
  std::vector<std::string> names;
  for (const auto& l : listeners_) names.push_back(l.name);

  bool explicit_advertised = raw("advertised.listeners").has_value();
  auto advertised = explicit_advertised
                        ? parse_all("advertised.listeners", get_string("advertised.listeners"))
                        : listeners_;
  advertised_.clear();
  for (auto& l : advertised) {
    if (!contains(names, l.name))
      throw ConfigError("advertised.listeners: listener " + l.name + " is not one of the listeners (" +
                        join(names, ",") + ")");
    if (contains(controller_names, l.name)) continue;  // Kafka never advertises controller listeners
    // An unspecified bind address is advertised as this machine's name, which other hosts
    // can resolve; 0.0.0.0 itself would send clients to their own loopback.
    if (l.host.empty() || l.host == "0.0.0.0" || l.host == "::") l.host = this_host_name();
    advertised_.push_back(l);
  }

  if (auto ibl = raw("inter.broker.listener.name")) {
    std::string upper = upper_all({*ibl}).front();
    if (std::none_of(advertised_.begin(), advertised_.end(),
                     [&](const Listener& l) { return l.name == upper; })) {
      std::vector<std::string> adv;
      for (const auto& l : advertised_) adv.push_back(l.name);
      throw ConfigError("inter.broker.listener.name: " + *ibl +
                        " must be a listener in advertised.listeners (" + join(adv, ",") + ")");
    }
  }

  // Kafka's alternative to inter.broker.listener.name: the listener named after the protocol.
  if (is_set("security.inter.broker.protocol")) {
    const std::string protocol = upper_all({get_string("security.inter.broker.protocol")}).front();
    auto ibl = raw("inter.broker.listener.name");
    if (ibl && upper_all({*ibl}).front() != protocol)
      throw ConfigError("Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.");
    if (std::none_of(advertised_.begin(), advertised_.end(), [&](const Listener& l) { return l.name == protocol; }))
      throw ConfigError("security.inter.broker.protocol: " + protocol + " names no listener in advertised.listeners (a " +
                        "listener called " + protocol + " is the inter-broker one; or set inter.broker.listener.name)");
    values_["inter.broker.listener.name"] = protocol;
  }

  voters_.clear();
  for (const auto& item : get_list("controller.quorum.voters")) {
    std::string item_why;
    auto v = detail::parse_voter(item, item_why);
    if (!v) throw ConfigError("controller.quorum.voters: " + item_why);
    voters_.push_back(*v);
  }
}

BrokerConfig BrokerConfig::from_yaml(std::string_view text, const std::vector<std::string>& overrides,
                                     const std::vector<EnvSetting>& env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError("YAML syntax error at line " + std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsNull() && !root.IsMap())
    throw ConfigError("the configuration must be a YAML map of properties (key: value lines)");
  std::vector<Leaf> leaves;
  if (root.IsMap()) flatten(root, "", leaves);  // an empty document is an empty map
  Loader l;
  for (const auto& leaf : leaves) l.set(leaf, false);
  for (const auto& e : env) {
    try {
      l.apply_override(e.property + "=" + e.value);
    } catch (const ConfigError& err) {
      throw ConfigError("environment " + e.variable + ": " + err.what());
    }
  }
  for (const auto& o : overrides) l.apply_override(o);
  l.check_identity();
  l.c.derive();
  l.check_roles();
  l.check_retention();
  l.c.derive_topic_defaults();
  l.c.derive_settings();
  return std::move(l.c);
}

BrokerConfig BrokerConfig::from_file(const std::string& path, const std::vector<std::string>& overrides,
                                     const std::vector<EnvSetting>& env) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read the configuration file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return from_yaml(ss.str(), overrides, env);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

std::string_view BrokerConfig::embedded_default() { return kEmbeddedBrokerYaml; }

namespace {

const PropertyDef& def_for_read(std::string_view name, std::initializer_list<Type> types) {
  const PropertyDef* d = find_broker_property(name);
  if (!d) throw std::logic_error("unknown broker property " + std::string(name));
  if (std::find(types.begin(), types.end(), d->type) == types.end())
    throw std::logic_error("broker property " + std::string(name) + " read with a getter of another type");
  return *d;
}

}  // namespace

std::optional<std::string> BrokerConfig::raw(std::string_view name) const {
  // Kafka's order: this broker's dynamic value, the cluster-wide dynamic default, the YAML.
  for (const auto* layer : {&dynamic_broker_, &dynamic_default_, &values_}) {
    auto it = layer->find(name);
    if (it != layer->end()) return it->second;
  }
  const PropertyDef* d = find_broker_property(name);
  return d ? d->default_value : std::nullopt;
}

std::string BrokerConfig::listener_key(std::string_view listener, std::string_view property) {
  std::string key = "listener.name.";
  for (char ch : listener) key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return key.append(".").append(property);
}

std::optional<std::string> BrokerConfig::listener_raw(std::string_view listener, std::string_view property) const {
  const std::string key = listener_key(listener, property);
  // A listener's key and trust stores may also be dynamic (set on this broker's resource).
  if (auto it = dynamic_broker_.find(key); it != dynamic_broker_.end()) return it->second;
  if (auto it = values_.find(key); it != values_.end()) return it->second;
  return raw(property);
}

bool BrokerConfig::is_set(std::string_view name) const {
  return dynamic_broker_.count(name) || dynamic_default_.count(name) || values_.count(name);
}

ConfigSource BrokerConfig::source(std::string_view name) const {
  if (dynamic_broker_.count(name)) return ConfigSource::DynamicBrokerConfig;
  if (dynamic_default_.count(name)) return ConfigSource::DynamicDefaultBrokerConfig;
  if (values_.count(name)) return ConfigSource::StaticBrokerConfig;
  return find_broker_property(name) ? ConfigSource::DefaultConfig : ConfigSource::Unknown;
}

namespace {

// Kafka's DynamicBrokerConfig.brokerConfigSynonyms: the properties that set the same thing,
// highest precedence first. log.flush.scheduler.interval.ms is only the default of
// log.flush.interval.ms, not the other way round.
std::vector<std::string> synonym_group(std::string_view name) {
  const PropertyDef* d = find_broker_property(name);
  if (d && !d->topic_synonym.empty() && name != "log.flush.scheduler.interval.ms") {
    std::vector<std::string> group;
    for (const auto& s : detail::synonyms_of(d->topic_synonym)) group.emplace_back(s.broker_name);
    if (std::find(group.begin(), group.end(), name) != group.end()) return group;
  }
  return {std::string(name)};
}

}  // namespace

std::vector<ConfigSynonym> BrokerConfig::synonyms(std::string_view name) const {
  std::vector<ConfigSynonym> out;
  const auto group = synonym_group(name);
  const std::pair<const std::map<std::string, std::string, std::less<>>*, ConfigSource> levels[] = {
      {&dynamic_broker_, ConfigSource::DynamicBrokerConfig},
      {&dynamic_default_, ConfigSource::DynamicDefaultBrokerConfig},
      {&values_, ConfigSource::StaticBrokerConfig}};
  for (const auto& [layer, source] : levels)
    for (const auto& n : group)
      if (auto it = layer->find(n); it != layer->end()) out.push_back({n, it->second, source});
  for (const auto& n : group)
    if (const PropertyDef* d = find_broker_property(n); d && d->default_value)
      out.push_back({n, d->default_value, ConfigSource::DefaultConfig});
  // Kafka drops the synonyms that precede the property itself (describing log.retention.hours
  // does not list a log.retention.ms above it).
  auto first = std::find_if(out.begin(), out.end(), [&](const ConfigSynonym& s) { return s.name == name; });
  out.erase(out.begin(), first);
  return out;
}

namespace {

// The rules between keys that a dynamic change can break (Kafka re-validates the whole
// KafkaConfig); "" when fine.
std::string rules_between_keys(const BrokerConfig& c) {
  if (c.log_retention_ms() == 0) {
    std::string key = c.raw("log.retention.ms")        ? "log.retention.ms"
                      : c.raw("log.retention.minutes") ? "log.retention.minutes"
                                                       : "log.retention.hours";
    return "Invalid value 0 for configuration " + key + ": retention must be unlimited (-1) or at least 1 ms";
  }
  int64_t min_lag = c.get_long("log.cleaner.min.compaction.lag.ms");
  int64_t max_lag = c.get_long("log.cleaner.max.compaction.lag.ms");
  if (min_lag > max_lag)
    return "Invalid value " + std::to_string(min_lag) +
           " for configuration log.cleaner.min.compaction.lag.ms: must not be above "
           "log.cleaner.max.compaction.lag.ms (" +
           std::to_string(max_lag) + ")";
  return "";
}

}  // namespace

Result<BrokerConfig> BrokerConfig::with_dynamic(const std::map<std::string, std::string>& cluster_default,
                                                const std::map<std::string, std::string>& per_broker,
                                                std::vector<std::string>* skipped) const {
  BrokerConfig c = *this;
  auto fill = [&](const std::map<std::string, std::string>& in, std::map<std::string, std::string, std::less<>>& out,
                  const std::string& resource) {
    out.clear();
    for (const auto& [name, value] : in) {
      const PropertyDef* d = find_broker_property(name);
      if (!d) d = dynamic_listener_property(name);
      std::string why = !d ? "unknown property" : !d->dynamic ? "not a dynamic property" : check_value(*d, value);
      if (!why.empty()) {
        if (skipped) skipped->push_back("broker resource '" + resource + "' " + name + "=" + value + ": " + why);
        continue;
      }
      out[name] = detail::normalize(*d, value);
    }
  };
  fill(cluster_default, c.dynamic_default_, "");
  fill(per_broker, c.dynamic_broker_, std::to_string(node_id()));
  if (auto why = rules_between_keys(c); !why.empty()) return Error{ErrorCode::INVALID_REQUEST, why};
  c.derive_topic_defaults();
  c.derive_settings();
  return c;
}

Status check_dynamic_broker_configs(const std::map<std::string, std::string>& configs, bool cluster_default) {
  // Kafka's DynamicBrokerConfig.validateConfigs, in its order.
  std::vector<std::string> not_dynamic, listener_only, per_broker;  // sorted: the map is
  for (const auto& [name, value] : configs) {
    const PropertyDef* d = find_broker_property(name);
    if (d && !d->dynamic) not_dynamic.push_back(name);
    if (d && d->listener_only) listener_only.push_back(name);
    if (d && d->per_broker) per_broker.push_back(name);
    if (!d && dynamic_listener_property(name)) per_broker.push_back(name);
  }
  if (!not_dynamic.empty())
    return Error{ErrorCode::INVALID_REQUEST,
                 "Cannot update these configs dynamically: [" + join(not_dynamic, ", ") + "]"};
  if (!listener_only.empty())
    return Error{ErrorCode::INVALID_REQUEST,
                 "These security configs can be dynamically updated only per-listener using the listener prefix: [" +
                     join(listener_only, ", ") + "]"};
  for (const auto& [name, value] : configs) {
    const PropertyDef* d = find_broker_property(name);
    if (!d) d = dynamic_listener_property(name);
    if (!d) return Error{ErrorCode::INVALID_REQUEST, "Unknown broker config name: " + name};
    if (std::string why = check_value(*d, value); !why.empty())
      return Error{ErrorCode::INVALID_REQUEST, "Invalid value " + value + " for configuration " + name + ": " + why};
  }
  if (cluster_default && !per_broker.empty())
    return Error{ErrorCode::INVALID_REQUEST,
                 "Cannot update these configs at default cluster level, broker id must be specified: [" +
                     join(per_broker, ", ") + "]"};
  return {};
}

std::map<std::string, std::string> normalize_broker_configs(const std::map<std::string, std::string>& configs) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : configs) {
    const PropertyDef* d = find_broker_property(name);
    if (!d) d = dynamic_listener_property(name);
    out[name] = d && check_value(*d, value).empty() ? detail::normalize(*d, value) : value;
  }
  return out;
}

std::map<std::string, std::optional<std::string>> BrokerConfig::all() const {
  std::map<std::string, std::optional<std::string>> out;
  for (const auto& d : broker_properties()) out[d.name] = raw(d.name);
  return out;
}

bool BrokerConfig::get_bool(std::string_view name) const {
  def_for_read(name, {Type::Bool});
  auto v = raw(name);
  if (!v) throw std::logic_error("broker property " + std::string(name) + " is null");
  return *v == "true";
}

int64_t BrokerConfig::get_long(std::string_view name) const {
  def_for_read(name, {Type::Int, Type::Long});
  auto v = raw(name);
  auto x = v ? parse_long(*v) : std::nullopt;
  if (!x) throw std::logic_error("broker property " + std::string(name) + " is null; check raw() first");
  return *x;
}

int32_t BrokerConfig::get_int(std::string_view name) const {
  def_for_read(name, {Type::Int});
  return static_cast<int32_t>(get_long(name));  // validated to fit 32 bits at load
}

double BrokerConfig::get_double(std::string_view name) const {
  def_for_read(name, {Type::Double});
  auto v = raw(name);
  if (!v) throw std::logic_error("broker property " + std::string(name) + " is null");
  return std::strtod(v->c_str(), nullptr);
}

std::string BrokerConfig::get_string(std::string_view name) const {
  def_for_read(name, {Type::String, Type::Password, Type::List});
  return raw(name).value_or("");
}

std::vector<std::string> BrokerConfig::get_list(std::string_view name) const {
  def_for_read(name, {Type::List, Type::String});
  auto v = raw(name);
  return v ? split_list(*v) : std::vector<std::string>{};
}

int32_t BrokerConfig::node_id() const { return get_int("node.id"); }
std::vector<Listener> BrokerConfig::listeners() const { return listeners_; }
std::vector<Listener> BrokerConfig::advertised_listeners() const { return advertised_; }
std::vector<QuorumVoter> BrokerConfig::quorum_voters() const { return voters_; }

std::vector<std::string> BrokerConfig::log_dirs() const {
  if (raw("log.dirs")) return get_list("log.dirs");
  return split_list(get_string("log.dir"));
}

int64_t BrokerConfig::log_retention_ms() const {
  // Kafka: log.retention.ms, else minutes, else hours; any negative result means unlimited.
  int64_t ms;
  if (raw("log.retention.ms"))
    ms = get_long("log.retention.ms");
  else if (raw("log.retention.minutes"))
    ms = get_long("log.retention.minutes") * 60 * 1000;
  else
    ms = get_long("log.retention.hours") * 3600 * 1000;
  return ms < 0 ? -1 : ms;
}

int64_t BrokerConfig::log_roll_ms() const {
  if (raw("log.roll.ms")) return get_long("log.roll.ms");
  return get_long("log.roll.hours") * 3600 * 1000;
}

namespace {

// A host:port listener key (checked at load): its host, IPv6 without brackets, and port.
std::optional<detail::HostPort> http_listener(const BrokerConfig& c, const char* key) {
  std::string why;
  return detail::parse_host_port(c.get_string(key), why);
}

}  // namespace

std::string BrokerConfig::metrics_host() const {
  auto hp = http_listener(*this, "metrics.listener");
  return hp ? hp->host : "";
}

uint16_t BrokerConfig::metrics_port() const {
  auto hp = http_listener(*this, "metrics.listener");
  return hp ? hp->port : 0;
}

std::string BrokerConfig::schema_registry_host() const {
  auto hp = http_listener(*this, "schema.registry.listener");
  return hp ? hp->host : "";
}

uint16_t BrokerConfig::schema_registry_port() const {
  auto hp = http_listener(*this, "schema.registry.listener");
  return hp ? hp->port : 0;
}

}  // namespace kb::config
