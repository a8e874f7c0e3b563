// Handler for api ListPartitionReassignments (key 46), versions 0..0.
// The partitions being reassigned (replicas, adding, removing) among the requested ones, or
// all of them when topics is null. Answered from this broker's metadata image on any broker
// (Kafka's brokers forward it to the controller, whose image this one follows).
#include "protocol/messages/list_partition_reassignments_request.h"
#include "protocol/messages/list_partition_reassignments_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_list_partition_reassignments(RequestContext& ctx, Respond respond) {
  msg::ListPartitionReassignmentsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!Access(ctx).api_allowed())  // DESCRIBE on the cluster
    return refuse_request<msg::ListPartitionReassignmentsResponse>(ctx, respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
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
