// Handler for api AllocateProducerIds (key 67), version 0.
// A broker's request for its next block of producer ids, served by the active controller
// (a lone broker asks its own, through its ControllerChannel). Runs on the
// controller-request thread: the block is durable in the metadata log before the answer.
#include "protocol/messages/allocate_producer_ids_request.h"
#include "protocol/messages/allocate_producer_ids_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_allocate_producer_ids(RequestContext& ctx, Respond respond) {
  msg::AllocateProducerIdsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  msg::AllocateProducerIdsResponse resp;
  if (!ctx.broker->controller().active()) {
    resp.error_code = to_wire(ErrorCode::NOT_CONTROLLER);
  } else {
    auto block = ctx.broker->controller().allocate_producer_ids(req.broker_id, req.broker_epoch);
    resp.error_code = to_wire(block.code());
    if (block.ok()) {
      resp.producer_id_start = block->first;
      resp.producer_id_len = block->size;
    } else if (block.code() != ErrorCode::NOT_CONTROLLER) {
      spdlog::warn("producer id block for broker {} refused: {}", req.broker_id, block.error().message);
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
