// Handler for api IncrementalAlterConfigs (key 44), versions 0..1: SET, DELETE, APPEND and
// SUBTRACT on a topic's overrides, or on a BROKER resource's dynamic configs (KIP-226: "" the
// cluster-wide default, "<id>" one broker).
#include <algorithm>

#include "config/parse.h"
#include "server/handlers/alter_configs_common.h"

namespace kb::server {

namespace {

using alter_configs::Outcome;

// Applies one operation to a topic's `overrides`; an outcome on refusal.
std::optional<Outcome> apply(Broker& broker, std::map<std::string, std::string>& overrides, const std::string& name,
                             int8_t op, const std::optional<std::string>& value) {
  const config::PropertyDef* def = config::find_topic_property(name);
  if (!def) return Outcome{ErrorCode::INVALID_CONFIG, "Unknown topic config name: " + name};
  switch (op) {
    case alter_configs::kSet:
      if (!value) return Outcome{ErrorCode::INVALID_REQUEST, "Null value not supported for: " + name};
      overrides[name] = *value;
      return std::nullopt;
    case alter_configs::kDelete:
      overrides.erase(name);
      return std::nullopt;
    case alter_configs::kAppend:
    case alter_configs::kSubtract: {
      if (def->type != config::Type::List)
        return Outcome{ErrorCode::INVALID_CONFIG, std::string("Config value ") +
                                                      (op == alter_configs::kAppend ? "append" : "subtract") +
                                                      " is not allowed for config key: " + name};
      // The current effective list (override or default, dynamic broker defaults included),
      // then the change.
      auto tc = config::TopicConfig::make(*broker.effective_config(), overrides);
      std::string now = tc.ok() ? tc->get(name) : overrides[name];
      auto items = config::detail::split_list(now);
      for (const auto& v : config::detail::split_list(value.value_or(""))) {
        auto it = std::find(items.begin(), items.end(), v);
        if (op == alter_configs::kAppend && it == items.end()) items.push_back(v);
        if (op == alter_configs::kSubtract && it != items.end()) items.erase(it);
      }
      overrides[name] = config::detail::join(items, ",");
      return std::nullopt;
    }
  }
  return Outcome{ErrorCode::INVALID_REQUEST, "Unknown config operation " + std::to_string(op)};
}

Outcome change_topic(Broker& broker, const alter_configs::ResourceChange& c, bool validate_only) {
  Outcome out;
  auto current = alter_configs::current_overrides(broker, c.name, out);
  if (!current) return out;
  std::set<std::string> named;
  for (const auto& o : c.ops) {
    if (!named.insert(o.name).second)
      return {ErrorCode::INVALID_REQUEST, "Error due to duplicate config keys: " + o.name};
    if (auto refused = apply(broker, *current, o.name, o.op, o.value)) return *refused;
  }
  return alter_configs::write(broker, c.name, *current, validate_only);
}

}  // namespace

void handle_incremental_alter_configs(RequestContext& ctx, Respond respond) {
  msg::IncrementalAlterConfigsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  std::vector<alter_configs::ResourceChange> changes;
  for (const auto& r : req.resources) {
    auto& c = changes.emplace_back();
    c.type = r.resource_type;
    c.name = r.resource_name;
    for (const auto& e : r.configs) c.ops.push_back({e.name, e.config_operation, e.value});
  }
  alter_configs::run<msg::IncrementalAlterConfigsRequest, msg::IncrementalAlterConfigsResponse>(
      ctx, std::move(respond), std::move(changes), req.validate_only, change_topic);
}

}  // namespace kb::server
