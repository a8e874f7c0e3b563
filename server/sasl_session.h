// One connection's SASL authentication, as Kafka's SaslServerAuthenticator runs it on a
// SASL_PLAINTEXT or SASL_SSL listener:
//
//   ApiVersions (any number) -> SaslHandshake (the mechanism) -> SaslAuthenticate (one or more
//   tokens, as the mechanism needs) -> authenticated: every API; a later SaslHandshake starts a
//   re-authentication (KIP-368), which must keep the principal and the mechanism.
//
// After a SaslHandshake v0 (kafka-python, old Java clients) the tokens come as raw frames: a
// 4-byte length and the token, no request header, answered the same way (raw_token()); a
// failure closes the connection without an answer, as Kafka does for such clients. Such a
// client cannot re-authenticate (only SaslAuthenticate v1+ says a client can): a later
// SaslHandshake is answered ILLEGAL_SASL_STATE, and the session ends at
// connections.max.reauth.ms all the same.
//
// Anything else before authentication closes the connection without an answer (Kafka:
// "Unexpected Kafka request of type X during SASL handshake"). A failed authentication is
// answered (SASL_AUTHENTICATION_FAILED with Kafka's message, which never tells whether the
// user exists for SCRAM) and then the connection is closed. With connections.max.reauth.ms > 0
// the session lasts that long (SaslAuthenticate v1+ tells the client) and a request after it
// ends closes the connection.
//
// Owner: the connection. Threads: the connection's network thread only. No I/O: the caller
// sends the answers and closes when told.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/messages/sasl_authenticate_request.h"
#include "protocol/messages/sasl_authenticate_response.h"
#include "protocol/messages/sasl_handshake_request.h"
#include "protocol/messages/sasl_handshake_response.h"
#include "security/scram.h"

namespace kb::server {

struct SaslConfig {
  std::vector<std::string> enabled_mechanisms;    // sasl.enabled.mechanisms, e.g. {"SCRAM-SHA-512", "PLAIN"}
  std::map<std::string, std::string> plain_users;  // user -> password (the listener's JAAS user_<name>)
  // The stored SCRAM credential of a user for a mechanism (from the metadata image).
  std::function<std::optional<security::ScramCredential>(security::ScramMechanism, const std::string&)> scram_lookup;
  int64_t max_reauth_ms = 0;  // connections.max.reauth.ms; 0: sessions never end
};

class SaslSession {
 public:
  explicit SaslSession(std::shared_ptr<const SaslConfig> config) : config_(std::move(config)) {}

  enum class After { Continue, Close };  // what the connection does once the answer is sent
  template <class Response>
  struct Answer {
    Response response;
    After after = After::Continue;
  };

  // Whether a request of `api_key` may be handled now; false: close the connection unanswered.
  bool admits(int16_t api_key, int64_t now_ms) const;

  Answer<msg::SaslHandshakeResponse> handshake(const msg::SaslHandshakeRequest& req, int16_t version = 1);
  Answer<msg::SaslAuthenticateResponse> authenticate(const msg::SaslAuthenticateRequest& req, int16_t version,
                                                     int64_t now_ms);
  // After a v0 handshake: the next frame is a raw token, not a request (see above).
  bool expects_raw_token() const { return state_ == State::Authenticate && raw_tokens_; }
  // One raw token; the answer is the raw token to send back (empty for PLAIN's success: a
  // zero length), nothing when the connection closes.
  Answer<std::vector<uint8_t>> raw_token(std::span<const uint8_t> token, int64_t now_ms);

  bool authenticated() const { return !principal_.empty(); }
  // Between a handshake and the end of its exchange (a SaslAuthenticate is expected).
  bool in_exchange() const { return state_ == State::Authenticate; }
  const std::string& principal() const { return principal_; }  // "User:alice" once authenticated
  const std::string& mechanism() const { return mechanism_; }
  // Why the last attempt failed (for the broker's one log line; no secrets in it).
  const std::string& failure() const { return failure_; }

 private:
  enum class State { Handshake, Authenticate, Done };
  Answer<msg::SaslAuthenticateResponse> failed(std::string client_message, std::string why);

  std::shared_ptr<const SaslConfig> config_;
  State state_ = State::Handshake;
  std::string mechanism_;      // the mechanism of the current exchange (or the last one)
  std::string principal_;      // set by the first successful authentication
  int64_t session_end_ms_ = 0;  // 0: no end
  std::unique_ptr<security::ScramServer> scram_;
  std::string failure_;
  bool raw_tokens_ = false;        // the handshake was v0
  bool supports_reauth_ = false;   // the client sent a SaslAuthenticate v1+ (Kafka's test)
};

}  // namespace kb::server
