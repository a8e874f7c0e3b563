// Handler for api SaslAuthenticate (key 36), versions 0..2: one token of the SASL exchange
// the handshake chose (server/sasl_session.h), and the session's lifetime (v1+,
// connections.max.reauth.ms).

#include "protocol/messages/sasl_authenticate_request.h"
#include "protocol/messages/sasl_authenticate_response.h"
#include "runtime/clock.h"
#include "runtime/rate_limited_log.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"
#include "server/sasl_session.h"

namespace kb::server {

void report_authentication(const RequestContext& ctx, const std::string& mechanism, bool ok, const std::string& why) {
  if (ctx.broker) ctx.broker->metrics().authentication(ctx.listener, mechanism, ok);
  if (ok) {
    spdlog::debug("{} authenticated with {} from {} on listener {}", ctx.sasl->principal(), mechanism, ctx.peer,
                  ctx.listener);
    return;
  }
  // One line per failed connection (it closes), rate-limited per listener, address and reason
  // (a client retrying a wrong password must not flood the log); the reason names the user,
  // never a secret.
  static runtime::RateLimitedLog failures;
  failures.info(ctx.listener + "/" + ctx.host + "/" + why, "failed authentication with {} from {} on listener {} (client {}): {}",
                mechanism, ctx.peer, ctx.listener, ctx.client_id, why);
}

void handle_sasl_authenticate(RequestContext& ctx, Respond respond) {
  msg::SaslAuthenticateRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!ctx.sasl || !ctx.sasl->in_exchange()) {
    // No listener SASL, or the exchange is over: Kafka's KafkaApis answers and keeps the connection.
    msg::SaslAuthenticateResponse resp;
    resp.error_code = to_wire(ErrorCode::ILLEGAL_SASL_STATE);
    resp.error_message = "SaslAuthenticate request received after successful authentication";
    return send_response(ctx, respond, resp);
  }
  auto answer = ctx.sasl->authenticate(req, ctx.api_version, runtime::steady_ms());
  if (answer.after == SaslSession::After::Close)
    report_authentication(ctx, ctx.sasl->mechanism(), false, ctx.sasl->failure());
  else if (!ctx.sasl->in_exchange())
    report_authentication(ctx, ctx.sasl->mechanism(), true, "");
  Response out;
  answer.response.encode(out.body, ctx.api_version);
  out.close_after = answer.after == SaslSession::After::Close;
  respond(std::move(out));
}

}  // namespace kb::server
