// Handler for api Vote (key 52), versions 0..1.
// A candidate of the metadata quorum asks this voter for its vote; the Quorum
// (replication/raft/quorum.h) answers. Voters' Fetch of `__cluster_metadata-0` goes there too
// (serve_quorum_fetch, called by the Fetch handler). A lone broker, which has no quorum,
// answers NOT_CONTROLLER.
#include "protocol/messages/fetch_request.h"
#include "replication/raft/quorum.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_vote(RequestContext& ctx, Respond respond) {
  msg::VoteRequest req;
  if (!decode_request(ctx, req, respond)) return;
  raft::Quorum* q = ctx.broker->quorum();
  if (!q) {
    msg::VoteResponse resp;
    resp.error_code = to_wire(ErrorCode::NOT_CONTROLLER);
    send_response(ctx, respond, resp);
    return;
  }
  q->on_vote(std::move(req), respond_later<msg::VoteResponse>(ctx, std::move(respond)));
}

bool serve_quorum_fetch(RequestContext& ctx, const msg::FetchRequest& req, Respond& respond) {
  raft::Quorum* q = ctx.broker->quorum();
  if (!q || req.topics.size() != 1 || ctx.api_version > 12 || req.topics[0].topic != raft::Quorum::kTopic) return false;
  q->on_fetch(req, ctx.api_version, respond_later<msg::FetchResponse>(ctx, std::move(respond)));
  return true;
}

}  // namespace kb::server
