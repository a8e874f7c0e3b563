// kbctl topic create | list | describe | alter-config | add-partitions | delete.
#include <algorithm>
#include <cstdint>
#include <iostream>

#include "protocol/messages/create_partitions_request.h"
#include "protocol/messages/create_partitions_response.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "protocol/messages/delete_topics_request.h"
#include "protocol/messages/delete_topics_response.h"
#include "protocol/messages/describe_configs_request.h"
#include "protocol/messages/describe_configs_response.h"
#include "protocol/messages/incremental_alter_configs_request.h"
#include "protocol/messages/incremental_alter_configs_response.h"
#include "tools/kbctl/configs.h"
#include "tools/kbctl/kbctl.h"
#include "tools/kbctl/offsets.h"

namespace kb::kbctl {
namespace {

// Prints per-item outcomes and returns the exit code of the first failure (0: none).
struct Outcomes {
  Table table{{"TOPIC", "STATUS"}};
  Json json = Json::array();
  int rc = kExitOk;
  void add(Context& ctx, Client& c, const std::string& topic, int32_t node, int16_t code,
           const std::optional<std::string>& message, Json extra = Json::object()) {
    auto e = static_cast<ErrorCode>(code);
    std::string status = e == ErrorCode::NONE ? "OK" : c.refusal(node, e, message);
    if (e != ErrorCode::NONE) {
      if (rc == kExitOk) rc = exit_code_for(e);
      if (!ctx.json()) std::cerr << "kbctl: topic " << topic << ": " << status << "\n";
    }
    table.add({topic, e == ErrorCode::NONE ? "OK" : std::string(error_name(e))});
    Json j{{"name", topic}};
    for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
    j["error"] = e == ErrorCode::NONE ? Json(nullptr) : Json(std::string(error_name(e)));
    j["error_message"] = e == ErrorCode::NONE ? Json(nullptr) : Json(status);
    json.push_back(std::move(j));
  }
  int print(Context& ctx) {
    print_result(ctx, json, table);
    return rc;
  }
};

int topic_create(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  msg::CreateTopicsRequest req;
  req.timeout_ms = 30000;
  req.validate_only = a.flag("dry-run");
  auto partitions = a.get_int("partitions").value_or(-1);
  auto replicas = a.get_int("replicas").value_or(-1);
  if (partitions == 0 || partitions < -1 || partitions > INT32_MAX)
    usage_error("--partitions: expected a positive number");
  if (replicas == 0 || replicas < -1 || replicas > INT16_MAX)
    usage_error("--replicas: expected a positive number");
  for (const auto& name : a.positional) {
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = static_cast<int32_t>(partitions);
    t.replication_factor = static_cast<int16_t>(replicas);
    for (const auto& kv : a.all("config")) {
      auto [k, v] = split_assignment(kv, "--config");
      auto& cfg = t.configs.emplace_back();
      cfg.name = k;
      cfg.value = v;
    }
  }
  int32_t node = -1;
  auto resp = must(c.call_controller<msg::CreateTopicsRequest, msg::CreateTopicsResponse>(req, 7, &node));
  Outcomes out;
  for (const auto& t : resp.topics) {
    Json extra{
        {"partitions", t.num_partitions >= 0 ? Json(t.num_partitions) : Json(partitions)},
        {"replication_factor", t.replication_factor >= 0 ? Json(t.replication_factor) : Json(replicas)}};
    if (!t.topic_id.is_zero()) extra["topic_id"] = t.topic_id.to_string();
    out.add(ctx, c, t.name, node, t.error_code, t.error_message, extra);
  }
  return out.print(ctx);
}

int topic_list(Context& ctx, const Args& a) {
  auto md = must(ctx.client().metadata(std::nullopt));
  auto topics = md.topics;
  std::sort(topics.begin(), topics.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  const bool internal = a.flag("internal");
  Table t({"NAME", "PARTITIONS", "REPLICAS"});
  Json j = Json::array();
  for (const auto& topic : topics) {
    if (topic.is_internal && !internal) continue;
    const size_t replicas = topic.partitions.empty() ? 0 : topic.partitions.front().replica_nodes.size();
    t.add({topic.name.value_or(""), std::to_string(topic.partitions.size()), std::to_string(replicas)});
    j.push_back({{"name", topic.name.value_or("")},
                 {"topic_id", topic.topic_id.is_zero() ? Json(nullptr) : Json(topic.topic_id.to_string())},
                 {"partitions", topic.partitions.size()},
                 {"replication_factor", replicas},
                 {"internal", topic.is_internal}});
  }
  print_result(ctx, j, t);
  return kExitOk;
}

int topic_describe(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  const std::string name = a.positional[0];
  auto md = must(c.metadata(std::vector<std::string>{name}));
  const auto& topic = topic_or_fail(c, md, name);
  auto configs = describe_configs(c, kTopicResource, name, std::nullopt, std::nullopt);
  const bool all = a.flag("all-configs");
  auto parts = topic.partitions;
  std::sort(parts.begin(), parts.end(),
            [](const auto& x, const auto& y) { return x.partition_index < y.partition_index; });
  std::vector<TopicPartition> tps;
  for (const auto& p : parts) tps.push_back({name, p.partition_index});
  auto starts = list_offsets(c, md, tps, kEarliest);
  auto ends = list_offsets(c, md, tps, kLatest);
  auto offset = [](const OffsetLookup& l, const TopicPartition& tp) -> std::optional<int64_t> {
    auto it = l.offsets.find(tp);
    if (it == l.offsets.end()) return std::nullopt;
    return it->second;
  };
  const size_t rf = parts.empty() ? 0 : parts.front().replica_nodes.size();
  if (ctx.json()) {
    Json j;
    j["name"] = name;
    j["topic_id"] = topic.topic_id.is_zero() ? Json(nullptr) : Json(topic.topic_id.to_string());
    j["internal"] = topic.is_internal;
    j["partition_count"] = parts.size();
    j["replication_factor"] = rf;
    j["configs"] = Json::array();
    for (const auto& cfg : configs)
      if (all || cfg.source == kSourceTopic) j["configs"].push_back(config_json(cfg));
    j["partitions"] = Json::array();
    for (const auto& p : parts) {
      TopicPartition tp{name, p.partition_index};
      auto s = offset(starts, tp), e = offset(ends, tp);
      j["partitions"].push_back({{"partition", p.partition_index},
                                 {"leader", p.leader_id},
                                 {"leader_epoch", p.leader_epoch},
                                 {"replicas", p.replica_nodes},
                                 {"isr", p.isr_nodes},
                                 {"offline_replicas", p.offline_replicas},
                                 {"log_start_offset", s ? Json(*s) : Json(nullptr)},
                                 {"high_watermark", e ? Json(*e) : Json(nullptr)}});
    }
    print_json(ctx.out, j);
    return kExitOk;
  }
  ctx.out << "NAME        " << name << "\n"
          << "ID          " << (topic.topic_id.is_zero() ? "-" : topic.topic_id.to_string()) << "\n"
          << "INTERNAL    " << (topic.is_internal ? "yes" : "no") << "\n"
          << "PARTITIONS  " << parts.size() << "\n"
          << "REPLICAS    " << rf << "\n\n";
  Table ct({"CONFIG", "VALUE", "SOURCE"});
  for (const auto& cfg : configs)
    if (all || cfg.source == kSourceTopic) ct.add({cfg.name, cfg.shown_value(), source_name(cfg.source)});
  if (ct.empty())
    ctx.out << (all ? "(no configs)\n" : "(no topic overrides; --all-configs shows every config)\n");
  else
    ct.print(ctx.out);
  ctx.out << "\n";
  Table pt({"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE", "LOG-START", "HIGH-WATERMARK"});
  for (const auto& p : parts) {
    TopicPartition tp{name, p.partition_index};
    auto s = offset(starts, tp), e = offset(ends, tp);
    pt.add({std::to_string(p.partition_index), std::to_string(p.leader_id), std::to_string(p.leader_epoch),
            join(p.replica_nodes), join(p.isr_nodes),
            p.offline_replicas.empty() ? "-" : join(p.offline_replicas), s ? std::to_string(*s) : "?",
            e ? std::to_string(*e) : "?"});
  }
  pt.print(ctx.out);
  return kExitOk;
}

int topic_alter_config(Context& ctx, const Args& a) {
  const std::string name = a.positional[0];
  if (a.all("set").empty() && a.all("delete").empty())
    usage_error("kbctl topic alter-config: nothing to do (-s key=value or -d key)");
  alter_configs(ctx, kTopicResource, name, a.all("set"), a.all("delete"), "topic " + name);
  return kExitOk;
}

int topic_add_partitions(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  const std::string name = a.positional[0];
  const std::string& count_text = a.positional[1];
  auto md = must(c.metadata(std::vector<std::string>{name}));
  const auto& topic = topic_or_fail(c, md, name);
  const int64_t current = static_cast<int64_t>(topic.partitions.size());
  auto n = parse_int(count_text[0] == '+' ? count_text.substr(1) : count_text);
  if (!n || *n <= 0)
    usage_error("kbctl topic add-partitions: COUNT must be a positive number or +N, got '" + count_text +
                "'");
  const int64_t total = count_text[0] == '+' ? current + *n : *n;
  msg::CreatePartitionsRequest req;
  req.timeout_ms = 30000;
  req.validate_only = a.flag("dry-run");
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.count = static_cast<int32_t>(total);
  t.assignments.reset();
  int32_t node = -1;
  auto resp =
      must(c.call_controller<msg::CreatePartitionsRequest, msg::CreatePartitionsResponse>(req, 3, &node));
  Outcomes out;
  for (const auto& r : resp.results)
    out.add(ctx, c, r.name, node, r.error_code, r.error_message,
            Json{{"partitions_before", current}, {"partitions", total}});
  return out.print(ctx);
}

int topic_delete(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  msg::DeleteTopicsRequest req;
  req.timeout_ms = 30000;
  req.topic_names = a.positional;
  int32_t node = -1;
  // v6 names topics by id or name in another shape; v0-5 by name is what every broker takes.
  auto resp = must(c.call_controller<msg::DeleteTopicsRequest, msg::DeleteTopicsResponse>(req, 5, &node));
  Outcomes out;
  for (const auto& r : resp.responses)
    out.add(ctx, c, r.name.value_or(""), node, r.error_code, r.error_message);
  return out.print(ctx);
}

}  // namespace

std::vector<Command> topic_commands() {
  const Option dry_run{"dry-run", 0, "", "validate only: the broker checks the request and changes nothing"};
  return {
      {"topic",
       "create",
       "NAME...",
       "Create topics",
       "Partitions and replicas default to the brokers' num.partitions and\n"
       "default.replication.factor. Example: kbctl topic create orders -p 6 -r 3 -c retention.ms=86400000",
       {{"partitions", 'p', "N", "number of partitions"},
        {"replicas", 'r', "N", "replication factor"},
        {"config", 'c', "KEY=VALUE", "a topic config (repeatable)"},
        dry_run},
       1,
       SIZE_MAX,
       topic_create},
      {"topic",
       "list",
       "",
       "List topics with their partition and replica counts",
       "",
       {{"internal", 'i', "", "include internal topics (__consumer_offsets, ...)"}},
       0,
       0,
       topic_list},
      {"topic",
       "describe",
       "NAME",
       "A topic's id, configs and partitions (leader, replicas, ISR, offsets)",
       "Configs shown are the topic's own overrides unless --all-configs is given. Offsets are\n"
       "asked of each partition's leader: LOG-START is the earliest offset, HIGH-WATERMARK the\n"
       "offset after the last committed record.",
       {{"all-configs", 'a', "", "show every config with its source, defaults included"}},
       1,
       1,
       topic_describe},
      {"topic",
       "alter-config",
       "NAME",
       "Set or remove topic configs (IncrementalAlterConfigs)",
       "Example: kbctl topic alter-config orders -s cleanup.policy=compact -d retention.ms",
       {{"set", 's', "KEY=VALUE", "set a config (repeatable)"},
        {"delete", 'd', "KEY", "remove an override, back to the default (repeatable)"}},
       1,
       1,
       topic_alter_config},
      {"topic",
       "add-partitions",
       "NAME COUNT",
       "Grow a topic to COUNT partitions (or by N with +N)",
       "Partitions can only be added. Example: kbctl topic add-partitions orders 12",
       {dry_run},
       2,
       2,
       topic_add_partitions},
      {"topic", "delete", "NAME...", "Delete topics and their data", "", {}, 1, SIZE_MAX, topic_delete},
  };
}

}  // namespace kb::kbctl
