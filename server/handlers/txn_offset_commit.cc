// Handler for api TxnOffsetCommit (key 28), versions 0..4: a transactional producer commits a
// consumer group's offsets inside its transaction (Kafka's KafkaApis.handleTxnOffsetCommitRequest).
// The group coordinator writes them as a transactional batch of the producer to the group's
// __consumer_offsets partition; they become the group's committed offsets only when the
// transaction coordinator's COMMIT marker lands there (WriteTxnMarkers -> complete_txn).
#include <map>

#include "protocol/messages/txn_offset_commit_request.h"
#include "protocol/messages/txn_offset_commit_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_txn_offset_commit(RequestContext& ctx, Respond respond) {
  msg::TxnOffsetCommitRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  // Offsets of partitions that do not exist are refused before the coordinator sees them
  // (UNKNOWN_TOPIC_OR_PARTITION, as Kafka does); the rest are committed together.
  auto image = broker.image();
  std::map<std::pair<std::string, int32_t>, ErrorCode> unknown;
  msg::TxnOffsetCommitRequest known = req;
  for (auto& t : known.topics) {
    const controller::TopicInfo* info = image->topic(t.name);
    std::erase_if(t.partitions, [&](const auto& p) {
      bool exists =
          info && p.partition_index >= 0 && p.partition_index < static_cast<int32_t>(info->partitions.size());
      if (!exists) unknown[{t.name, p.partition_index}] = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      return !exists;
    });
  }
  std::erase_if(known.topics, [](const auto& t) { return t.partitions.empty(); });
  for (size_t i = 0; i < unknown.size(); ++i)
    broker.metrics().request_error(ctx.api_key, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);

  auto answer = [v = ctx.api_version, api = ctx.api_key, &metrics = broker.metrics(), req = std::move(req),
                 unknown = std::move(unknown),
                 respond = std::move(respond)](msg::TxnOffsetCommitResponse done) mutable {
    std::map<std::pair<std::string, int32_t>, int16_t> codes;
    for (const auto& t : done.topics)
      for (const auto& p : t.partitions) {
        int16_t code = p.error_code;
        // Producers before v2 (clients before 2.0) do not retry COORDINATOR_LOAD_IN_PROGRESS
        // here; Kafka answers them COORDINATOR_NOT_AVAILABLE (KAFKA-7296).
        if (v < 2 && code == to_wire(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
          code = to_wire(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        codes[{t.name, p.partition_index}] = code;
        if (code != 0) metrics.request_error(api, static_cast<ErrorCode>(code));
      }
    auto resp =
        coordinator::txn_commit_response(req, [&](const std::string& topic, int32_t partition) -> int16_t {
          std::pair<std::string, int32_t> key{topic, partition};
          if (auto u = unknown.find(key); u != unknown.end()) return to_wire(u->second);
          auto c = codes.find(key);
          return c != codes.end() ? c->second : to_wire(ErrorCode::UNKNOWN_SERVER_ERROR);
        });
    send_response(v, respond, resp);
  };
  if (known.topics.empty()) return answer(msg::TxnOffsetCommitResponse{});
  broker.groups().commit_txn_offsets(std::move(known), client_info(ctx), std::move(answer));
}

}  // namespace kb::server
