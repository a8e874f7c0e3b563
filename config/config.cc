#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace kb::config {

extern const char* const kEmbeddedBrokerYaml;  // embedded_config.cc, generated from broker.yaml

namespace {

const PropertyDef* find(const std::vector<PropertyDef>& defs, std::string_view name) {
  for (const auto& d : defs)
    if (d.name == name) return &d;
  return nullptr;
}

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t");
  size_t b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool parse_long(const std::string& v, int64_t& out) {
  if (v.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (errno || *end) return false;
  out = x;
  return true;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::Bool: return "a boolean (true or false)";
    case Type::Int: return "an integer";
    case Type::Long: return "an integer";
    case Type::Double: return "a number";
    case Type::String: return "a string";
    case Type::List: return "a list";
    case Type::Password: return "a string";
  }
  return "a value";
}

std::string fmt_bound(double d) {
  std::ostringstream o;
  o << std::llround(d);
  return o.str();
}

// Flattens nested YAML maps into dotted keys; scalars and sequences become strings.
void flatten(const YAML::Node& node, const std::string& prefix,
             std::vector<std::pair<std::string, std::optional<std::string>>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string k = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? k : prefix + "." + k, out);
    }
  } else if (node.IsSequence()) {
    std::string joined;
    for (const auto& item : node) {
      if (!item.IsScalar()) throw ConfigError(prefix + ": expected a list of plain values");
      if (!joined.empty()) joined += ",";
      joined += item.as<std::string>();
    }
    out.emplace_back(prefix, joined);
  } else if (node.IsNull()) {
    out.emplace_back(prefix, std::nullopt);
  } else {
    out.emplace_back(prefix, node.as<std::string>());
  }
}

}  // namespace

std::string check_value(const PropertyDef& d, const std::string& value) {
  switch (d.type) {
    case Type::Bool:
      if (value != "true" && value != "false") return std::string("expected ") + type_name(d.type);
      return "";
    case Type::Int:
    case Type::Long: {
      int64_t x;
      if (!parse_long(value, x)) return std::string("expected ") + type_name(d.type);
      if (d.type == Type::Int && (x < INT32_MIN || x > INT32_MAX))
        return "expected a 32-bit integer";
      if (d.min && x < *d.min) return "must be at least " + fmt_bound(*d.min);
      if (d.max && x > *d.max) return "must be at most " + fmt_bound(*d.max);
      return "";
    }
    case Type::Double: {
      char* end = nullptr;
      double x = std::strtod(value.c_str(), &end);
      if (value.empty() || *end) return "expected a number";
      if (d.min && x < *d.min) return "must be at least " + std::to_string(*d.min);
      if (d.max && x > *d.max) return "must be at most " + std::to_string(*d.max);
      return "";
    }
    case Type::List:
      for (const auto& item : split_list(value)) {
        if (!d.one_of.empty() && std::find(d.one_of.begin(), d.one_of.end(), item) == d.one_of.end())
          return "'" + item + "' is not one of the allowed values";
      }
      return "";
    case Type::String:
    case Type::Password:
      if (!d.one_of.empty() && std::find(d.one_of.begin(), d.one_of.end(), value) == d.one_of.end()) {
        std::string allowed;
        for (const auto& a : d.one_of) allowed += (allowed.empty() ? "" : ", ") + a;
        return "must be one of " + allowed;
      }
      return "";
  }
  return "";
}

std::vector<Listener> parse_listeners(const std::string& key, const std::vector<std::string>& items) {
  std::vector<Listener> out;
  for (const auto& item : items) {
    auto sep = item.find("://");
    auto colon = item.rfind(':');
    if (sep == std::string::npos || colon == std::string::npos || colon < sep + 3)
      throw ConfigError(key + ": '" + item + "' is not NAME://host:port");
    Listener l;
    l.name = item.substr(0, sep);
    l.host = item.substr(sep + 3, colon - sep - 3);
    if (!l.host.empty() && l.host.front() == '[' && l.host.back() == ']')
      l.host = l.host.substr(1, l.host.size() - 2);
    int64_t port;
    if (!parse_long(item.substr(colon + 1), port) || port < 0 || port > 65535)
      throw ConfigError(key + ": '" + item + "' has no valid port (0-65535)");
    l.port = static_cast<uint16_t>(port);
    if (l.name.empty()) throw ConfigError(key + ": '" + item + "' has no listener name");
    for (const auto& o : out)
      if (o.name == l.name) throw ConfigError(key + ": listener name " + l.name + " is used twice");
    out.push_back(l);
  }
  return out;
}

BrokerConfig BrokerConfig::from_yaml(std::string_view text, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("YAML syntax: ") + e.what());
  }
  if (!root.IsNull() && !root.IsMap()) throw ConfigError("the configuration must be a YAML map of properties");
  std::vector<std::pair<std::string, std::optional<std::string>>> flat;
  flatten(root, "", flat);
  BrokerConfig c;
  auto set = [&](const std::string& key, const std::optional<std::string>& value, bool override) {
    const PropertyDef* d = find(broker_properties(), key);
    if (!d) throw ConfigError(key + ": unknown property (see kbroker --help for the list)");
    if (!override && c.values_.count(key))
      throw ConfigError(key + ": set twice (nested and dotted forms name the same property)");
    if (value) {
      std::string why = check_value(*d, *value);
      if (!why.empty()) throw ConfigError(key + ": invalid value '" + *value + "': " + why);
    }
    c.values_[key] = value;
  };
  for (const auto& [k, v] : flat) set(k, v, false);
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos) throw ConfigError("--set " + o + ": expected key=value");
    std::string key = trim(o.substr(0, eq));
    YAML::Node n;
    try {
      n = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception&) {
      n = YAML::Node(o.substr(eq + 1));
    }
    std::vector<std::pair<std::string, std::optional<std::string>>> one;
    flatten(n, key, one);
    for (const auto& [k, v] : one) set(k, v, true);
  }
  // Cross-property rules.
  if (!c.raw("node.id") && c.raw("broker.id")) c.values_["node.id"] = c.raw("broker.id");
  if (!c.raw("node.id")) throw ConfigError("node.id: required (an integer id of this node)");
  if (c.raw("broker.id") && c.raw("broker.id") != c.raw("node.id"))
    throw ConfigError("broker.id: must equal node.id when both are set");
  c.listeners();
  c.advertised_listeners();
  if (c.log_dirs().empty()) throw ConfigError("log.dirs: at least one directory is required");
  auto m = c.get_string("metrics.listener");
  auto colon = m.rfind(':');
  int64_t port;
  if (colon == std::string::npos || !parse_long(m.substr(colon + 1), port) || port < 0 || port > 65535)
    throw ConfigError("metrics.listener: '" + m + "' is not host:port");
  return c;
}

BrokerConfig BrokerConfig::from_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read configuration file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_yaml(ss.str(), overrides);
}

std::string_view BrokerConfig::embedded_default() { return kEmbeddedBrokerYaml; }

std::optional<std::string> BrokerConfig::raw(std::string_view name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  const PropertyDef* d = find(broker_properties(), name);
  return d ? d->default_value : std::nullopt;
}

bool BrokerConfig::is_set(std::string_view name) const { return values_.count(name) > 0; }
bool BrokerConfig::get_bool(std::string_view name) const { return raw(name).value_or("false") == "true"; }
int64_t BrokerConfig::get_long(std::string_view name) const {
  int64_t x = 0;
  auto v = raw(name);
  if (v) parse_long(*v, x);
  return x;
}
int32_t BrokerConfig::get_int(std::string_view name) const { return static_cast<int32_t>(get_long(name)); }
double BrokerConfig::get_double(std::string_view name) const {
  auto v = raw(name);
  return v ? std::strtod(v->c_str(), nullptr) : 0.0;
}
std::string BrokerConfig::get_string(std::string_view name) const { return raw(name).value_or(""); }
std::vector<std::string> BrokerConfig::get_list(std::string_view name) const {
  auto v = raw(name);
  return v ? split_list(*v) : std::vector<std::string>{};
}

int32_t BrokerConfig::node_id() const { return get_int("node.id"); }
std::vector<Listener> BrokerConfig::listeners() const {
  return parse_listeners("listeners", get_list("listeners"));
}
std::vector<Listener> BrokerConfig::advertised_listeners() const {
  auto adv = raw("advertised.listeners") ? parse_listeners("advertised.listeners", get_list("advertised.listeners"))
                                         : listeners();
  for (auto& l : adv) {
    // Like Kafka: an unspecified host is advertised as this machine's name.
    if (l.host.empty() || l.host == "0.0.0.0" || l.host == "::") {
      char name[256] = {};
      if (gethostname(name, sizeof name - 1) == 0 && name[0]) l.host = name;
      else l.host = "localhost";
    }
  }
  return adv;
}
std::vector<std::string> BrokerConfig::log_dirs() const {
  if (raw("log.dirs")) return get_list("log.dirs");
  return split_list(get_string("log.dir"));
}
int64_t BrokerConfig::log_retention_ms() const {
  if (raw("log.retention.ms")) return get_long("log.retention.ms");
  if (raw("log.retention.minutes")) {
    int64_t m = get_long("log.retention.minutes");
    return m < 0 ? -1 : m * 60000;
  }
  int64_t h = get_long("log.retention.hours");
  return h < 0 ? -1 : h * 3600000;
}
int64_t BrokerConfig::log_roll_ms() const {
  if (raw("log.roll.ms")) return get_long("log.roll.ms");
  return get_long("log.roll.hours") * 3600000;
}
std::string BrokerConfig::metrics_host() const {
  auto m = get_string("metrics.listener");
  return m.substr(0, m.rfind(':'));
}
uint16_t BrokerConfig::metrics_port() const {
  auto m = get_string("metrics.listener");
  return static_cast<uint16_t>(std::atoi(m.substr(m.rfind(':') + 1).c_str()));
}

Result<TopicConfig> TopicConfig::make(const BrokerConfig& broker, const std::map<std::string, std::string>& overrides) {
  TopicConfig t;
  for (const auto& [name, value] : overrides) {
    const PropertyDef* d = find(topic_properties(), name);
    if (!d) return Error{ErrorCode::INVALID_CONFIG, "Unknown topic config name: " + name};
    std::string why = check_value(*d, value);
    if (!why.empty())
      return Error{ErrorCode::INVALID_CONFIG,
                   "Invalid value " + value + " for configuration " + name + ": " + why};
  }
  t.overrides_ = overrides;
  for (const auto& d : topic_properties()) {
    auto it = overrides.find(d.name);
    if (it != overrides.end()) {
      t.effective_[d.name] = it->second;
      continue;
    }
    // The broker-level synonym is the default, with Kafka's precedence for time settings.
    std::optional<std::string> v;
    if (d.name == "retention.ms") v = std::to_string(broker.log_retention_ms());
    else if (d.name == "segment.ms") v = std::to_string(broker.log_roll_ms());
    else if (!d.topic_synonym.empty() && broker.raw(d.topic_synonym)) v = broker.raw(d.topic_synonym);
    t.effective_[d.name] = v.value_or(d.default_value.value_or(""));
  }
  return t;
}

std::string TopicConfig::get(std::string_view name) const {
  auto it = effective_.find(std::string(name));
  return it == effective_.end() ? "" : it->second;
}
int64_t TopicConfig::get_long(std::string_view name) const {
  int64_t x = 0;
  parse_long(get(name), x);
  return x;
}

std::string properties_help() {
  std::ostringstream o;
  for (const auto& d : broker_properties()) {
    o << "  " << d.name << " (" << type_name(d.type) << ", default "
      << (d.default_value ? (d.default_value->empty() ? "\"\"" : *d.default_value) : "null") << ")\n      "
      << d.doc << "\n";
  }
  return o.str();
}

}  // namespace kb::config
