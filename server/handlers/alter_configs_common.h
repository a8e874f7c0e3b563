// What AlterConfigs and IncrementalAlterConfigs share: resource checks, the write of a
// topic's new override set through the controller, and dynamic broker configs (KIP-226).
//
// TOPIC resources: the handler computes the topic's new override set and the controller
// writes it (set_topic_configs). BROKER resources ("" = the cluster-wide default, "<id>" = one
// broker): the broker that receives the request checks the name (Kafka: "" or its own id) and
// the change against its own configuration (only dynamic properties, valid values, the rules
// between keys), then the active controller applies the same operations to its current set
// and writes ConfigRecords; every broker picks the new values up from its metadata image
// (Broker::effective_config). The receiving broker forwards what it accepts (topic and broker
// resources) to the active controller in an Envelope (server/forwarding.h); the controller
// knows a forwarded request (ctx.forwarded) and then accepts any broker id (Kafka's
// ControllerApis).
// BROKER_LOGGER (log levels) is refused: kbroker's log level is log.level, read at start-up.
//
// Threads: the receiving broker checks and forwards on the network thread (nothing waits
// for the controller's answer); the controller runs the forwarded request on its
// controller-request thread (inside the Envelope), since committing waits for the quorum.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/parse.h"
#include "protocol/messages/alter_configs_request.h"
#include "protocol/messages/alter_configs_response.h"
#include "protocol/messages/incremental_alter_configs_request.h"
#include "protocol/messages/incremental_alter_configs_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server::alter_configs {

constexpr int8_t kTopic = 2;
constexpr int8_t kBroker = 4;
constexpr int8_t kBrokerLogger = 8;

// IncrementalAlterConfigs operations (AlterConfigOp.OpType ids).
enum Op : int8_t { kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3 };

struct Outcome {
  ErrorCode code = ErrorCode::NONE;
  std::string message;
};

inline Outcome from_status(const Status& s) {
  if (s.ok()) return {};
  return {s.code(), s.error().message};
}

// One config operation of either API (AlterConfigs: every one is a SET).
struct ConfigOp {
  std::string name;
  int8_t op = kSet;
  std::optional<std::string> value;
};

// One resource of either request.
struct ResourceChange {
  int8_t type = 0;
  std::string name;
  bool replace = false;  // AlterConfigs: the given configs become the resource's whole set
  std::vector<ConfigOp> ops;
};

// Refusals that do not depend on the change itself: a resource named twice in one request,
// a resource type other than topic and broker.
inline std::optional<Outcome> check_resource(int8_t type, const std::string& name,
                                             std::set<std::pair<int8_t, std::string>>& seen) {
  if (!seen.emplace(type, name).second)
    return Outcome{ErrorCode::INVALID_REQUEST, "Duplicate resource " + name + " in the request"};
  if (type == kBrokerLogger)
    return Outcome{ErrorCode::INVALID_REQUEST,
                   "kbroker does not support BROKER_LOGGER resources: its log level is log.level, read at start-up"};
  if (type != kTopic && type != kBroker)
    return Outcome{ErrorCode::INVALID_REQUEST, "Unsupported resource type " + std::to_string(type)};
  return std::nullopt;
}

// The topic's overrides now; nullopt (and the outcome) when it does not exist.
inline std::optional<std::map<std::string, std::string>> current_overrides(Broker& broker, const std::string& topic,
                                                                           Outcome& out) {
  auto image = broker.image();
  const controller::TopicInfo* t = image->topic(topic);
  if (!t) {
    out = {ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "Topic " + topic + " does not exist"};
    return std::nullopt;
  }
  return t->configs;
}

inline Outcome write(Broker& broker, const std::string& topic, const std::map<std::string, std::string>& overrides,
                     bool validate_only) {
  Outcome out = from_status(broker.controller().set_topic_configs(topic, overrides, validate_only));
  if (out.code == ErrorCode::NONE && !validate_only)
    if (auto w = config::ignored_topic_config_warning(topic, overrides); !w.empty()) spdlog::warn("{}", w);
  return out;
}

// ---- BROKER resources (KIP-226) ----------------------------------------------------------

// Kafka's checks of a BROKER resource on the receiving broker (ConfigAdminManager.preprocess):
// the name is "" or this broker's id; no key twice; no null value except for DELETE.
inline std::optional<Outcome> check_broker_change(const Broker& broker, const ResourceChange& c, bool from_peer) {
  if (!c.name.empty() && !from_peer) {
    auto id = config::detail::parse_long(c.name);
    if (!id || *id < INT32_MIN || *id > INT32_MAX)
      return Outcome{ErrorCode::INVALID_REQUEST, "Node id must be an integer, but it is: " + c.name};
    if (*id != broker.node_id())
      return Outcome{ErrorCode::INVALID_REQUEST, "Unexpected broker id, expected " + std::to_string(broker.node_id()) +
                                                     ", but received " + c.name};
  }
  std::set<std::string> names;
  std::vector<std::string> nulls;
  for (const auto& o : c.ops) {
    if (!names.insert(o.name).second) return Outcome{ErrorCode::INVALID_REQUEST, "Error due to duplicate config keys"};
    if (o.op != kDelete && !o.value) nulls.push_back(o.name);
  }
  if (!nulls.empty())
    return Outcome{ErrorCode::INVALID_REQUEST, "Null value not supported for : " + config::detail::join(nulls, ", ")};
  return std::nullopt;
}

// Applies the operations to a BROKER resource's stored configs. APPEND/SUBTRACT start from
// the resource's stored value, else the property's built-in default (Kafka's
// prepareIncrementalConfigs), and only apply to LIST properties.
inline Status apply_broker_ops(std::map<std::string, std::string>& configs, const ResourceChange& c) {
  if (c.replace) configs.clear();
  for (const auto& o : c.ops) {
    switch (o.op) {
      case kSet:
        configs[o.name] = o.value.value_or("");
        break;
      case kDelete:
        configs.erase(o.name);
        break;
      case kAppend:
      case kSubtract: {
        const config::PropertyDef* d = config::find_broker_property(o.name);
        if (d && d->type != config::Type::List)
          return Error{ErrorCode::INVALID_CONFIG, std::string("Config value ") + (o.op == kAppend ? "append" : "subtract") +
                                                      " is not allowed for config key: " + o.name};
        std::string now = configs.count(o.name)       ? configs[o.name]
                          : d && d->default_value ? *d->default_value
                                                  : "";
        auto items = config::detail::split_list(now);
        for (const auto& v : config::detail::split_list(o.value.value_or(""))) {
          auto it = std::find(items.begin(), items.end(), v);
          if (o.op == kAppend && it == items.end()) items.push_back(v);
          if (o.op == kSubtract && it != items.end()) items.erase(it);
        }
        configs[o.name] = config::detail::join(items, ",");
        break;
      }
      default:
        return Error{ErrorCode::INVALID_REQUEST, "Unknown operations type " + std::to_string(o.op)};
    }
  }
  return {};
}

// The edit the controller applies under its lock: the operations, then (on the receiving
// broker) Kafka's DynamicBrokerConfig.validate against this broker's own configuration, so
// rules between keys (retention 0, compaction lags) see the change together with the static
// YAML and the other dynamic layer.
inline controller::Controller::ConfigEdit broker_edit(Broker& broker, ResourceChange c, bool from_peer) {
  return [&broker, c = std::move(c), from_peer](std::map<std::string, std::string>& configs) -> Status {
    if (auto s = apply_broker_ops(configs, c); !s.ok()) return s;
    if (auto s = config::check_dynamic_broker_configs(configs, c.name.empty()); !s.ok()) return s;
    if (from_peer) return {};  // the forwarding broker checked it against its own config
    static const std::map<std::string, std::string> kNone;
    auto image = broker.image();
    const auto* cluster_default = image->broker_configs("");
    const auto* mine = image->broker_configs(std::to_string(broker.node_id()));
    auto effective = c.name.empty() ? broker.config().with_dynamic(configs, mine ? *mine : kNone)
                                    : broker.config().with_dynamic(cluster_default ? *cluster_default : kNone, configs);
    if (!effective.ok()) return effective.error();
    // A listener's new key or trust store must load (Kafka's SslFactory.validateReconfiguration).
    const bool stores = std::any_of(c.ops.begin(), c.ops.end(),
                                    [](const ConfigOp& o) { return config::dynamic_listener_property(o.name); });
    if (stores) return broker.check_listener_stores(*effective);
    return {};
  };
}

// The same edit on this broker's image, without writing: what a broker that is not the
// controller checks before it forwards (Kafka validates BROKER changes on the receiving broker).
inline Outcome check_locally(Broker& broker, const ResourceChange& c) {
  std::map<std::string, std::string> configs;
  if (const auto* stored = broker.image()->broker_configs(c.name)) configs = *stored;
  return from_status(broker_edit(broker, c, false)(configs));
}

// The forwarded request: the BROKER resources in the API the client used.
inline void fill_forward(msg::AlterConfigsRequest& req, const ResourceChange& c) {
  auto& r = req.resources.emplace_back();
  r.resource_type = c.type;
  r.resource_name = c.name;
  for (const auto& o : c.ops) {
    auto& e = r.configs.emplace_back();
    e.name = o.name;
    e.value = o.value;
  }
}
inline void fill_forward(msg::IncrementalAlterConfigsRequest& req, const ResourceChange& c) {
  auto& r = req.resources.emplace_back();
  r.resource_type = c.type;
  r.resource_name = c.name;
  for (const auto& o : c.ops) {
    auto& e = r.configs.emplace_back();
    e.name = o.name;
    e.config_operation = o.op;
    e.value = o.value;
  }
}

// One resource's answer (both APIs' responses have the same entry shape).
template <class Response>
void add_result(Response& resp, int8_t type, const std::string& name, const Outcome& out, Broker& broker,
                int16_t api_key) {
  typename decltype(Response::responses)::value_type rr;
  rr.error_code = to_wire(out.code);
  rr.error_message = std::nullopt;  // Kafka: null on success
  if (out.code != ErrorCode::NONE) {
    rr.error_message = out.message;
    broker.metrics().request_error(api_key, out.code);
  }
  rr.resource_type = type;
  rr.resource_name = name;
  resp.responses.push_back(std::move(rr));
}

// Kafka's check, on the receiving broker and again on the controller: ALTER_CONFIGS on the
// topic, or on the cluster for BROKER and BROKER_LOGGER resources.
inline std::optional<Outcome> authorization_refusal(const Access& access, const ResourceChange& c) {
  using security::AclOperation;
  if (c.type == kTopic && !access.topic(AclOperation::ALTER_CONFIGS, c.name))
    return Outcome{ErrorCode::TOPIC_AUTHORIZATION_FAILED, "Authorization failed."};
  if ((c.type == kBroker || c.type == kBrokerLogger) && !access.cluster(AclOperation::ALTER_CONFIGS))
    return Outcome{ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed."};
  return std::nullopt;
}

// Runs one AlterConfigs / IncrementalAlterConfigs request: `topic_change` answers a TOPIC
// resource (the two APIs differ there), BROKER resources as described at the top. The
// receiving broker answers what it refuses itself and forwards the rest, in a request of the
// client's API and version, to the active controller (Kafka's
// ConfigAdminManager.preprocess, then forwarding), then puts the answers back in the
// request's order. Answers through `respond` exactly once, possibly later.
template <class Request, class Response, class TopicChange>
void run(RequestContext& ctx, Respond respond, std::vector<ResourceChange> changes, bool validate_only,
         TopicChange topic_change) {
  Broker* broker = ctx.broker;
  const int16_t api_key = ctx.api_key, api_version = ctx.api_version;
  const bool on_controller = ctx.forwarded;
  auto outs = std::make_shared<std::vector<Outcome>>(changes.size());
  auto finish = [broker, api_key, api_version, respond, changes, outs]() mutable {
    Response resp;
    for (size_t i = 0; i < changes.size(); ++i)
      add_result(resp, changes[i].type, changes[i].name, (*outs)[i], *broker, api_key);
    send_response(api_version, respond, resp);
  };
  std::set<std::pair<int8_t, std::string>> seen;
  std::vector<size_t> to_forward;
  const Access access(ctx);
  for (size_t i = 0; i < changes.size(); ++i) {
    const ResourceChange& c = changes[i];
    Outcome& out = (*outs)[i];
    if (auto denied = authorization_refusal(access, c)) {
      out = *denied;
    } else if (auto refused = check_resource(c.type, c.name, seen)) {
      out = *refused;
    } else if (c.type == kTopic) {
      if (on_controller) out = topic_change(*broker, c, validate_only);
      else to_forward.push_back(i);
    } else if (auto bad = check_broker_change(*broker, c, on_controller)) {
      out = *bad;
    } else if (on_controller) {
      out = from_status(broker->controller().alter_broker_configs(c.name, broker_edit(*broker, c, true),
                                                                  validate_only));
      if (out.code == ErrorCode::NONE && !validate_only)
        spdlog::info("dynamic broker configs of resource '{}' changed", c.name);
    } else if (out = check_locally(*broker, c); out.code == ErrorCode::NONE) {
      to_forward.push_back(i);
    }
  }
  if (to_forward.empty()) return finish();
  Request req;
  req.validate_only = validate_only;
  for (size_t i : to_forward) fill_forward(req, changes[i]);
  wire::Writer body;
  req.encode(body, api_version);
  forward_to_controller(*broker, ctx, std::move(body.buffer()),
                        [outs, to_forward, finish, api_version](Result<std::vector<uint8_t>> r) mutable {
                          Response resp;
                          if (r.ok()) {
                            wire::Reader rd(std::span<const uint8_t>(r->data(), r->size()));
                            if (!resp.decode(rd, api_version))
                              r = Error{ErrorCode::CORRUPT_MESSAGE, "undecodable answer from the controller"};
                          }
                          for (size_t n = 0; n < to_forward.size(); ++n) {
                            Outcome& out = (*outs)[to_forward[n]];
                            if (!r.ok())
                              out = {r.code(), r.error().message};
                            else if (n >= resp.responses.size())
                              out = {ErrorCode::UNKNOWN_SERVER_ERROR, "the controller returned fewer results than expected"};
                            else
                              out = {static_cast<ErrorCode>(resp.responses[n].error_code),
                                     resp.responses[n].error_message.value_or("")};
                          }
                          finish();
                        });
}

}  // namespace kb::server::alter_configs
