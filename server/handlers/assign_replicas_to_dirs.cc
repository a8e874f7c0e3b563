// Handler for api AssignReplicasToDirs (key 73), version 0.
// A broker with several log dirs tells the active controller which dir holds each of its
// replicas (KIP-858; NOT_CONTROLLER from a standby). Controller listener only.
#include "protocol/messages/assign_replicas_to_dirs_request.h"
#include "protocol/messages/assign_replicas_to_dirs_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_assign_replicas_to_dirs(RequestContext& ctx, Respond respond) {
  msg::AssignReplicasToDirsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  msg::AssignReplicasToDirsResponse resp;
  std::vector<controller::DirAssignment> assignments;
  for (const auto& d : req.directories)
    for (const auto& t : d.topics)
      for (const auto& p : t.partitions) assignments.push_back({d.id, t.topic_id, p.partition_index});
  auto results = ctx.broker->controller().assign_replicas_to_dirs(req.broker_id, req.broker_epoch, assignments);
  if (!results.ok()) {
    resp.error_code = to_wire(results.code());
    send_response(ctx, respond, resp);
    return;
  }
  size_t i = 0;
  for (const auto& d : req.directories) {
    auto& rd = resp.directories.emplace_back();
    rd.id = d.id;
    for (const auto& t : d.topics) {
      auto& rt = rd.topics.emplace_back();
      rt.topic_id = t.topic_id;
      for (const auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition_index;
        rp.error_code = to_wire(results.value()[i++]);
      }
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
