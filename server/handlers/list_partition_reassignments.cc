// Handler for api ListPartitionReassignments (key 46), versions 0..0.
// The partitions being reassigned (replicas, adding, removing) among the requested ones, or
// all of them when topics is null. Forwarded to the active controller from any broker, as
// Kafka's brokers do (it is "forwardable"): a client that has just started a reassignment
// through one broker sees it through any other, whose image may lag the controller's.
#include "protocol/messages/list_partition_reassignments_request.h"
#include "protocol/messages/list_partition_reassignments_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_list_partition_reassignments(RequestContext& ctx, Respond respond) {
  msg::ListPartitionReassignmentsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto failed = [version](Respond& r, ErrorCode code, const std::string& message) {
    msg::ListPartitionReassignmentsResponse resp;
    resp.error_code = to_wire(code);
    resp.error_message = message;
    send_response(version, r, resp);
  };
  if (forward_unless_controller(ctx, respond, failed)) return;
  if (!Access(ctx).api_allowed())  // DESCRIBE on the cluster, checked by the controller
    return failed(respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed.");
  std::optional<std::vector<controller::PartitionSelection>> selection;
  if (req.topics) {
    selection.emplace();
    for (const auto& t : *req.topics) selection->push_back({t.name, t.partition_indexes});
  }
  msg::ListPartitionReassignmentsResponse resp;
  for (const auto& r : ctx.broker->controller().list_partition_reassignments(selection)) {
    if (resp.topics.empty() || resp.topics.back().name != r.topic) resp.topics.emplace_back().name = r.topic;
    auto& p = resp.topics.back().partitions.emplace_back();
    p.partition_index = r.partition;
    p.replicas = r.replicas;
    p.adding_replicas = r.adding;
    p.removing_replicas = r.removing;
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
