// Handler for api DescribeTransactions (key 65), version 0.
// The coordinator's state of each transactional id asked for (NOT_COORDINATOR for ids this
// broker does not coordinate, TRANSACTIONAL_ID_NOT_FOUND for unknown ones).
#include "protocol/messages/describe_transactions_request.h"
#include "protocol/messages/describe_transactions_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_transactions(RequestContext& ctx, Respond respond) {
  msg::DescribeTransactionsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  auto reply = respond_later<msg::DescribeTransactionsResponse>(ctx, std::move(respond));
  broker.transactions().describe(
      std::move(req.transactional_ids),
      [reply = std::move(reply), api = ctx.api_key, &broker](std::vector<coordinator::DescribedTxn> txns) {
        msg::DescribeTransactionsResponse resp;
        for (const auto& d : txns) {
          msg::DescribeTransactionsResponse::TransactionState s;
          s.error_code = to_wire(d.error);
          s.transactional_id = d.transactional_id;
          if (d.error == ErrorCode::NONE) {
            s.transaction_state = coordinator::txn_state_name(d.state);
            s.transaction_timeout_ms = d.timeout_ms;
            s.transaction_start_time_ms = d.start_ms;
            s.producer_id = d.producer_id;
            s.producer_epoch = d.producer_epoch;
            for (const auto& [topic, partitions] : d.topics) {
              msg::DescribeTransactionsResponse::TransactionState::TopicData t;
              t.topic = topic;
              t.partitions = partitions;
              s.topics.push_back(std::move(t));
            }
          } else {
            broker.metrics().request_error(api, d.error);
          }
          resp.transaction_states.push_back(std::move(s));
        }
        reply(resp);
      });
}

}  // namespace kb::server
