// Handler for api DescribeTransactions (key 65), version 0.
// The coordinator's state of each transactional id asked for (NOT_COORDINATOR for ids this
// broker does not coordinate, TRANSACTIONAL_ID_NOT_FOUND for unknown ones).
#include "protocol/messages/describe_transactions_request.h"
#include "protocol/messages/describe_transactions_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_transactions(RequestContext& ctx, Respond respond) {
  msg::DescribeTransactionsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  auto reply = respond_later<msg::DescribeTransactionsResponse>(ctx, std::move(respond));
  // Kafka: DESCRIBE on each transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED); of
  // its partitions only the topics allowing DESCRIBE are told.
  const Access access(ctx);
  std::vector<std::string> allowed;
  std::vector<coordinator::DescribedTxn> refused;
  for (auto& id : req.transactional_ids) {
    if (access.transactional_id(security::AclOperation::DESCRIBE, id)) {
      allowed.push_back(std::move(id));
      continue;
    }
    auto& d = refused.emplace_back();
    d.transactional_id = std::move(id);
    d.error = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  }
  broker.transactions().describe(
      std::move(allowed), [reply = std::move(reply), api = ctx.api_key, &broker, access,
                           refused = std::move(refused)](std::vector<coordinator::DescribedTxn> txns) {
        txns.insert(txns.end(), refused.begin(), refused.end());
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
              if (!access.visible(security::AclOperation::DESCRIBE, security::ResourceType::TOPIC, topic)) continue;
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
