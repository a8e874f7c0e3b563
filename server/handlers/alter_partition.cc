// Handler for api AlterPartition (key 56), versions 0..3.
// A partition leader asks the active controller to change the ISR (NOT_CONTROLLER from a
// standby).
#include "protocol/messages/alter_partition_request.h"
#include "protocol/messages/alter_partition_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_alter_partition(RequestContext& ctx, Respond respond) {
  msg::AlterPartitionRequest req;
  if (!decode_request(ctx, req, respond)) return;
  msg::AlterPartitionResponse resp;
  auto image = ctx.broker->image();
  std::vector<controller::IsrChange> changes;
  for (const auto& t : req.topics) {
    Uuid id = t.topic_id;
    if (ctx.api_version < 2) {
      const controller::TopicInfo* info = image->topic(t.topic_name);
      id = info ? info->id : Uuid{};
    }
    for (const auto& p : t.partitions) {
      controller::IsrChange c;
      c.topic_id = id;
      c.partition = p.partition_index;
      c.leader_epoch = p.leader_epoch;
      c.partition_epoch = p.partition_epoch;
      if (ctx.api_version >= 3)
        for (const auto& b : p.new_isr_with_epochs) c.new_isr.push_back(b.broker_id);
      else
        c.new_isr = p.new_isr;
      changes.push_back(std::move(c));
    }
  }
  auto results = ctx.broker->controller().alter_partition(req.broker_id, req.broker_epoch, changes);
  if (!results.ok()) {
    resp.error_code = to_wire(results.code());
    send_response(ctx, respond, resp);
    return;
  }
  size_t i = 0;
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.topic_name = t.topic_name;
    rt.topic_id = t.topic_id;
    for (const auto& p : t.partitions) {
      const auto& r = results.value()[i++];
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      rp.error_code = to_wire(r.error);
      rp.leader_id = r.leader;
      rp.leader_epoch = r.leader_epoch;
      rp.isr = r.isr;
      rp.partition_epoch = r.partition_epoch;
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
