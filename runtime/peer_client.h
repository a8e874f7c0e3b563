// A Kafka-protocol client for the requests brokers send each other (Raft votes and fetches
// of the metadata quorum, follower fetches, broker heartbeats, transaction markers): one
// connection per destination node, requests pipelined on it with their correlation ids,
// answers matched back, each with its own timeout.
//
// Owner: whoever needs its own connections (the broker's controller requests, the quorum,
// the follower fetcher, the transaction markers each have one, so a long-poll on one never
// holds back another's answers). Threads: one LoopThread of its own; send() may be called
// from any thread; callbacks run on the client's thread and must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "protocol/wire.h"
#include "security/tls.h"

namespace kb::runtime {

struct PeerAddress {
  std::string host;
  uint16_t port = 0;
  bool operator==(const PeerAddress&) const = default;
};

// How a PeerClient's connections reach the listener they target (the inter-broker listener
// for broker traffic, the controller listener for the quorum and the controller channel), as
// Kafka's client side of that listener's security protocol: TLS verified against the trust
// store (and the host name, unless ssl.endpoint.identification.algorithm is empty), then SASL
// with one mechanism. A connection carries no request until both are done; a failed handshake
// fails what waits on it with the error (and is logged, rate-limited), and the next request
// tries again, as after a refused connection.
struct PeerSecurity {
  std::string protocol = "PLAINTEXT";  // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
  security::TlsContext tls;            // SSL and SASL_SSL: a client context
  bool verify_host = true;             // ssl.endpoint.identification.algorithm=https
  std::string sasl_mechanism;          // SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
  std::string sasl_username, sasl_password;
};

// Turns a typed answer callback into one taking the raw response body: CORRUPT_MESSAGE for a
// body that does not decode as `Response` at `version`. Shared by every typed request sender.
template <class Response>
std::function<void(Result<std::vector<uint8_t>>)> decoding_answer(int16_t version,
                                                                  std::function<void(Result<Response>)> done) {
  return [version, done = std::move(done)](Result<std::vector<uint8_t>> body) {
    if (!body.ok()) return done(body.error());
    Response resp;
    wire::Reader r(std::span<const uint8_t>(body->data(), body->size()));
    if (!resp.decode(r, version)) return done(Error{ErrorCode::CORRUPT_MESSAGE, "undecodable response"});
    done(std::move(resp));
  };
}

class PeerClient {
 public:
  // The response body (after the response header), or NETWORK_EXCEPTION (connection failed
  // or closed with the request outstanding) or REQUEST_TIMED_OUT.
  using Callback = std::function<void(Result<std::vector<uint8_t>>)>;

  explicit PeerClient(std::string client_id, PeerSecurity security = {});
  ~PeerClient();  // stop()
  // Fails everything outstanding with NETWORK_EXCEPTION, closes connections, joins the thread.
  // Sends after stop() are dropped: their callbacks never run.
  void stop();

  // Sends one request to `node` at `to` (a changed address reconnects). Requests to one node
  // are written in the order sent.
  void send(int32_t node, const PeerAddress& to, int16_t api_key, int16_t api_version, std::vector<uint8_t> body,
            int64_t timeout_ms, Callback done);

  // Typed form: encodes `req` at `version` and decodes the answer as Response (a body that
  // does not decode is CORRUPT_MESSAGE).
  template <class Request, class Response>
  void call(int32_t node, const PeerAddress& to, const Request& req, int16_t version, int64_t timeout_ms,
            std::function<void(Result<Response>)> done) {
    wire::Writer w;
    req.encode(w, version);
    send(node, to, Request::kApiKey, version, std::move(w.buffer()), timeout_ms,
         decoding_answer<Response>(version, std::move(done)));
  }

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::runtime
