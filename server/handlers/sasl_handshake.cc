// Handler for api SaslHandshake (key 17), versions 0..1: the mechanism a client will
// authenticate with on a SASL listener (server/sasl_session.h runs the exchange). Version 0 is
// advertised as Kafka does (librdkafka looks for it), but a v0 handshake, whose tokens would
// follow as raw frames instead of SaslAuthenticate requests, is refused (UNSUPPORTED_VERSION).
#include <algorithm>

#include "protocol/messages/sasl_handshake_request.h"
#include "protocol/messages/sasl_handshake_response.h"
#include "server/handlers/handlers.h"
#include "server/sasl_session.h"

namespace kb::server {

void handle_sasl_handshake(RequestContext& ctx, Respond respond) {
  msg::SaslHandshakeRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!ctx.sasl) {
    // Kafka's KafkaApis answers a handshake on a listener without SASL (or after
    // authentication without re-authentication) with ILLEGAL_SASL_STATE.
    msg::SaslHandshakeResponse resp;
    resp.error_code = to_wire(ErrorCode::ILLEGAL_SASL_STATE);
    return send_response(ctx, respond, resp);
  }
  if (ctx.api_version == 0) {
    spdlog::info("closing connection from {} on listener {} (client {}): SaslHandshake v0 (raw SASL tokens) is not "
                 "served; clients that send SaslAuthenticate use v1", ctx.peer, ctx.listener, ctx.client_id);
    msg::SaslHandshakeResponse resp;
    resp.error_code = to_wire(ErrorCode::UNSUPPORTED_VERSION);
    Response out;
    resp.encode(out.body, ctx.api_version);
    out.close_after = true;
    return respond(std::move(out));
  }
  auto answer = ctx.sasl->handshake(req);
  if (answer.after == SaslSession::After::Close) {
    // The metric's label is one of the listener's mechanisms: a client's made-up names would
    // each add a series.
    const auto& enabled = answer.response.mechanisms;
    const bool known = std::find(enabled.begin(), enabled.end(), req.mechanism) != enabled.end();
    report_authentication(ctx, known ? req.mechanism : "unsupported", false, ctx.sasl->failure());
  }
  Response out;
  answer.response.encode(out.body, ctx.api_version);
  out.close_after = answer.after == SaslSession::After::Close;
  respond(std::move(out));
}

}  // namespace kb::server
