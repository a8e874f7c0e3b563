#include "server/dispatch.h"

#include <spdlog/spdlog.h>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/request_header.h"
#include "server/broker.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {
constexpr int16_t kApiVersionsKey = 18;
}

ParseOutcome parse_request(std::shared_ptr<Frame> frame, const std::string& peer,
                           ParsedRequest& out) {
  if (frame->size() < 8) {
    spdlog::warn("closing connection from {}: request of {} bytes is too short for a header", peer,
                 frame->size());
    return ParseOutcome::kClose;
  }
  int16_t api_key = static_cast<int16_t>(wire::load_be16(frame->data()));
  int16_t api_version = static_cast<int16_t>(wire::load_be16(frame->data() + 2));
  const HandlerInfo* h = find_handler(api_key);
  bool supported = h && api_version >= h->min_version && api_version <= h->max_version;

  // ApiVersions with a version we don't know is answered in v0 (with our ranges) so the client
  // can retry with one we do (KIP-511); its body is not parsed.
  bool unsupported_api_versions = api_key == kApiVersionsKey && !supported;
  int16_t header_version =
      supported ? msg::request_header_version(api_key, api_version) : int16_t{1};
  if (unsupported_api_versions) header_version = api_version >= 3 ? 2 : 1;

  wire::Reader r(std::span<const uint8_t>(frame->data(), frame->size()));
  msg::RequestHeader header;
  if (!header.decode(r, header_version)) {
    if (unsupported_api_versions) {
      // The header of a future ApiVersions version may differ; v1 gets the correlation id.
      wire::Reader r1(std::span<const uint8_t>(frame->data(), frame->size()));
      if (!header.decode(r1, 1)) return ParseOutcome::kClose;
    } else {
      spdlog::warn("closing connection from {}: malformed request header (api key {}, version {})",
                   peer, api_key, api_version);
      return ParseOutcome::kClose;
    }
  }
  if (!supported && !unsupported_api_versions) {
    // Kafka's SocketServer closes the connection for API keys it does not serve and for
    // versions outside the advertised range; clients learn the ranges from ApiVersions.
    spdlog::warn("closing connection from {} (client {}): {} api key {} version {}", peer,
                 header.client_id.value_or(""), h ? "unsupported version of" : "unknown", api_key,
                 api_version);
    return ParseOutcome::kClose;
  }
  RequestContext& ctx = out.ctx;
  ctx.api_key = api_key;
  ctx.api_version = unsupported_api_versions ? int16_t{0} : api_version;
  ctx.correlation_id = header.correlation_id;
  ctx.client_id = header.client_id.value_or("");
  ctx.peer = peer;
  size_t at = r.position();
  ctx.body = std::span<uint8_t>(frame->data() + at, frame->size() - at);
  ctx.frame = std::move(frame);
  out.response_header_version =
      api_key == kApiVersionsKey ? int16_t{0} : msg::response_header_version(api_key, api_version);
  if (unsupported_api_versions) {
    ctx.body = {};
    ctx.api_version = -1;  // handle_api_versions answers UNSUPPORTED_VERSION in v0
  }
  return ParseOutcome::kOk;
}

// Requests the active controller serves wait for the metadata quorum to commit. In a
// cluster that takes a round trip to the other voters, whose own requests may be waiting on
// this very network thread: so they run on the broker's controller-request thread instead.
// Clients' controller-bound requests (CreateTopics, AlterConfigs, ...) are not among them:
// their handlers forward them, in an Envelope, to the active controller (forwarding.h), where
// they run inside the Envelope.
bool served_by_controller(int16_t api_key) {
  switch (api_key) {
    case 56:  // AlterPartition
    case 58:  // Envelope
    case 62:  // BrokerRegistration
    case 63:  // BrokerHeartbeat
    case 67:  // AllocateProducerIds
    case 73:  // AssignReplicasToDirs
      return true;
    default:
      return false;
  }
}


void dispatch(RequestContext& ctx, Respond respond) {
  const HandlerInfo* h = find_handler(ctx.api_key);
  if (h->controller_only && !ctx.from_this_broker && !on_controller_listener(ctx)) {
    // Kafka's SocketServer closes the connection for an API its listener does not enable.
    spdlog::warn("closing connection from {} (client {}): {} is served on the controller listener only, not on {}",
                 ctx.peer, ctx.client_id, h->name, ctx.listener);
    Response out;
    out.send = false;
    out.close_after = true;
    respond(std::move(out));
    return;
  }
  if (ctx.broker && served_by_controller(ctx.api_key)) {
    ctx.broker->run_controller_request([ctx, fn = h->fn, respond = std::move(respond)]() mutable {
      fn(ctx, std::move(respond));
    });
    return;
  }
  h->fn(ctx, std::move(respond));
}

}  // namespace kb::server
