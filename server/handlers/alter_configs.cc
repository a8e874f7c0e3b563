// Handler for api AlterConfigs (key 33), versions 0..2: a topic's overrides, or a BROKER
// resource's dynamic configs (KIP-226: "" the cluster-wide default, "<id>" one broker), become
// exactly the configs given (the ones left out go back to their defaults).
#include "server/handlers/alter_configs_common.h"

namespace kb::server {

namespace {

alter_configs::Outcome change_topic(Broker& broker, const alter_configs::ResourceChange& c, bool validate_only) {
  alter_configs::Outcome out;
  if (!alter_configs::current_overrides(broker, c.name, out)) return out;
  std::map<std::string, std::string> overrides;
  for (const auto& o : c.ops) {
    if (!o.value) return {ErrorCode::INVALID_REQUEST, "Null value not supported for topic configs: " + o.name};
    overrides[o.name] = *o.value;
  }
  return alter_configs::write(broker, c.name, overrides, validate_only);
}

}  // namespace

void handle_alter_configs(RequestContext& ctx, Respond respond) {
  msg::AlterConfigsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  std::vector<alter_configs::ResourceChange> changes;
  for (const auto& r : req.resources) {
    auto& c = changes.emplace_back();
    c.type = r.resource_type;
    c.name = r.resource_name;
    c.replace = true;
    for (const auto& e : r.configs) c.ops.push_back({e.name, alter_configs::kSet, e.value});
  }
  alter_configs::run<msg::AlterConfigsRequest, msg::AlterConfigsResponse>(ctx, std::move(respond), std::move(changes),
                                                                          req.validate_only, change_topic);
}

}  // namespace kb::server
