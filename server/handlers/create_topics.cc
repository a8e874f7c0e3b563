// Handler for api CreateTopics (key 19), versions 0..7.
#include <map>
#include <set>

#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::CreateTopicsResponse;

}  // namespace

void handle_create_topics(RequestContext& ctx, Respond respond) {
  msg::CreateTopicsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;

  // A name given twice in one request is refused for every occurrence (Kafka: INVALID_REQUEST).
  std::map<std::string, int> count;
  for (const auto& t : req.topics) ++count[t.name];

  std::vector<controller::CreateTopicSpec> specs;
  for (const auto& t : req.topics) {
    if (count[t.name] > 1) continue;
    controller::CreateTopicSpec s;
    s.name = t.name;
    s.num_partitions = t.num_partitions;
    s.replication_factor = t.replication_factor;
    for (const auto& a : t.assignments) s.assignments[a.partition_index] = a.broker_ids;
    for (const auto& c : t.configs) {
      if (c.value) s.configs[c.name] = *c.value;
    }
    specs.push_back(std::move(s));
  }
  std::map<std::string, controller::CreateTopicResult> results;
  for (auto& r : broker.controller().create_topics(specs, req.validate_only))
    results.emplace(r.name, std::move(r));

  Resp resp;
  std::set<std::string> answered;
  for (const auto& t : req.topics) {
    if (!answered.insert(t.name).second) continue;
    Resp::CreatableTopicResult tr;
    tr.name = t.name;
    if (count[t.name] > 1) {
      tr.error_code = to_wire(ErrorCode::INVALID_REQUEST);
      tr.error_message = "Create topics request from client `" + ctx.client_id +
                         "` contains multiple entries for the following topics: " + t.name;
      resp.topics.push_back(std::move(tr));
      continue;
    }
    const controller::CreateTopicResult& r = results.at(t.name);
    tr.error_code = to_wire(r.error);
    if (r.error != ErrorCode::NONE) {
      tr.error_message = r.message;
      broker.metrics().request_error(ctx.api_key, r.error);
      spdlog::info("create topic {} refused: {} {}", t.name, error_name(r.error), r.message);
    } else {
      tr.topic_id = r.topic_id;
      tr.num_partitions = r.num_partitions;
      tr.replication_factor = r.replication_factor;
      std::map<std::string, std::string> overrides;
      for (const auto& c : t.configs)
        if (c.value) overrides[c.name] = *c.value;
      auto effective = config::TopicConfig::make(*broker.effective_config(), overrides);
      std::vector<Resp::CreatableTopicResult::CreatableTopicConfigs> configs;
      for (const auto& [name, value] : r.configs) {
        Resp::CreatableTopicResult::CreatableTopicConfigs c;
        c.name = name;
        c.value = value;
        c.read_only = false;
        c.is_sensitive = false;
        c.config_source = effective.ok() ? static_cast<int8_t>(effective->source(name)) : int8_t{-1};
        configs.push_back(std::move(c));
      }
      tr.configs = std::move(configs);
      if (!req.validate_only) {
        spdlog::info("created topic {} ({} partitions, replication factor {})", t.name,
                     r.num_partitions, r.replication_factor);
        if (auto w = config::ignored_topic_config_warning(t.name, overrides); !w.empty()) spdlog::warn("{}", w);
      }
    }
    resp.topics.push_back(std::move(tr));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
