// Handler for api SyncGroup (key 14), versions 0..5.
#include "protocol/messages/sync_group_request.h"
#include "protocol/messages/sync_group_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_sync_group(RequestContext& ctx, Respond respond) {
  msg::SyncGroupRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!Access(ctx).group(security::AclOperation::READ, req.group_id))
    return refuse_request<msg::SyncGroupResponse>(ctx, respond, ErrorCode::GROUP_AUTHORIZATION_FAILED);
  // Followers wait here until the leader's assignment is stored.
  ctx.broker->groups().sync_group(std::move(req), client_info(ctx),
                                  [v = ctx.api_version, respond = std::move(respond)](msg::SyncGroupResponse r) mutable {
                                    send_response(v, respond, r);
                                  });
}

}  // namespace kb::server
