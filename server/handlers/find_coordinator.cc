// Handler for api FindCoordinator (key 10), versions 0..4.
#include "coordinator/group/replica_group_log.h"
#include "protocol/messages/find_coordinator_request.h"
#include "protocol/messages/find_coordinator_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

constexpr int8_t kGroupKey = 0;
constexpr int8_t kTransactionKey = 1;

struct Found {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

// The coordinator of a group is the leader of its __consumer_offsets partition, that of a
// transactional id the leader of its __transaction_state partition (the same hash). The
// first lookup creates the topic, as Kafka does.
Found find_coordinator_in(Broker& broker, const std::string& key, const std::string& listener, const char* topic,
                          const Result<int32_t>& count) {
  Found f;
  if (!count.ok()) {
    f.error = count.code();
    f.message = count.error().message;
    return f;
  }
  int32_t p = coordinator::GroupCoordinator::partition_for(key, count.value());
  auto image = broker.image();
  const controller::TopicInfo* t = image->topic(topic);
  const controller::BrokerInfo* leader =
      t && p < static_cast<int32_t>(t->partitions.size()) ? image->broker(t->partitions[static_cast<size_t>(p)].leader)
                                                          : nullptr;
  if (!leader || leader->fenced || leader->endpoints.empty()) {
    f.error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
    f.message = "The coordinator is not available.";
    return f;
  }
  f.node_id = leader->id;
  const controller::Endpoint* e = leader->endpoint_for(listener);
  f.host = e->host;
  f.port = e->port;
  return f;
}

// Kafka: DESCRIBE on the group or transactional id, checked before the coordinator topic is
// made.
std::optional<Found> refusal(const Access& access, int8_t key_type, const std::string& key) {
  Found f;
  if (key_type == kGroupKey && !access.group(security::AclOperation::DESCRIBE, key)) {
    f.error = ErrorCode::GROUP_AUTHORIZATION_FAILED;
    f.message = "Not authorized to access group: " + key;
    return f;
  }
  if (key_type == kTransactionKey && !access.transactional_id(security::AclOperation::DESCRIBE, key)) {
    f.error = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    f.message = "Not authorized to access transactional id: " + key;
    return f;
  }
  return std::nullopt;
}

Found find(Broker& broker, const Access& access, int8_t key_type, const std::string& key,
           const std::string& listener) {
  if (auto refused = refusal(access, key_type, key)) return *refused;
  if (key_type == kGroupKey)
    return find_coordinator_in(broker, key, listener, coordinator::ReplicaGroupLog::kTopic,
                               broker.ensure_offsets_topic());
  if (key_type == kTransactionKey)
    return find_coordinator_in(broker, key, listener, Broker::kTransactionStateTopic,
                               broker.ensure_transaction_state_topic());
  Found f;
  f.error = ErrorCode::INVALID_REQUEST;
  f.message = "Unknown coordinator type " + std::to_string(key_type);
  return f;
}

// v0-3 answer one key in the response's own fields, v4+ one Coordinator per key: the same
// fields either way.
template <class Target>
void fill(RequestContext& ctx, const Found& f, Target& out) {
  out.error_code = to_wire(f.error);
  if (f.error != ErrorCode::NONE) {
    out.error_message = f.message;
    ctx.broker->metrics().request_error(ctx.api_key, f.error);
  }
  out.node_id = f.node_id;
  out.host = f.host;
  out.port = f.port;
}

}  // namespace

void handle_find_coordinator(RequestContext& ctx, Respond respond) {
  msg::FindCoordinatorRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  msg::FindCoordinatorResponse resp;
  const Access access(ctx);
  if (ctx.api_version < 4) {
    fill(ctx, find(broker, access, req.key_type, req.key, ctx.listener), resp);
  } else {
    for (const auto& key : req.coordinator_keys) {
      msg::FindCoordinatorResponse::Coordinator c;
      c.key = key;
      fill(ctx, find(broker, access, req.key_type, key, ctx.listener), c);
      resp.coordinators.push_back(std::move(c));
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
