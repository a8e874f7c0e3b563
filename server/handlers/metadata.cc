// Handler for api Metadata (key 3), versions 0..12.
#include <set>

#include "config/settings.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::MetadataResponse;

void fill_topic(const controller::TopicInfo& t, Resp::MetadataResponseTopic& out) {
  out.error_code = to_wire(ErrorCode::NONE);
  out.name = t.name;
  out.topic_id = t.id;
  out.is_internal = t.internal;
  for (const auto& p : t.partitions) {
    Resp::MetadataResponseTopic::MetadataResponsePartition rp;
    rp.partition_index = p.partition;
    rp.leader_id = p.leader;
    rp.leader_epoch = p.leader_epoch;
    rp.replica_nodes = p.replicas;
    rp.isr_nodes = p.isr;
    rp.error_code = to_wire(p.leader < 0 ? ErrorCode::LEADER_NOT_AVAILABLE : ErrorCode::NONE);
    out.partitions.push_back(std::move(rp));
  }
}

Resp::MetadataResponseTopic topic_error(std::optional<std::string> name, Uuid id, ErrorCode code) {
  Resp::MetadataResponseTopic t;
  t.error_code = to_wire(code);
  t.name = std::move(name);
  t.topic_id = id;
  return t;
}

}  // namespace

void handle_metadata(RequestContext& ctx, Respond respond) {
  msg::MetadataRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  auto image = broker.image();

  Resp resp;
  for (const controller::BrokerInfo* b : image->brokers()) {
    if (b->fenced || b->endpoints.empty()) continue;
    Resp::MetadataResponseBroker rb;
    rb.node_id = b->id;
    const controller::Endpoint* e = b->endpoint_for(ctx.listener);
    rb.host = e->host;
    rb.port = e->port;
    rb.rack = b->rack;
    resp.brokers.push_back(std::move(rb));
  }
  resp.cluster_id = image->cluster_id();
  resp.controller_id = ctx.broker->active_controller_id();
  const Access access(ctx);
  using security::AclOperation;
  if (req.include_cluster_authorized_operations)
    resp.cluster_authorized_operations = access.operations(security::ResourceType::CLUSTER, security::kClusterName);
  // Each answered topic's authorized operations, when asked for (v8+).
  auto add_topic = [&](const controller::TopicInfo& t) {
    fill_topic(t, resp.topics.emplace_back());
    if (req.include_topic_authorized_operations)
      resp.topics.back().topic_authorized_operations = access.operations(security::ResourceType::TOPIC, t.name);
  };

  // v0: an empty list means every topic; v1+: null means every topic, empty means none.
  bool all_topics = !req.topics.has_value() || (ctx.api_version == 0 && req.topics->empty());
  if (all_topics) {
    // Kafka leaves out the topics the principal may not DESCRIBE.
    for (const controller::TopicInfo* t : image->topics())
      if (access.visible(AclOperation::DESCRIBE, security::ResourceType::TOPIC, t->name)) add_topic(*t);
    send_response(ctx, respond, resp);
    return;
  }

  // allow_auto_topic_creation exists from v4; older clients always allowed it.
  bool may_create = broker.config().settings().auto_create_topics_enable &&
                    (ctx.api_version < 4 || req.allow_auto_topic_creation);
  // Auto-creation (of topics the principal may DESCRIBE) takes CREATE on the cluster or the
  // topic; without it the topic is answered TOPIC_AUTHORIZATION_FAILED.
  std::vector<std::string> to_create;
  std::set<std::string> seen, refused;
  const bool create_any = may_create && access.visible(AclOperation::CREATE, security::ResourceType::CLUSTER,
                                                       security::kClusterName);
  for (const auto& rt : *req.topics) {
    if (!rt.name.has_value()) continue;  // by id: answered below
    const std::string& name = *rt.name;
    if (!access.topic(AclOperation::DESCRIBE, name)) {
      refused.insert(name);
      continue;
    }
    if (image->topic(name) || !seen.insert(name).second) continue;
    if (!may_create || !controller::validate_topic_name(name).ok()) continue;
    if (create_any || access.topic(AclOperation::CREATE, name))
      to_create.push_back(name);
    else
      refused.insert(name);
  }
  std::map<std::string, controller::CreateTopicResult> created;
  if (!to_create.empty()) {
    for (auto& r : broker.auto_create_topics(to_create)) created.emplace(r.name, std::move(r));
    image = broker.image();
  }

  for (const auto& rt : *req.topics) {
    if (!rt.name.has_value()) {
      const controller::TopicInfo* t = image->topic(rt.topic_id);
      if (!t) {
        resp.topics.push_back(topic_error(std::nullopt, rt.topic_id, ErrorCode::UNKNOWN_TOPIC_ID));
        continue;
      }
      if (!access.topic(AclOperation::DESCRIBE, t->name)) {
        resp.topics.push_back(topic_error(std::nullopt, rt.topic_id, ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        continue;
      }
      add_topic(*t);
      continue;
    }
    const std::string& name = *rt.name;
    if (refused.count(name)) {
      resp.topics.push_back(topic_error(name, Uuid{}, ErrorCode::TOPIC_AUTHORIZATION_FAILED));
      continue;
    }
    if (const controller::TopicInfo* t = image->topic(name)) {
      add_topic(*t);
      continue;
    }
    if (auto s = controller::validate_topic_name(name); !s.ok()) {
      resp.topics.push_back(topic_error(name, Uuid{}, ErrorCode::INVALID_TOPIC_EXCEPTION));
      continue;
    }
    auto it = created.find(name);
    ErrorCode code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    if (it != created.end() && it->second.error != ErrorCode::NONE &&
        it->second.error != ErrorCode::TOPIC_ALREADY_EXISTS)
      code = it->second.error;
    else if (it != created.end())
      code = ErrorCode::LEADER_NOT_AVAILABLE;  // created but not visible yet: retry
    resp.topics.push_back(topic_error(name, Uuid{}, code));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
