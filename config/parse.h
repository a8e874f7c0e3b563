// Text forms shared by the property table and the loader (internal to config/): Kafka's
// number and list syntax, and the endpoint strings of listeners, voters and metrics.listener.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace kb::config::detail {

std::string trim(std::string_view s);
std::string lower(std::string_view s);
// Kafka's LIST: comma separated, each element trimmed; empty elements dropped.
std::vector<std::string> split_list(std::string_view v);
std::string join(const std::vector<std::string>& items, std::string_view sep);
// Whole-string decimal integer (an optional sign, like Java's parseLong); nullopt otherwise.
std::optional<int64_t> parse_long(std::string_view v);

// "host:port", "[v6]:port"; an empty host is allowed (the caller decides what it means).
// Returns why not in `why` and nullopt on failure.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view v, std::string& why);

// "NAME://host:port" with the name upper-cased (Kafka normalises listener names). The
// security protocol is left for the caller, which knows listener.security.protocol.map.
std::optional<Listener> parse_listener(std::string_view v, std::string& why);
// "id@host:port".
std::optional<QuorumVoter> parse_voter(std::string_view v, std::string& why);
// listener.security.protocol.map: "NAME:PROTOCOL,...", names upper-cased.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_protocol_map(std::string_view v,
                                                                                   std::string& why);

// Broker synonyms of one topic config with the factor that turns each into the topic's unit
// (log.retention.hours -> retention.ms: 3600000). Highest precedence first.
struct Synonym {
  const char* broker_name;
  int64_t factor;
};
const std::vector<Synonym>& synonyms_of(std::string_view topic_config);

// The text form a valid value is stored in: trimmed, booleans lower-case, integers canonical,
// lists as "a,b". Precondition: check_value(def, value) == "".
std::string normalize(const PropertyDef& def, std::string_view value);
// What a valid value looks like, for start-up messages: "a 32-bit integer >= 1".
std::string expectation(const PropertyDef& def);

bool is_ipv4_literal(const std::string& host);
bool is_ipv6_literal(const std::string& host);

// Builds a PropertyDef the way Kafka's ConfigDef.define(...) reads: name, type, default, doc,
// then the rule.
class Def {
 public:
  Def(const char* name, Type type, std::optional<std::string> default_value, const char* doc) {
    d_.name = name;
    d_.type = type;
    d_.default_value = std::move(default_value);
    d_.doc = doc;
  }
  Def& at_least(double v) { return d_.min = v, *this; }
  Def& between(double lo, double hi) { return d_.min = lo, d_.max = hi, *this; }
  Def& in(std::vector<std::string> values) { return d_.one_of = std::move(values), *this; }
  Def& check(std::string (*f)(std::string_view)) { return d_.check = f, *this; }
  Def& dynamic() { return d_.dynamic = true, *this; }
  Def& per_broker() { return d_.dynamic = d_.per_broker = true, *this; }
  Def& listener_only() { return d_.dynamic = d_.per_broker = d_.listener_only = true, *this; }
  Def& not_used() { return d_.not_used = true, *this; }
  Def& topic(const char* t) { return d_.topic_synonym = t, *this; }
  operator PropertyDef() const { return d_; }

 private:
  PropertyDef d_;
};

// Kafka 3.9's properties that kbroker accepts for compatibility (kafka_compat.cc), appended
// to broker_properties() and topic_properties().
const std::vector<PropertyDef>& compat_broker_properties();
const std::vector<PropertyDef>& compat_topic_properties();
// TLS and SASL settings of listeners (security_properties.cc), also appended to
// broker_properties(); listener_property_base names the one a
// `listener.name.<l>.[<mechanism>.]<property>` key overrides (nullopt: no such override).
const std::vector<PropertyDef>& security_transport_properties();
std::optional<std::string> listener_property_base(std::string_view name);
// The authorizer's settings (authorizer_properties.cc), part of broker_properties().
const std::vector<PropertyDef>& authorizer_properties();

// Kafka's MetadataVersion strings ("3.0-IV1", or a release such as "2.8" or "0.10.2" for its
// last version; longer forms like "2.8.1" are cut to the release): the position in Kafka's
// list, nullopt when not a version.
std::optional<int> metadata_version_index(std::string_view v);
int metadata_version_index_of_record_v2();  // 0.11.0-IV0: the first with record batches (v2)
int metadata_version_index_of_kraft_minimum();  // 3.0-IV1

}  // namespace kb::config::detail
