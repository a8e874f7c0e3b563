// What AlterConfigs and IncrementalAlterConfigs share: resource checks and the write of a
// topic's new override set through the controller. Only topics are changed at run time;
// broker configs come from the YAML (changing them live is not supported yet).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "server/broker.h"

namespace kb::server::alter_configs {

constexpr int8_t kTopic = 2;
constexpr int8_t kBroker = 4;

struct Outcome {
  ErrorCode code = ErrorCode::NONE;
  std::string message;
};

// Refusals that do not depend on the change itself: a resource named twice in one request,
// a resource type other than topic.
inline std::optional<Outcome> check_resource(int8_t type, const std::string& name,
                                             std::set<std::pair<int8_t, std::string>>& seen) {
  if (!seen.emplace(type, name).second)
    return Outcome{ErrorCode::INVALID_REQUEST, "Duplicate resource " + name + " in the request"};
  if (type == kBroker)
    return Outcome{ErrorCode::INVALID_REQUEST, "kbroker reads broker configs from its YAML at start-up; "
                                               "they cannot be changed at run time yet"};
  if (type != kTopic) return Outcome{ErrorCode::INVALID_REQUEST, "Unsupported resource type " + std::to_string(type)};
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
  auto s = broker.controller().set_topic_configs(topic, overrides, validate_only);
  if (s.ok()) return {};
  return {s.code(), s.error().message};
}

// One resource's answer (both APIs' responses have the same entry shape).
template <class Response>
void add_result(Response& resp, int8_t type, const std::string& name, const Outcome& out, Broker& broker,
                int16_t api_key) {
  typename decltype(Response::responses)::value_type rr;
  rr.error_code = to_wire(out.code);
  if (out.code != ErrorCode::NONE) {
    rr.error_message = out.message;
    broker.metrics().request_error(api_key, out.code);
  }
  rr.resource_type = type;
  rr.resource_name = name;
  resp.responses.push_back(std::move(rr));
}

}  // namespace kb::server::alter_configs
