// Handler for api DescribeGroups (key 15), versions 0..5.
#include "protocol/messages/describe_groups_request.h"
#include "protocol/messages/describe_groups_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_groups(RequestContext& ctx, Respond respond) {
  msg::DescribeGroupsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  ctx.broker->groups().describe_groups(
      std::move(req.groups), [v = ctx.api_version, respond = std::move(respond)](
                                 std::vector<msg::DescribeGroupsResponse::DescribedGroup> described) mutable {
        msg::DescribeGroupsResponse resp;
        resp.groups = std::move(described);
        send_response(v, respond, resp);
      });
}

}  // namespace kb::server
