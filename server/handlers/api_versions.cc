// Handler for api ApiVersions (key 18), versions 0..3: the APIs of the listener asked.
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_api_versions(RequestContext& ctx, Respond respond) {
  msg::ApiVersionsResponse resp;
  // Controller-only APIs (the quorum's, the brokers' registration and heartbeats...) are
  // listed on the controller listener alone, as Kafka's ApiVersionManager does per listener.
  const bool controller_listener = on_controller_listener(ctx);
  for (const HandlerInfo& h : handlers()) {
    if (h.controller_only && !controller_listener) continue;
    msg::ApiVersionsResponse::ApiVersion v;
    v.api_key = h.api_key;
    v.min_version = h.min_version;
    v.max_version = h.max_version;
    resp.api_keys.push_back(v);
  }
  if (ctx.api_version < 0) {
    // A version we don't serve: answer in v0 with our ranges so the client can retry (KIP-511).
    resp.error_code = to_wire(ErrorCode::UNSUPPORTED_VERSION);
    Response out;
    resp.encode(out.body, 0);
    respond(std::move(out));
    return;
  }
  msg::ApiVersionsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  resp.error_code = to_wire(ErrorCode::NONE);
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
