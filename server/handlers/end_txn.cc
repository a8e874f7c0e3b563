// Handler for api EndTxn (key 26), versions 0..4.
// Commits or aborts the producer's ongoing transaction: answered once the coordinator has
// written PrepareCommit/PrepareAbort; the markers follow on their own.
#include "protocol/messages/end_txn_request.h"
#include "protocol/messages/end_txn_response.h"
#include "server/handlers/access.h"
#include "server/handlers/txn_common.h"

namespace kb::server {

void handle_end_txn(RequestContext& ctx, Respond respond) {
  msg::EndTxnRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!Access(ctx).transactional_id(security::AclOperation::WRITE, req.transactional_id))
    return refuse_request<msg::EndTxnResponse>(ctx, respond, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  ctx.broker->transactions().end_txn(req.transactional_id, req.producer_id, req.producer_epoch, req.committed,
                                     error_code_reply<msg::EndTxnResponse>(ctx, std::move(respond), 2));
}

}  // namespace kb::server
