// Handler for api Envelope (key 58), version 0.
// The active controller's side of forwarding (KIP-590, server/forwarding.h): a broker sends a
// client's controller-bound request wrapped with the client's principal and address; it is
// served here by the request's own handler (ctx.forwarded set) and its answer wrapped back.
// Only brokers send Envelopes: on a controller listener, or this broker's own channel. The
// inner request is authorized with the principal and address the envelope carries.
#include <arpa/inet.h>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/envelope_request.h"
#include "protocol/messages/envelope_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"
#include "replication/raft/quorum.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

constexpr int16_t kEnvelopeVersion = 0;

// The APIs a broker forwards to the controller (Kafka's "forwardable" request types that
// kbroker serves).
bool forwardable(int16_t api_key) {
  switch (api_key) {
    case 19:  // CreateTopics
    case 20:  // DeleteTopics
    case 30:  // CreateAcls
    case 31:  // DeleteAcls
    case 33:  // AlterConfigs
    case 37:  // CreatePartitions
    case 43:  // ElectLeaders
    case 44:  // IncrementalAlterConfigs
    case 45:  // AlterPartitionReassignments
    case 51:  // AlterUserScramCredentials
      return true;
    case 49:  // AlterClientQuotas
      return true;
    default:
      return false;
  }
}

std::string peer_of(const std::vector<uint8_t>& address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.size() == 4 && inet_ntop(AF_INET, address.data(), text, sizeof text)) return std::string(text) + ":0";
  if (address.size() == 16 && inet_ntop(AF_INET6, address.data(), text, sizeof text))
    return "[" + std::string(text) + "]:0";
  return "(forwarded)";
}

}  // namespace

void handle_envelope(RequestContext& ctx, Respond respond) {
  msg::EnvelopeRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  msg::EnvelopeResponse resp;
  auto refuse = [&](ErrorCode code) {
    resp.error_code = to_wire(code);
    send_response(ctx, respond, resp);
  };
  // Kafka takes Envelopes only from brokers, on the controller listener.
  if (!ctx.from_this_broker && !broker.controller_listener(ctx.listener)) {
    spdlog::warn("Envelope from {} on listener {} refused: not a controller listener", ctx.peer, ctx.listener);
    return refuse(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
  }
  if (!broker.controller().active()) return refuse(ErrorCode::NOT_CONTROLLER);
  const auto& data = req.request_data;
  if (data.size() < 4) return refuse(ErrorCode::INVALID_REQUEST);
  const int16_t api_key = static_cast<int16_t>(wire::load_be16(data.data()));
  const int16_t version = static_cast<int16_t>(wire::load_be16(data.data() + 2));
  const HandlerInfo* h = find_handler(api_key);
  if (!h || !forwardable(api_key) || version < h->min_version || version > h->max_version) {
    spdlog::warn("Envelope from {} with api key {} version {} refused: not a forwardable request", ctx.peer, api_key,
                 version);
    return refuse(ErrorCode::INVALID_REQUEST);
  }
  auto frame = std::make_shared<Frame>(data.begin(), data.end());
  wire::Reader r(std::span<const uint8_t>(frame->data(), frame->size()));
  msg::RequestHeader header;
  if (!header.decode(r, msg::request_header_version(api_key, version))) return refuse(ErrorCode::INVALID_REQUEST);

  // The client's principal, which the inner request is authorized with (Kafka: an envelope
  // without a readable one fails PRINCIPAL_DESERIALIZATION_FAILURE).
  std::optional<std::string> principal;
  if (req.request_principal)
    principal = deserialize_principal(std::span<const uint8_t>(req.request_principal->data(), req.request_principal->size()));
  if (!principal) {
    spdlog::warn("Envelope from {} refused: its principal does not decode", ctx.peer);
    return refuse(ErrorCode::PRINCIPAL_DESERIALIZATION_FAILURE);
  }

  RequestContext inner;
  inner.api_key = api_key;
  inner.api_version = version;
  inner.correlation_id = header.correlation_id;
  inner.client_id = header.client_id.value_or("");
  inner.peer = peer_of(req.client_host_address);
  inner.host = inner.peer.substr(0, inner.peer.rfind(':'));
  if (inner.host.size() >= 2 && inner.host.front() == '[') inner.host = inner.host.substr(1, inner.host.size() - 2);
  inner.principal = std::move(*principal);
  inner.body = std::span<uint8_t>(frame->data() + r.position(), frame->size() - r.position());
  inner.frame = std::move(frame);
  inner.broker = ctx.broker;
  inner.scheduler = ctx.scheduler;
  inner.listener = ctx.listener;
  inner.forwarded = true;
  // An answer written while this node lost the leadership may hold NOT_CONTROLLER errors:
  // the envelope says so instead, and the forwarding broker asks the new controller.
  const int32_t epoch = broker.quorum().epoch();
  const int32_t correlation_id = header.correlation_id;
  h->fn(inner, [&broker, epoch, api_key, version, correlation_id, respond](Response&& out) mutable {
    msg::EnvelopeResponse er;
    if (!out.send) {
      er.error_code = to_wire(ErrorCode::INVALID_REQUEST);  // the embedded request did not parse
    } else if (!broker.controller().active() || broker.quorum().epoch() != epoch) {
      er.error_code = to_wire(ErrorCode::NOT_CONTROLLER);
    } else {
      msg::ResponseHeader rh;
      rh.correlation_id = correlation_id;
      wire::Writer w;
      rh.encode(w, msg::response_header_version(api_key, version));
      w.write_raw(std::span<const uint8_t>(out.body.buffer().data(), out.body.buffer().size()));
      er.response_data = std::move(w.buffer());
    }
    send_response(kEnvelopeVersion, respond, er);
  });
}

}  // namespace kb::server
