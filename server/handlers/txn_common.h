// What the transactional handlers share (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// InitProducerId, TxnOffsetCommit).
#pragma once

#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

// PRODUCER_FENCED (KIP-588) exists for clients from a version of each API on (InitProducerId
// 4, AddPartitionsToTxn/AddOffsetsToTxn/EndTxn 2, TxnOffsetCommit 3); older ones are told
// INVALID_PRODUCER_EPOCH, as Kafka does.
constexpr ErrorCode fenced_for_version(ErrorCode e, int16_t version, int16_t first_fenced_version) {
  return e == ErrorCode::PRODUCER_FENCED && version < first_fenced_version ? ErrorCode::INVALID_PRODUCER_EPOCH : e;
}

// The answer of an API whose response is just an error code (AddOffsetsToTxn, EndTxn): sent
// later with the code given, mapped for old versions and counted in the error metric.
template <class Response>
std::function<void(ErrorCode)> error_code_reply(const RequestContext& ctx, Respond respond,
                                                int16_t first_fenced_version) {
  return [reply = respond_later<Response>(ctx, std::move(respond)), v = ctx.api_version, api = ctx.api_key,
          broker = ctx.broker, first_fenced_version](ErrorCode e) {
    e = fenced_for_version(e, v, first_fenced_version);
    if (e != ErrorCode::NONE) broker->metrics().request_error(api, e);
    Response resp;
    resp.error_code = to_wire(e);
    reply(resp);
  };
}

}  // namespace kb::server
