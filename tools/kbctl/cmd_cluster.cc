// kbctl cluster info | health: the cluster as Metadata shows it.
#include <algorithm>
#include <iostream>
#include <set>

#include "tools/kbctl/kbctl.h"

namespace kb::kbctl {
namespace {

int cluster_info(Context& ctx, const Args&) {
  auto md = must(ctx.client().metadata(std::nullopt));
  size_t internal = 0, partitions = 0;
  for (const auto& t : md.topics) {
    internal += t.is_internal ? 1 : 0;
    partitions += t.partitions.size();
  }
  auto brokers = md.brokers;
  std::sort(brokers.begin(), brokers.end(),
            [](const auto& a, const auto& b) { return a.node_id < b.node_id; });
  if (ctx.json()) {
    Json j;
    j["cluster_id"] = md.cluster_id ? Json(*md.cluster_id) : Json(nullptr);
    j["controller_id"] = md.controller_id;
    j["brokers"] = Json::array();
    for (const auto& b : brokers)
      j["brokers"].push_back({{"id", b.node_id},
                              {"host", b.host},
                              {"port", b.port},
                              {"rack", b.rack ? Json(*b.rack) : Json(nullptr)}});
    j["topics"] = md.topics.size();
    j["internal_topics"] = internal;
    j["partitions"] = partitions;
    print_json(ctx.out, j);
    return kExitOk;
  }
  ctx.out << "CLUSTER     " << md.cluster_id.value_or("-") << "\n"
          << "CONTROLLER  " << (md.controller_id >= 0 ? std::to_string(md.controller_id) : "none") << "\n"
          << "TOPICS      " << md.topics.size() << " (" << internal << " internal)\n"
          << "PARTITIONS  " << partitions << "\n\n";
  Table t({"BROKER", "HOST", "PORT", "RACK"});
  for (const auto& b : brokers)
    t.add({std::to_string(b.node_id) + (b.node_id == md.controller_id ? "*" : ""), b.host,
           std::to_string(b.port), b.rack.value_or("-")});
  t.print(ctx.out);
  ctx.out << "(* the active controller)\n";
  return kExitOk;
}

int cluster_health(Context& ctx, const Args&) {
  auto md = must(ctx.client().metadata(std::nullopt));
  std::set<int32_t> live;
  for (const auto& b : md.brokers) live.insert(b.node_id);
  std::set<int32_t> down;
  std::vector<std::string> leaderless, under_replicated, offline_replicas;
  for (const auto& t : md.topics) {
    const std::string name = t.name.value_or("");
    for (const auto& p : t.partitions) {
      const std::string tp = name + "-" + std::to_string(p.partition_index);
      if (p.leader_id < 0) leaderless.push_back(tp);
      if (p.isr_nodes.size() < p.replica_nodes.size()) under_replicated.push_back(tp);
      if (!p.offline_replicas.empty()) offline_replicas.push_back(tp);
      for (int32_t r : p.replica_nodes)
        if (!live.count(r)) down.insert(r);
    }
  }
  std::sort(leaderless.begin(), leaderless.end());
  std::sort(under_replicated.begin(), under_replicated.end());
  std::sort(offline_replicas.begin(), offline_replicas.end());
  std::vector<std::string> reasons;
  if (md.controller_id < 0) reasons.push_back("no active controller");
  if (!down.empty()) reasons.push_back("brokers down");
  if (!leaderless.empty()) reasons.push_back("leaderless partitions");
  if (!under_replicated.empty()) reasons.push_back("under-replicated partitions");
  if (!offline_replicas.empty()) reasons.push_back("offline replicas");
  const bool healthy = reasons.empty();
  if (ctx.json()) {
    Json j;
    j["healthy"] = healthy;
    j["unhealthy_reasons"] = reasons;
    j["controller_id"] = md.controller_id;
    j["brokers"] = std::vector<int32_t>(live.begin(), live.end());
    j["brokers_down"] = std::vector<int32_t>(down.begin(), down.end());
    j["leaderless_partitions"] = leaderless;
    j["under_replicated_partitions"] = under_replicated;
    j["partitions_with_offline_replicas"] = offline_replicas;
    print_json(ctx.out, j);
  } else {
    auto list = [](const std::vector<std::string>& v) {
      return v.empty() ? std::string("none") : join(v, " ");
    };
    ctx.out << "HEALTHY                      " << (healthy ? "yes" : "no (" + join(reasons, ", ") + ")")
            << "\n"
            << "CONTROLLER                   "
            << (md.controller_id >= 0 ? std::to_string(md.controller_id) : "none") << "\n"
            << "BROKERS                      " << join(std::vector<int32_t>(live.begin(), live.end())) << "\n"
            << "BROKERS DOWN                 "
            << (down.empty() ? "none" : join(std::vector<int32_t>(down.begin(), down.end()))) << "\n"
            << "LEADERLESS PARTITIONS        " << list(leaderless) << "\n"
            << "UNDER-REPLICATED PARTITIONS  " << list(under_replicated) << "\n"
            << "OFFLINE REPLICAS             " << list(offline_replicas) << "\n";
  }
  return healthy ? kExitOk : kExitFailed;
}

}  // namespace

std::vector<Command> cluster_commands() {
  return {
      {"cluster",
       "info",
       "",
       "Cluster id, active controller, brokers, topic and partition counts",
       "",
       {},
       0,
       0,
       cluster_info},
      {"cluster",
       "health",
       "",
       "Whether every partition has a leader and a full ISR; exit 1 when not",
       "Unhealthy when no controller is active, a broker named in a replica list is not in the\n"
       "cluster, or a partition has no leader, fewer in-sync replicas than replicas, or offline\n"
       "replicas. Exit code 0 when healthy, 1 when not (the reasons are printed).",
       {},
       0,
       0,
       cluster_health},
  };
}

}  // namespace kb::kbctl
