#include "server/forwarding.h"

#include <arpa/inet.h>

#include <array>

#include "controller/controller_channel.h"
#include "protocol/messages/api_keys.h"
#include "protocol/messages/envelope_request.h"
#include "protocol/messages/envelope_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"
#include "server/broker.h"

namespace kb::server {

namespace {

constexpr int16_t kEnvelopeVersion = 0;

}  // namespace

// Kafka's DefaultPrincipalData (version 0, flexible), version-prefixed, as KafkaPrincipalSerde
// writes it.
std::vector<uint8_t> serialize_principal(std::string_view principal) {
  const size_t colon = principal.find(':');
  wire::Writer w;
  w.write_int16(0);
  w.write_compact_string(colon == std::string_view::npos ? std::string_view("User") : principal.substr(0, colon));
  w.write_compact_string(colon == std::string_view::npos ? principal : principal.substr(colon + 1));
  w.write_bool(false);  // token authenticated
  w.write_uvarint(0);   // no tagged fields
  return std::move(w.buffer());
}

std::optional<std::string> deserialize_principal(std::span<const uint8_t> data) {
  wire::Reader r(data);
  if (r.read_int16() != 0) return std::nullopt;
  std::string type = r.read_compact_string();
  std::string name = r.read_compact_string();
  r.read_bool();
  if (!r.ok() || type.empty()) return std::nullopt;
  return type + ":" + name;
}

namespace {

// "127.0.0.1:53122" or "[::1]:53122" -> the address's 4 or 16 bytes (Kafka sends
// InetAddress.getAddress()); empty when it does not parse.
std::vector<uint8_t> host_address(const std::string& peer) {
  std::string host = peer.substr(0, peer.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::array<uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, host.c_str(), bytes.data()) == 1) return {bytes.begin(), bytes.begin() + 4};
  if (inet_pton(AF_INET6, host.c_str(), bytes.data()) == 1) return {bytes.begin(), bytes.end()};
  return {};
}

// The envelope's own error, when the answer decodes; NOT_CONTROLLER makes the channel try
// again with the controller it knows next.
bool answered_by_standby(const std::vector<uint8_t>& body) {
  msg::EnvelopeResponse resp;
  wire::Reader r(std::span<const uint8_t>(body.data(), body.size()));
  return resp.decode(r, kEnvelopeVersion) && resp.error_code == to_wire(ErrorCode::NOT_CONTROLLER);
}

}  // namespace

void forward_to_controller(Broker& broker, const RequestContext& ctx, std::vector<uint8_t> body,
                           std::function<void(Result<std::vector<uint8_t>>)> done) {
  msg::RequestHeader header;
  header.request_api_key = ctx.api_key;
  header.request_api_version = ctx.api_version;
  header.correlation_id = ctx.correlation_id;
  header.client_id = ctx.client_id;
  wire::Writer data;
  header.encode(data, msg::request_header_version(ctx.api_key, ctx.api_version));
  data.write_raw(std::span<const uint8_t>(body.data(), body.size()));
  msg::EnvelopeRequest env;
  env.request_data = std::move(data.buffer());
  env.request_principal = serialize_principal(ctx.principal);
  env.client_host_address = host_address(ctx.peer);
  wire::Writer w;
  env.encode(w, kEnvelopeVersion);
  const int16_t api_key = ctx.api_key, version = ctx.api_version;
  broker.controller_channel().send_until(
      msg::EnvelopeRequest::kApiKey, kEnvelopeVersion, std::move(w.buffer()), kForwardTimeoutMs, answered_by_standby,
      [api_key, version, done = std::move(done)](Result<std::vector<uint8_t>> r) {
        // The channel gave up (no controller known, none reachable): Kafka's brokers answer a
        // forward that timed out REQUEST_TIMED_OUT, which clients retry; NOT_CONTROLLER would
        // send them looking for a controller they cannot reach.
        if (!r.ok() && (r.code() == ErrorCode::NOT_CONTROLLER || r.code() == ErrorCode::NETWORK_EXCEPTION))
          return done(Error{ErrorCode::REQUEST_TIMED_OUT, "no active controller took the request in time (" +
                                                              r.error().message + ")"});
        if (!r.ok()) return done(r.error());
        msg::EnvelopeResponse resp;
        wire::Reader er(std::span<const uint8_t>(r->data(), r->size()));
        if (!resp.decode(er, kEnvelopeVersion))
          return done(Error{ErrorCode::CORRUPT_MESSAGE, "undecodable Envelope answer from the controller"});
        if (resp.error_code == to_wire(ErrorCode::NOT_CONTROLLER))
          return done(Error{ErrorCode::REQUEST_TIMED_OUT, "no active controller took the request in time"});
        // Any other envelope error is a broker misconfiguration, not the client's doing: Kafka's
        // brokers answer UNKNOWN_SERVER_ERROR, which the client does not mistake for its own.
        if (resp.error_code != 0)
          return done(Error{ErrorCode::UNKNOWN_SERVER_ERROR,
                            "the controller refused the forwarded request: " +
                                std::string(error_name(static_cast<ErrorCode>(resp.error_code)))});
        if (!resp.response_data)
          return done(Error{ErrorCode::UNKNOWN_SERVER_ERROR, "the controller's Envelope answer carries no response"});
        const auto& bytes = *resp.response_data;
        wire::Reader hr(std::span<const uint8_t>(bytes.data(), bytes.size()));
        msg::ResponseHeader rh;
        if (!rh.decode(hr, msg::response_header_version(api_key, version)))
          return done(Error{ErrorCode::CORRUPT_MESSAGE, "undecodable response header in the controller's answer"});
        done(std::vector<uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(hr.position()), bytes.end()));
      });
}

bool forward_unless_controller(RequestContext& ctx, Respond& respond, FailedForward fail) {
  if (ctx.forwarded) return false;
  std::vector<uint8_t> body(ctx.body.begin(), ctx.body.end());
  forward_to_controller(*ctx.broker, ctx, std::move(body),
                        [respond, fail = std::move(fail)](Result<std::vector<uint8_t>> r) mutable {
                          if (!r.ok()) return fail(respond, r.code(), r.error().message);
                          Response out;
                          out.body.write_raw(std::span<const uint8_t>(r->data(), r->size()));
                          respond(std::move(out));
                        });
  return true;
}

}  // namespace kb::server
