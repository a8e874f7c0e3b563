// Handler for api ListGroups (key 16), versions 0..4 (v4: filter by state).
#include "protocol/messages/list_groups_request.h"
#include "protocol/messages/list_groups_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_list_groups(RequestContext& ctx, Respond respond) {
  msg::ListGroupsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  // Kafka: DESCRIBE on the cluster lists every group, else only those allowing DESCRIBE.
  const Access access(ctx);
  const bool all = access.visible(security::AclOperation::DESCRIBE, security::ResourceType::CLUSTER,
                                  security::kClusterName);
  ctx.broker->groups().list_groups(std::move(req.states_filter),
                                   [v = ctx.api_version, access, all, respond = std::move(respond)](coordinator::ListedGroups l) mutable {
                                     msg::ListGroupsResponse resp;
                                     resp.error_code = to_wire(l.error);
                                     for (const auto& g : l.groups) {
                                       if (!all && !access.visible(security::AclOperation::DESCRIBE,
                                                                   security::ResourceType::GROUP, g.group_id))
                                         continue;
                                       msg::ListGroupsResponse::ListedGroup lg;
                                       lg.group_id = g.group_id;
                                       lg.protocol_type = g.protocol_type;
                                       lg.group_state = std::string(coordinator::state_name(g.state));
                                       resp.groups.push_back(std::move(lg));
                                     }
                                     send_response(v, respond, resp);
                                   });
}

}  // namespace kb::server
