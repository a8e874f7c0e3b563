// Handler for api IncrementalAlterConfigs (key 44), versions 0..1: SET, DELETE, APPEND and
// SUBTRACT on a topic's configs, applied to its current overrides.
#include <algorithm>

#include "config/parse.h"
#include "protocol/messages/incremental_alter_configs_request.h"
#include "protocol/messages/incremental_alter_configs_response.h"
#include "server/handlers/alter_configs_common.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

enum Op : int8_t { kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3 };

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// Applies one operation to `overrides`; an outcome on refusal.
std::optional<alter_configs::Outcome> apply(Broker& broker, std::map<std::string, std::string>& overrides,
                                            const std::string& name, int8_t op, const std::optional<std::string>& value) {
  using alter_configs::Outcome;
  const config::PropertyDef* def = config::find_topic_property(name);
  if (!def) return Outcome{ErrorCode::INVALID_CONFIG, "Unknown topic config name: " + name};
  switch (op) {
    case kSet:
      if (!value) return Outcome{ErrorCode::INVALID_REQUEST, "Null value not supported for: " + name};
      overrides[name] = *value;
      return std::nullopt;
    case kDelete:
      overrides.erase(name);
      return std::nullopt;
    case kAppend:
    case kSubtract: {
      if (def->type != config::Type::List)
        return Outcome{ErrorCode::INVALID_CONFIG, std::string("Config value ") + (op == kAppend ? "append" : "subtract") +
                                                      " is not allowed for config key: " + name};
      // The current effective list (override or default), then the change.
      auto tc = config::TopicConfig::make(broker.config(), overrides);
      std::string now = tc.ok() ? tc->get(name) : overrides[name];
      auto items = config::detail::split_list(now);
      for (const auto& v : config::detail::split_list(value.value_or(""))) {
        auto it = std::find(items.begin(), items.end(), v);
        if (op == kAppend && it == items.end()) items.push_back(v);
        if (op == kSubtract && it != items.end()) items.erase(it);
      }
      overrides[name] = join(items);
      return std::nullopt;
    }
  }
  return Outcome{ErrorCode::INVALID_REQUEST, "Unknown config operation " + std::to_string(op)};
}

}  // namespace

void handle_incremental_alter_configs(RequestContext& ctx, Respond respond) {
  msg::IncrementalAlterConfigsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  msg::IncrementalAlterConfigsResponse resp;
  std::set<std::pair<int8_t, std::string>> seen;
  for (const auto& r : req.resources) {
    alter_configs::Outcome out;
    if (auto refused = alter_configs::check_resource(r.resource_type, r.resource_name, seen)) {
      out = *refused;
    } else if (auto current = alter_configs::current_overrides(broker, r.resource_name, out)) {
      std::set<std::string> named;
      for (const auto& c : r.configs) {
        if (!named.insert(c.name).second) {
          out = {ErrorCode::INVALID_REQUEST, "Error due to duplicate config keys: " + c.name};
          break;
        }
        if (auto refused = apply(broker, *current, c.name, c.config_operation, c.value)) {
          out = *refused;
          break;
        }
      }
      if (out.code == ErrorCode::NONE) out = alter_configs::write(broker, r.resource_name, *current, req.validate_only);
    }
    alter_configs::add_result(resp, r.resource_type, r.resource_name, out, broker, ctx.api_key);
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
