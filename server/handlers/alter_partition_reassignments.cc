// Handler for api AlterPartitionReassignments (key 45), versions 0..0.
// Starts, replaces or (replicas null) cancels partition reassignments through the active
// controller (KIP-455); the move itself goes on in the background: the new replicas follow
// until they are in sync, then the controller drops the old ones. Any broker takes the request
// and forwards it to the active controller.
#include "protocol/messages/alter_partition_reassignments_request.h"
#include "protocol/messages/alter_partition_reassignments_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_alter_partition_reassignments(RequestContext& ctx, Respond respond) {
  msg::AlterPartitionReassignmentsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto failed = [version](Respond& r, ErrorCode code, const std::string& message) {
    msg::AlterPartitionReassignmentsResponse resp;
    resp.error_code = to_wire(code);
    resp.error_message = message;
    send_response(version, r, resp);
  };
  if (forward_unless_controller(ctx, respond, failed)) return;
  if (!Access(ctx).api_allowed())  // ALTER on the cluster, checked by the controller
    return failed(respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed.");
  std::vector<controller::ReassignmentTarget> targets;
  for (const auto& t : req.topics)
    for (const auto& p : t.partitions) targets.push_back({t.name, p.partition_index, p.replicas});
  auto results = ctx.broker->controller().alter_partition_reassignments(targets);

  msg::AlterPartitionReassignmentsResponse resp;
  if (!results.ok()) {
    // The whole request failed: Kafka answers the top-level error and no partitions.
    resp.error_code = to_wire(results.code());
    resp.error_message = results.error().message;
    ctx.broker->metrics().request_error(ctx.api_key, results.code());
    spdlog::info("AlterPartitionReassignments refused: {} {}", error_name(results.code()),
                 results.error().message);
    send_response(ctx, respond, resp);
    return;
  }
  size_t i = 0;
  for (const auto& t : req.topics) {
    auto& topic = resp.responses.emplace_back();
    topic.name = t.name;
    for (size_t n = 0; n < t.partitions.size(); ++n, ++i) {
      const auto& r = results.value()[i];
      auto& p = topic.partitions.emplace_back();
      p.partition_index = r.partition;
      p.error_code = to_wire(r.error);
      if (r.error != ErrorCode::NONE) {
        p.error_message = r.message;
        ctx.broker->metrics().request_error(ctx.api_key, r.error);
      }
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
