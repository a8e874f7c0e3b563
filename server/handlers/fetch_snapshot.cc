// Handler for api FetchSnapshot (key 59), versions 0..1.
// A voter or observer of the metadata quorum whose next entry the leader's log no longer holds
// fetches the leader's snapshot, piece by piece.
#include "replication/raft/quorum.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_fetch_snapshot(RequestContext& ctx, Respond respond) {
  msg::FetchSnapshotRequest req;
  if (!decode_request(ctx, req, respond)) return;
  raft::Quorum* q = ctx.broker->quorum();
  if (!q) {
    // Not a cluster node: no metadata quorum, hence no snapshots to give.
    msg::FetchSnapshotResponse resp;
    resp.error_code = to_wire(ErrorCode::NOT_CONTROLLER);
    send_response(ctx, respond, resp);
    return;
  }
  q->on_fetch_snapshot(req, respond_later<msg::FetchSnapshotResponse>(ctx, std::move(respond)));
}

}  // namespace kb::server
