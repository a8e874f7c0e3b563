// Handler for api DeleteGroups (key 42), versions 0..2.
#include "protocol/messages/delete_groups_request.h"
#include "protocol/messages/delete_groups_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_delete_groups(RequestContext& ctx, Respond respond) {
  msg::DeleteGroupsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  // Kafka: DELETE on each group; a refused one is answered GROUP_AUTHORIZATION_FAILED.
  const Access access(ctx);
  std::vector<std::string> allowed;
  std::vector<std::pair<std::string, ErrorCode>> refused;
  for (auto& g : req.groups_names) {
    if (access.group(security::AclOperation::DELETE, g))
      allowed.push_back(std::move(g));
    else
      refused.emplace_back(std::move(g), ErrorCode::GROUP_AUTHORIZATION_FAILED);
  }
  ctx.broker->groups().delete_groups(
      std::move(allowed),
      [v = ctx.api_version, api = ctx.api_key, &metrics = ctx.broker->metrics(), refused = std::move(refused),
       respond = std::move(respond)](std::vector<std::pair<std::string, ErrorCode>> results) mutable {
        results.insert(results.end(), refused.begin(), refused.end());
        msg::DeleteGroupsResponse resp;
        for (const auto& [group, code] : results) {
          msg::DeleteGroupsResponse::DeletableGroupResult r;
          r.group_id = group;
          r.error_code = to_wire(code);
          if (code != ErrorCode::NONE) metrics.request_error(api, code);
          resp.results.push_back(std::move(r));
        }
        send_response(v, respond, resp);
      });
}

}  // namespace kb::server
