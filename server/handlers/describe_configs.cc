// Handler for api DescribeConfigs (key 32), versions 0..4: topic configs (effective values
// with their source and synonyms), this broker's configs (static YAML with the dynamic broker
// configs of KIP-226 on top) and the cluster-wide dynamic default (the BROKER resource "").
#include "protocol/messages/describe_configs_request.h"
#include "protocol/messages/describe_configs_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::DescribeConfigsResponse;
using Entry = Resp::DescribeConfigsResult::DescribeConfigsResourceResult;

constexpr int8_t kTopic = 2;
constexpr int8_t kBroker = 4;
constexpr int8_t kBrokerLogger = 8;

// Kafka's ConfigEntry.ConfigType numbers (DescribeConfigs v3+).
int8_t config_type(config::Type t) {
  switch (t) {
    case config::Type::Bool: return 1;
    case config::Type::String: return 2;
    case config::Type::Int: return 3;
    case config::Type::Long: return 5;
    case config::Type::Double: return 6;
    case config::Type::List: return 7;
    case config::Type::Password: return 9;
  }
  return 0;
}

struct Wanted {
  const std::optional<std::vector<std::string>>& keys;
  bool synonyms;
  bool documentation;
  int16_t version;
  bool includes(const std::string& name) const {
    return !keys || std::find(keys->begin(), keys->end(), name) != keys->end();
  }
};

Entry entry(const config::PropertyDef& def, std::optional<std::string> value, config::ConfigSource source,
            bool read_only, std::vector<config::ConfigSynonym> synonyms, const Wanted& w) {
  Entry e;
  e.name = def.name;
  e.is_sensitive = def.sensitive();
  e.value = e.is_sensitive ? std::nullopt : std::move(value);  // secrets are never sent
  e.read_only = read_only;
  e.is_default = source == config::ConfigSource::DefaultConfig;
  e.config_source = static_cast<int8_t>(source);
  e.config_type = config_type(def.type);
  if (w.documentation) e.documentation = def.doc;
  if (w.synonyms && w.version >= 1)
    for (auto& s : synonyms) {
      Entry::DescribeConfigsSynonym syn;
      syn.name = s.name;
      syn.value = e.is_sensitive ? std::nullopt : s.value;
      syn.source = static_cast<int8_t>(s.source);
      e.synonyms.push_back(std::move(syn));
    }
  return e;
}

void describe_topic(Broker& broker, const std::string& name, const Wanted& w, Resp::DescribeConfigsResult& out) {
  auto image = broker.image();
  const controller::TopicInfo* t = image->topic(name);
  if (!t) {
    out.error_code = to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    out.error_message = "Topic " + name + " does not exist";
    return;
  }
  auto tc = config::TopicConfig::make(*broker.effective_config(), t->configs);
  if (!tc.ok()) {
    out.error_code = to_wire(tc.code());
    out.error_message = tc.error().message;
    return;
  }
  for (const auto& def : config::topic_properties()) {
    if (!w.includes(def.name)) continue;
    // Topic configs are all changeable (AlterConfigs), so none is read-only.
    out.configs.push_back(entry(def, tc->get(def.name), tc->source(def.name), false, tc->synonyms(def.name), w));
  }
}

void describe_broker(Broker& broker, const std::string& name, const Wanted& w, Resp::DescribeConfigsResult& out) {
  auto c = broker.effective_config();
  if (name.empty()) {
    // Kafka's ConfigHelper: the default resource lists only the keys set at the cluster-wide
    // default level, with that value and only that level among the synonyms.
    for (const auto& [key, value] : c->dynamic_default()) {
      const config::PropertyDef* def = config::find_broker_property(key);
      if (!def || !w.includes(key)) continue;
      std::vector<config::ConfigSynonym> synonyms;
      for (auto& s : c->synonyms(key))
        if (s.source == config::ConfigSource::DynamicDefaultBrokerConfig) synonyms.push_back(std::move(s));
      out.configs.push_back(
          entry(*def, value, config::ConfigSource::DynamicDefaultBrokerConfig, !def->dynamic, std::move(synonyms), w));
    }
    return;
  }
  if (name != std::to_string(broker.node_id())) {
    out.error_code = to_wire(ErrorCode::INVALID_REQUEST);
    out.error_message = "Unexpected broker id, expected " + std::to_string(broker.node_id()) +
                        " or empty string, but received " + name;
    return;
  }
  for (const auto& def : config::broker_properties()) {
    if (!w.includes(def.name)) continue;
    out.configs.push_back(entry(def, c->raw(def.name), c->source(def.name), !def.dynamic, c->synonyms(def.name), w));
  }
}

}  // namespace

void handle_describe_configs(RequestContext& ctx, Respond respond) {
  msg::DescribeConfigsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  Resp resp;
  const Access access(ctx);
  using security::AclOperation;
  for (const auto& r : req.resources) {
    Resp::DescribeConfigsResult out;
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    out.error_code = to_wire(ErrorCode::NONE);
    Wanted w{r.configuration_keys, req.include_synonyms, req.include_documentation, ctx.api_version};
    // Kafka: DESCRIBE_CONFIGS on the topic, or on the cluster for broker resources.
    if (r.resource_type == kTopic && !access.topic(AclOperation::DESCRIBE_CONFIGS, r.resource_name)) {
      out.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      out.error_message = "Authorization failed.";
    } else if ((r.resource_type == kBroker || r.resource_type == kBrokerLogger) &&
               !access.cluster(AclOperation::DESCRIBE_CONFIGS)) {
      out.error_code = to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
      out.error_message = "Authorization failed.";
    } else if (r.resource_type == kTopic) {
      describe_topic(broker, r.resource_name, w, out);
    } else if (r.resource_type == kBroker) {
      describe_broker(broker, r.resource_name, w, out);
    } else if (r.resource_type == kBrokerLogger) {
      out.error_code = to_wire(ErrorCode::INVALID_REQUEST);
      out.error_message = "kbroker does not support BROKER_LOGGER resources: its log level is log.level, read at start-up";
    } else {
      out.error_code = to_wire(ErrorCode::INVALID_REQUEST);
      out.error_message = "Unsupported resource type " + std::to_string(r.resource_type);
    }
    if (out.error_code != 0) broker.metrics().request_error(ctx.api_key, static_cast<ErrorCode>(out.error_code));
    resp.results.push_back(std::move(out));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
