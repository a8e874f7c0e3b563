// Handler for api DeleteGroups (key 42), versions 0..2.
#include "protocol/messages/delete_groups_request.h"
#include "protocol/messages/delete_groups_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_delete_groups(RequestContext& ctx, Respond respond) {
  msg::DeleteGroupsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  ctx.broker->groups().delete_groups(
      std::move(req.groups_names),
      [v = ctx.api_version, api = ctx.api_key, &metrics = ctx.broker->metrics(),
       respond = std::move(respond)](std::vector<std::pair<std::string, ErrorCode>> results) mutable {
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
