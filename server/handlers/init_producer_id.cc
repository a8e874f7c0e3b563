// Handler for api InitProducerId (key 22), versions 0..5.
// A transactional id goes to the transaction coordinator (its id and epoch, fencing older
// producers of the same id). Idempotent producers (no transactional id) get a new producer id
// at epoch 0 from this broker's block (controller/producer_id_manager.h). As in Kafka, a producer id and epoch sent
// with a null transactional id (v3+, KIP-360) do not matter: an idempotent producer bumps its
// epoch on its own, and asking here always yields a fresh id.
#include "controller/producer_id_manager.h"
#include "protocol/messages/init_producer_id_request.h"
#include "protocol/messages/init_producer_id_response.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"
#include "server/handlers/access.h"
#include "server/handlers/txn_common.h"

namespace kb::server {

void handle_init_producer_id(RequestContext& ctx, Respond respond) {
  msg::InitProducerIdRequest req;
  if (!decode_request(ctx, req, respond)) return;
  msg::InitProducerIdResponse resp;
  resp.producer_id = -1;
  resp.producer_epoch = -1;
  // Kafka: WRITE on the transactional id; an idempotent producer IDEMPOTENT_WRITE on the
  // cluster or WRITE on some topic (KIP-679).
  const Access access(ctx);
  using security::AclOperation;
  if (req.transactional_id ? !access.transactional_id(AclOperation::WRITE, *req.transactional_id)
                           : !access.visible(AclOperation::IDEMPOTENT_WRITE, security::ResourceType::CLUSTER,
                                             security::kClusterName) &&
                                 !access.any(AclOperation::WRITE, security::ResourceType::TOPIC)) {
    resp.error_code = to_wire(req.transactional_id ? ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                                                   : ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    return send_response(ctx, respond, resp);
  }
  // KafkaApis: a producer id without an epoch (or the reverse) is malformed.
  if ((req.producer_id == -1) != (req.producer_epoch == -1)) {
    resp.error_code = to_wire(ErrorCode::INVALID_REQUEST);
    return send_response(ctx, respond, resp);
  }
  if (req.transactional_id) {
    // An empty transactional id is refused as Kafka's TransactionCoordinator does.
    if (req.transactional_id->empty()) {
      resp.error_code = to_wire(ErrorCode::INVALID_REQUEST);
      return send_response(ctx, respond, resp);
    }
    auto reply = respond_later<msg::InitProducerIdResponse>(ctx, std::move(respond));
    ctx.broker->transactions().init_producer_id(
        *req.transactional_id, req.transaction_timeout_ms, {req.producer_id, req.producer_epoch},
        [reply = std::move(reply), v = ctx.api_version](Result<coordinator::ProducerIdAndEpoch> r) {
          msg::InitProducerIdResponse out;
          out.error_code = to_wire(fenced_for_version(r.code(), v, 4));
          out.producer_id = r.ok() ? r->producer_id : -1;
          out.producer_epoch = r.ok() ? r->producer_epoch : int16_t{-1};
          reply(out);
        });
    return;
  }
  auto answer = respond_later<msg::InitProducerIdResponse>(ctx, std::move(respond));
  ctx.broker->producer_ids().next_id([answer = std::move(answer), peer = ctx.peer](Result<int64_t> id) mutable {
    msg::InitProducerIdResponse r;
    if (id.ok()) {
      r.producer_id = id.value();
      r.producer_epoch = 0;
      spdlog::debug("producer id {} given to {}", id.value(), peer);
    } else {
      r.error_code = to_wire(id.code());
      r.producer_id = -1;
      r.producer_epoch = -1;
    }
    answer(std::move(r));
  });
}

}  // namespace kb::server
