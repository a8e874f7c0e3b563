// Handler for api ListTransactions (key 66), versions 0..1.
// The transactional ids this broker coordinates, filtered by state, producer id and (v1) how
// long their transaction has been running; unknown state names are listed back.
#include "protocol/messages/list_transactions_request.h"
#include "protocol/messages/list_transactions_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_list_transactions(RequestContext& ctx, Respond respond) {
  msg::ListTransactionsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  auto reply = respond_later<msg::ListTransactionsResponse>(ctx, std::move(respond));
  broker.transactions().list(
      std::move(req.state_filters), std::move(req.producer_id_filters), req.duration_filter,
      [reply = std::move(reply), api = ctx.api_key, &broker, access = Access(ctx)](coordinator::ListedTxns listed) {
        msg::ListTransactionsResponse resp;
        resp.error_code = to_wire(listed.error);
        if (listed.error != ErrorCode::NONE) broker.metrics().request_error(api, listed.error);
        resp.unknown_state_filters = std::move(listed.unknown_state_filters);
        for (const auto& t : listed.transactions) {
          // Kafka lists the transactions whose id allows DESCRIBE.
          if (!access.visible(security::AclOperation::DESCRIBE, security::ResourceType::TRANSACTIONAL_ID,
                              t.transactional_id))
            continue;
          msg::ListTransactionsResponse::TransactionState s;
          s.transactional_id = t.transactional_id;
          s.producer_id = t.producer_id;
          s.transaction_state = coordinator::txn_state_name(t.state);
          resp.transaction_states.push_back(std::move(s));
        }
        reply(resp);
      });
}

}  // namespace kb::server
