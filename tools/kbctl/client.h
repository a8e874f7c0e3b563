// kbctl's view of a Kafka cluster: a synchronous client over runtime::PeerClient (the same
// connections, framing and correlation kbroker's brokers use with each other). It bootstraps
// from any of the given brokers, learns the others from Metadata, asks each broker its API
// versions once (ApiVersions) and sends every request at the highest version both sides speak
// (capped by the caller where a newer version changes the message's shape), so it works against
// any Kafka-compatible broker.
//
// Owner: the command being run, one per process. Threads: the caller's (each call waits for
// its answer); PeerClient's own thread does the I/O.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages/metadata_response.h"
#include "protocol/types.h"
#include "protocol/wire.h"
#include "runtime/peer_client.h"

namespace kb::kbctl {

struct ClientOptions {
  std::vector<runtime::PeerAddress> bootstrap;
  int64_t timeout_ms = 10000;
  std::string client_id = "kbctl";
};

// "host:port[,host:port...]" -> addresses; an error names the entry that does not parse.
Result<std::vector<runtime::PeerAddress>> parse_brokers(const std::string& list);

class Client {
 public:
  explicit Client(ClientOptions options);

  // Metadata for `topics` (nullopt: every topic) from any reachable broker; remembers every
  // broker's address for later calls to a node.
  Result<msg::MetadataResponse> metadata(const std::optional<std::vector<std::string>>& topics);
  // The active controller's id, from Metadata (-1 while none is known).
  Result<int32_t> controller_id();
  // The group coordinator of `group` (FindCoordinator, from any broker).
  Result<int32_t> coordinator(const std::string& group);
  // The known brokers' ids (after metadata()).
  std::vector<int32_t> node_ids() const;
  // "broker 2 (127.0.0.1:19093)", or the bootstrap address while the id is unknown.
  std::string describe(int32_t node) const;

  // Sends `req` to broker `node` at min(cap, the broker's highest) and waits for the answer.
  template <class Req, class Resp>
  Result<Resp> call(int32_t node, const Req& req, int16_t cap) {
    auto version = negotiate(node, Req::kApiKey, Req::kMinVersion, std::min<int16_t>(cap, Req::kMaxVersion));
    if (!version.ok()) return version.error();
    wire::Writer w;
    req.encode(w, *version);
    auto body = send(node, Req::kApiKey, *version, std::move(w.buffer()));
    if (!body.ok()) return body.error();
    Resp resp;
    wire::Reader r(std::span<const uint8_t>(body->data(), body->size()));
    if (!resp.decode(r, *version))
      return Error{ErrorCode::CORRUPT_MESSAGE, describe(node) + " sent an answer that does not decode"};
    last_version_ = *version;
    return resp;
  }
  // The same to the first broker that answers (bootstrap brokers first); network failures move
  // on to the next one. `node` (if given) is set to the broker that answered.
  template <class Req, class Resp>
  Result<Resp> call_any(const Req& req, int16_t cap, int32_t* node = nullptr) {
    Error last{ErrorCode::NETWORK_EXCEPTION, "no broker given"};
    for (int32_t n : candidates()) {
      auto r = call<Req, Resp>(n, req, cap);
      if (r.ok() || !unreachable(r.error())) {
        if (node) *node = n;
        return r;
      }
      last = r.error();
    }
    return unreachable_all(last);
  }
  // The same to the active controller (Metadata's controller_id: in KRaft clusters any broker
  // forwards controller requests, in older ones only the controller takes them), or to any
  // broker when none is named or it does not answer.
  template <class Req, class Resp>
  Result<Resp> call_controller(const Req& req, int16_t cap, int32_t* node) {
    auto ctl = controller_id();
    if (ctl.ok() && *ctl >= 0) {
      auto r = call<Req, Resp>(*ctl, req, cap);
      if (r.ok() || !unreachable(r.error())) {
        *node = *ctl;
        return r;
      }
    }
    return call_any<Req, Resp>(req, cap, node);
  }
  // The version the last call() was sent at (for reading version-dependent fields).
  int16_t last_version() const { return last_version_; }

  // The message kbctl prints for a Kafka error a broker answered: "broker 1 (host:port)
  // answered TOPIC_ALREADY_EXISTS: <its message>".
  std::string refusal(int32_t node, ErrorCode code,
                      const std::optional<std::string>& message = std::nullopt) const;

  static bool unreachable(const Error& e) {
    return e.code == ErrorCode::NETWORK_EXCEPTION || e.code == ErrorCode::REQUEST_TIMED_OUT;
  }

 private:
  Result<int16_t> negotiate(int32_t node, int16_t api_key, int16_t our_min, int16_t our_max);
  Result<std::vector<uint8_t>> send(int32_t node, int16_t api_key, int16_t version,
                                    std::vector<uint8_t> body);
  std::vector<int32_t> candidates() const;
  Error unreachable_all(const Error& last) const;
  std::optional<runtime::PeerAddress> address(int32_t node) const;

  ClientOptions opts_;
  runtime::PeerClient peer_;
  // Bootstrap brokers go by negative ids (-1, -2, ...) until Metadata names them.
  std::map<int32_t, runtime::PeerAddress> nodes_;
  std::map<int32_t, std::map<int16_t, std::pair<int16_t, int16_t>>> versions_;  // node -> api -> [min, max]
  int16_t last_version_ = 0;
};

}  // namespace kb::kbctl
