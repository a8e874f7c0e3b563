// kbctl config get | set: broker configs, one broker's or the cluster-wide default (KIP-226).
#include <algorithm>
#include <cstdint>
#include <iostream>

#include "tools/kbctl/configs.h"
#include "tools/kbctl/kbctl.h"

namespace kb::kbctl {
namespace {

int config_get(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  int32_t node = -1;
  if (auto b = a.get_int("broker")) {
    node = static_cast<int32_t>(*b);
    must(c.metadata(std::vector<std::string>{}));
    auto ids = c.node_ids();
    if (std::find(ids.begin(), ids.end(), node) == ids.end())
      throw Failure(kExitNotFound,
                    "broker " + std::to_string(node) + " is not in the cluster (brokers: " + join(ids) + ")");
  } else {
    // Any broker's view: the first one listed.
    must(c.metadata(std::vector<std::string>{}));
    auto ids = c.node_ids();
    if (ids.empty()) fail(Error{ErrorCode::BROKER_NOT_AVAILABLE, "the cluster lists no broker"});
    node = ids.front();
  }
  auto configs = describe_configs(c, kBrokerResource, std::to_string(node),
                                  a.positional.empty() ? std::nullopt : std::optional(a.positional), node);
  if (!a.positional.empty()) {
    for (const auto& k : a.positional) {
      bool found = std::any_of(configs.begin(), configs.end(), [&](const auto& e) { return e.name == k; });
      if (!found)
        throw Failure(kExitNotFound, "broker " + std::to_string(node) + " has no config named " + k);
    }
  }
  if (ctx.json()) {
    Json j = Json::array();
    for (const auto& e : configs) j.push_back(config_json(e));
    print_json(ctx.out, {{"broker", node}, {"configs", j}});
    return kExitOk;
  }
  Table t({"CONFIG", "VALUE", "SOURCE"});
  for (const auto& e : configs) t.add({e.name, e.shown_value(), source_name(e.source)});
  t.print(ctx.out);
  return kExitOk;
}

int config_set(Context& ctx, const Args& a) {
  if (a.positional.empty() && a.all("delete").empty())
    usage_error("kbctl config set: nothing to do (KEY=VALUE or -d KEY)");
  if (auto b = a.get_int("broker")) {
    auto node = static_cast<int32_t>(*b);
    must(ctx.client().metadata(std::vector<std::string>{}));
    alter_configs(ctx, kBrokerResource, std::to_string(node), a.positional, a.all("delete"),
                  "broker " + std::to_string(node), node);
  } else {
    alter_configs(ctx, kBrokerResource, "", a.positional, a.all("delete"), "the cluster-wide broker default");
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> config_commands() {
  const Option broker{
      "broker", 'B', "ID",
      "one broker's configs (default: get asks the first broker; set changes the cluster-wide default)"};
  return {
      {"config",
       "get",
       "[KEY...]",
       "Broker configs with their values and sources",
       "Every config of one broker, or only the KEYs named (exit 4 when one does not exist).",
       {broker},
       0,
       SIZE_MAX,
       config_get},
      {"config",
       "set",
       "[KEY=VALUE...]",
       "Change dynamic broker configs, cluster-wide or on one broker",
       "Without --broker the cluster-wide default changes (every broker applies it);\n"
       "-d KEY removes a dynamic value. Example: kbctl config set log.retention.ms=3600000",
       {broker, {"delete", 'd', "KEY", "remove a dynamic config (repeatable)"}},
       0,
       SIZE_MAX,
       config_set},
  };
}

}  // namespace kb::kbctl
