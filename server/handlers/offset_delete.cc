// Handler for api OffsetDelete (key 47), version 0.
#include "protocol/messages/offset_delete_request.h"
#include "protocol/messages/offset_delete_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_offset_delete(RequestContext& ctx, Respond respond) {
  msg::OffsetDeleteRequest req;
  if (!decode_request(ctx, req, respond)) return;
  ctx.broker->groups().delete_offsets(std::move(req),
                                      [v = ctx.api_version, respond = std::move(respond)](msg::OffsetDeleteResponse r) mutable {
                                        send_response(v, respond, r);
                                      });
}

}  // namespace kb::server
