// Handler for api CreatePartitions (key 37), versions 0..3.
// Adds partitions to existing topics through the controller (placed like a new topic's, or
// on the request's assignments). A topic named twice is refused each time, as Kafka does.
#include <algorithm>
#include <map>

#include "protocol/messages/create_partitions_request.h"
#include "protocol/messages/create_partitions_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"
#include "server/quota_throttle.h"

namespace kb::server {

void handle_create_partitions(RequestContext& ctx, Respond respond) {
  msg::CreatePartitionsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto failed = [req, version](Respond& r, ErrorCode code, const std::string& message) {
    msg::CreatePartitionsResponse resp;
    for (const auto& t : req.topics) {
      auto& tr = resp.results.emplace_back();
      tr.name = t.name;
      tr.error_code = to_wire(code);
      tr.error_message = message;
    }
    send_response(version, r, resp);
  };
  if (forward_unless_controller(ctx, respond, failed)) return;
  std::map<std::string, int> count;
  for (const auto& t : req.topics) ++count[t.name];
  msg::CreatePartitionsResponse resp;
  const Access access(ctx);  // Kafka's controller: ALTER on each topic
  // controller_mutation_rate counts the partitions added; v3+ refuses over the quota.
  MutationQuota quota(ctx.broker->quotas(), ctx, version >= 3);
  auto image = ctx.broker->image();
  for (const auto& t : req.topics) {
    auto& r = resp.results.emplace_back();
    r.name = t.name;
    Status s;
    const controller::TopicInfo* info = image->topic(t.name);
    const double added = info && !req.validate_only ? std::max<double>(0, t.count - static_cast<double>(info->partitions.size())) : 0;
    if (count[t.name] > 1) {
      s = Status(ErrorCode::INVALID_REQUEST, "Duplicate topic name.");
    } else if (!access.topic(security::AclOperation::ALTER, t.name)) {
      s = Status(ErrorCode::TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
    } else if (!quota.admit(added)) {
      s = Status(ErrorCode::THROTTLING_QUOTA_EXCEEDED, MutationQuota::kMessage);
    } else {
      std::optional<std::vector<std::vector<int32_t>>> assignments;
      if (t.assignments) {
        assignments.emplace();
        for (const auto& a : *t.assignments) assignments->push_back(a.broker_ids);
      }
      s = ctx.broker->controller().create_partitions(t.name, t.count, assignments, req.validate_only);
      if (!s.ok()) quota.refund(added);
    }
    r.error_code = to_wire(s.code());
    if (!s.ok()) {
      r.error_message = s.error().message;
      ctx.broker->metrics().request_error(ctx.api_key, s.code());
      spdlog::info("create partitions of {} refused: {} {}", t.name, error_name(s.code()), s.error().message);
    }
  }
  resp.throttle_time_ms = static_cast<int32_t>(std::min<int64_t>(quota.throttle_ms(), INT32_MAX));
  Respond out = throttled(ctx, std::move(respond), quota.throttle_ms(), version >= 1);
  send_response(ctx, out, resp);
}

}  // namespace kb::server
