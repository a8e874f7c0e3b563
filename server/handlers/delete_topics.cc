// Handler for api DeleteTopics (key 20), versions 0..6.
#include <algorithm>
#include <map>

#include "protocol/messages/delete_topics_request.h"
#include "protocol/messages/delete_topics_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"
#include "server/quota_throttle.h"

namespace kb::server {

void handle_delete_topics(RequestContext& ctx, Respond respond) {
  msg::DeleteTopicsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto failed = [req, version](Respond& r, ErrorCode code, const std::string& message) {
    msg::DeleteTopicsResponse resp;
    auto add = [&](std::optional<std::string> name, Uuid id) {
      auto& tr = resp.responses.emplace_back();
      tr.name = std::move(name);
      tr.topic_id = id;
      tr.error_code = to_wire(code);
      tr.error_message = message;
    };
    for (const auto& n : req.topic_names) add(n, Uuid{});
    for (const auto& t : req.topics) add(t.name, t.topic_id);
    send_response(version, r, resp);
  };
  if (forward_unless_controller(ctx, respond, failed)) return;
  Broker& broker = *ctx.broker;

  // v0-5 name topics; v6 names them or gives their ids.
  // Kafka's controller: DELETE on each topic (named, or found by its id); a refused one is
  // answered TOPIC_AUTHORIZATION_FAILED and not deleted.
  const Access access(ctx);
  auto image = broker.image();
  msg::DeleteTopicsResponse resp;
  auto refuse = [&](std::optional<std::string> name, Uuid id, ErrorCode code, const char* message) {
    auto& tr = resp.responses.emplace_back();
    tr.name = std::move(name);
    tr.topic_id = id;
    tr.error_code = to_wire(code);
    tr.error_message = message;
    broker.metrics().request_error(ctx.api_key, code);
  };
  std::vector<std::string> names;
  std::vector<Uuid> ids;
  auto add_name = [&](const std::string& n) {
    if (access.topic(security::AclOperation::DELETE, n))
      names.push_back(n);
    else
      refuse(n, Uuid{}, ErrorCode::TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
  };
  for (const auto& n : req.topic_names) add_name(n);
  for (const auto& t : req.topics) {
    if (t.name) {
      add_name(*t.name);
    } else if (const controller::TopicInfo* info = image->topic(t.topic_id);
               info && !access.topic(security::AclOperation::DELETE, info->name)) {
      refuse(std::nullopt, t.topic_id, ErrorCode::TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
    } else {
      ids.push_back(t.topic_id);
    }
  }
  // controller_mutation_rate counts the partitions deleted; v5+ refuses over the quota.
  MutationQuota quota(broker.quotas(), ctx, version >= 5);
  std::map<std::string, double> permits;
  std::map<Uuid, double> permits_by_id;
  {
    auto size = [](const controller::TopicInfo* t) { return t ? static_cast<double>(t->partitions.size()) : 0.0; };
    std::erase_if(names, [&](const std::string& n) {
      const double p = size(image->topic(n));
      if (quota.admit(p)) {
        permits[n] = p;
        return false;
      }
      refuse(n, Uuid{}, ErrorCode::THROTTLING_QUOTA_EXCEEDED, MutationQuota::kMessage);
      return true;
    });
    std::erase_if(ids, [&](const Uuid& id) {
      const double p = size(image->topic(id));
      if (quota.admit(p)) {
        permits_by_id[id] = p;
        return false;
      }
      refuse(std::nullopt, id, ErrorCode::THROTTLING_QUOTA_EXCEEDED, MutationQuota::kMessage);
      return true;
    });
  }
  for (const auto& r : broker.controller().delete_topics(names, ids)) {
    if (r.error != ErrorCode::NONE) quota.refund(r.name.empty() ? permits_by_id[r.topic_id] : permits[r.name]);
    msg::DeleteTopicsResponse::DeletableTopicResult tr;
    tr.name = r.name.empty() && ctx.api_version >= 6 ? std::optional<std::string>() : r.name;
    tr.topic_id = r.topic_id;
    tr.error_code = to_wire(r.error);
    if (r.error != ErrorCode::NONE) {
      tr.error_message = r.message;
      broker.metrics().request_error(ctx.api_key, r.error);
      if (r.error == ErrorCode::INVALID_TOPIC_EXCEPTION)
        spdlog::info("delete topic {} from {} refused: {}", r.name, ctx.peer, r.message);
    }
    resp.responses.push_back(std::move(tr));
  }
  resp.throttle_time_ms = static_cast<int32_t>(std::min<int64_t>(quota.throttle_ms(), INT32_MAX));
  Respond out = throttled(ctx, std::move(respond), quota.throttle_ms(), version >= 2);
  send_response(ctx, out, resp);
}

}  // namespace kb::server
