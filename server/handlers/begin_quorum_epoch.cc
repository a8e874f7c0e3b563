// Handler for api BeginQuorumEpoch (key 53), versions 0..1.
// A newly elected leader of the metadata quorum announces itself to this voter.
#include "replication/raft/quorum.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_begin_quorum_epoch(RequestContext& ctx, Respond respond) {
  msg::BeginQuorumEpochRequest req;
  if (!decode_request(ctx, req, respond)) return;
  raft::Quorum* q = ctx.broker->quorum();
  if (!q) {
    msg::BeginQuorumEpochResponse resp;
    resp.error_code = to_wire(ErrorCode::NOT_CONTROLLER);
    send_response(ctx, respond, resp);
    return;
  }
  q->on_begin_quorum_epoch(std::move(req), respond_later<msg::BeginQuorumEpochResponse>(ctx, std::move(respond)));
}

}  // namespace kb::server
