// Handler for api CreateTopics (key 19), versions 0..7.
#include <algorithm>
#include <map>
#include <set>

#include "config/settings.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"
#include "server/quota_throttle.h"

namespace kb::server {

namespace {

using Resp = msg::CreateTopicsResponse;

// Every topic of `req` (each name once) with `code`: the answer when forwarding failed.
Resp failed_response(const msg::CreateTopicsRequest& req, ErrorCode code, const std::string& message) {
  Resp resp;
  std::set<std::string> answered;
  for (const auto& t : req.topics) {
    if (!answered.insert(t.name).second) continue;
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    tr.error_code = to_wire(code);
    tr.error_message = message;
  }
  return resp;
}

// A client may not create the internal topics (a pre-made __consumer_offsets with one
// partition and cleanup.policy=delete would lose every group's offsets): the broker makes them
// on first use with their own settings. This runs on the broker the client reached, before
// forwarding, so the broker's own creations (forwarded directly) pass. The answer is the one
// Kafka gives for its internal metadata topic, or TOPIC_ALREADY_EXISTS once it exists. Returns
// false when the request names none; otherwise answers them and forwards the rest, if any.
bool refuse_internal_topics(RequestContext& ctx, msg::CreateTopicsRequest& req, Respond& respond) {
  auto internal = [](const auto& t) { return is_internal_topic(t.name); };
  if (std::none_of(req.topics.begin(), req.topics.end(), internal)) return false;
  Broker& broker = *ctx.broker;
  auto image = broker.image();
  std::vector<Resp::CreatableTopicResult> refused;
  std::set<std::string> answered;
  for (const auto& t : req.topics) {
    if (!internal(t) || !answered.insert(t.name).second) continue;
    auto& r = refused.emplace_back();
    r.name = t.name;
    const bool exists = image->topic(t.name) != nullptr;
    const ErrorCode code = exists ? ErrorCode::TOPIC_ALREADY_EXISTS : ErrorCode::INVALID_REQUEST;
    r.error_code = to_wire(code);
    r.error_message = exists ? "Topic '" + t.name + "' already exists."
                             : "Creation of internal topic " + t.name + " is prohibited.";
    broker.metrics().request_error(ctx.api_key, code);
    if (!exists) spdlog::info("create topic {} from {} refused: internal topic", t.name, ctx.peer);
  }
  std::erase_if(req.topics, internal);
  const int16_t version = ctx.api_version;
  if (req.topics.empty()) {
    Resp resp;
    resp.topics = std::move(refused);
    send_response(version, respond, resp);
    return true;
  }
  wire::Writer w;
  req.encode(w, version);
  forward_to_controller(
      broker, ctx, std::move(w.buffer()),
      [req, version, refused = std::move(refused), respond](Result<std::vector<uint8_t>> r) mutable {
        Resp resp;
        if (!r.ok()) {
          resp = failed_response(req, r.code(), r.error().message);
        } else if (wire::Reader reader(std::span<const uint8_t>(r->data(), r->size())); !resp.decode(reader, version)) {
          resp = failed_response(req, ErrorCode::UNKNOWN_SERVER_ERROR, "undecodable answer from the controller");
        }
        for (auto& t : refused) resp.topics.push_back(std::move(t));
        send_response(version, respond, resp);
      });
  return true;
}

}  // namespace

void handle_create_topics(RequestContext& ctx, Respond respond) {
  msg::CreateTopicsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto failed = [req, version](Respond& r, ErrorCode code, const std::string& message) {
    send_response(version, r, failed_response(req, code, message));
  };
  if (!ctx.forwarded && refuse_internal_topics(ctx, req, respond)) return;
  if (forward_unless_controller(ctx, respond, failed)) return;
  Broker& broker = *ctx.broker;

  // A name given twice in one request is refused for every occurrence (Kafka: INVALID_REQUEST).
  std::map<std::string, int> count;
  for (const auto& t : req.topics) ++count[t.name];

  // Kafka's controller: CREATE on the cluster, else CREATE on each topic.
  const Access access(ctx);
  const bool create_any =
      access.visible(security::AclOperation::CREATE, security::ResourceType::CLUSTER, security::kClusterName);
  std::set<std::string> refused;
  for (const auto& t : req.topics)
    if (!create_any && !access.topic(security::AclOperation::CREATE, t.name)) refused.insert(t.name);

  std::vector<controller::CreateTopicSpec> specs;
  for (const auto& t : req.topics) {
    if (count[t.name] > 1 || refused.count(t.name)) continue;
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
  // controller_mutation_rate counts the partitions created; v6+ refuses over the quota.
  MutationQuota quota(broker.quotas(), ctx, version >= 6);
  std::map<std::string, controller::CreateTopicResult> results;
  std::map<std::string, double> permits;
  if (!req.validate_only) {
    const int32_t default_partitions = broker.effective_config()->settings().num_partitions;
    std::erase_if(specs, [&](const controller::CreateTopicSpec& s) {
      const double n = !s.assignments.empty() ? static_cast<double>(s.assignments.size())
                       : s.num_partitions > 0 ? s.num_partitions
                                              : default_partitions;
      if (quota.admit(n)) {
        permits[s.name] = n;
        return false;
      }
      auto& r = results[s.name];
      r.name = s.name;
      r.error = ErrorCode::THROTTLING_QUOTA_EXCEEDED;
      r.message = MutationQuota::kMessage;
      return true;
    });
  }
  for (auto& r : broker.controller().create_topics(specs, req.validate_only)) {
    if (r.error != ErrorCode::NONE) quota.refund(permits[r.name]);
    results.emplace(r.name, std::move(r));
  }

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
    if (refused.count(t.name)) {
      tr.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      tr.error_message = "Authorization failed.";
      broker.metrics().request_error(ctx.api_key, ErrorCode::TOPIC_AUTHORIZATION_FAILED);
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
      // The topic's configs are told only to who may DESCRIBE_CONFIGS it (Kafka).
      if (access.topic(security::AclOperation::DESCRIBE_CONFIGS, t.name))
        tr.configs = std::move(configs);
      else
        tr.topic_config_error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      if (!req.validate_only) {
        spdlog::info("created topic {} ({} partitions, replication factor {})", t.name,
                     r.num_partitions, r.replication_factor);
        if (auto w = config::ignored_topic_config_warning(t.name, overrides); !w.empty()) spdlog::warn("{}", w);
      }
    }
    resp.topics.push_back(std::move(tr));
  }
  resp.throttle_time_ms = static_cast<int32_t>(std::min<int64_t>(quota.throttle_ms(), INT32_MAX));
  Respond out = throttled(ctx, std::move(respond), quota.throttle_ms(), version >= 3);
  send_response(ctx, out, resp);
}

}  // namespace kb::server
