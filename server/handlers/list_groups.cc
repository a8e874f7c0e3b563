// Handler for api ListGroups (key 16), versions 0..4 (v4: filter by state).
#include "protocol/messages/list_groups_request.h"
#include "protocol/messages/list_groups_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_list_groups(RequestContext& ctx, Respond respond) {
  msg::ListGroupsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  ctx.broker->groups().list_groups(std::move(req.states_filter),
                                   [v = ctx.api_version, respond = std::move(respond)](coordinator::ListedGroups l) mutable {
                                     msg::ListGroupsResponse resp;
                                     resp.error_code = to_wire(l.error);
                                     for (const auto& g : l.groups) {
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
