// Handler for api SaslHandshake (key 17), versions 0..1: the mechanism a client will
// authenticate with on a SASL listener (server/sasl_session.h runs the exchange). After a v0
// handshake the tokens come as raw frames, not SaslAuthenticate requests (kafka-python): the
// connection reads them as such (server/network.cc).
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
  auto answer = ctx.sasl->handshake(req, ctx.api_version);
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
