// Handler for api DeleteTopics (key 20), versions 0..6.
#include "protocol/messages/delete_topics_request.h"
#include "protocol/messages/delete_topics_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

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
  auto refuse = [&](std::optional<std::string> name, Uuid id) {
    auto& tr = resp.responses.emplace_back();
    tr.name = std::move(name);
    tr.topic_id = id;
    tr.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    tr.error_message = "Authorization failed.";
    broker.metrics().request_error(ctx.api_key, ErrorCode::TOPIC_AUTHORIZATION_FAILED);
  };
  std::vector<std::string> names;
  std::vector<Uuid> ids;
  auto add_name = [&](const std::string& n) {
    if (access.topic(security::AclOperation::DELETE, n))
      names.push_back(n);
    else
      refuse(n, Uuid{});
  };
  for (const auto& n : req.topic_names) add_name(n);
  for (const auto& t : req.topics) {
    if (t.name) {
      add_name(*t.name);
    } else if (const controller::TopicInfo* info = image->topic(t.topic_id);
               info && !access.topic(security::AclOperation::DELETE, info->name)) {
      refuse(std::nullopt, t.topic_id);
    } else {
      ids.push_back(t.topic_id);
    }
  }
  for (const auto& r : broker.controller().delete_topics(names, ids)) {
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
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
