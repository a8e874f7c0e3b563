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
  ctx.broker->quorum().on_fetch_snapshot(req, respond_later<msg::FetchSnapshotResponse>(ctx, std::move(respond)));
}

}  // namespace kb::server
