// The client's side of one SASL exchange inside SaslAuthenticate (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512), for kbroker's own connections to other brokers and controllers: the tokens
// to send, and whether the server's answers complete the login. No I/O; the caller carries the
// tokens in SaslAuthenticate requests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/types.h"
#include "security/scram.h"

namespace kb::security {

// The mechanisms kbroker can log in with; INVALID_CONFIG naming the ones it lacks (GSSAPI,
// OAUTHBEARER) for `setting`, the property that chose it.
Status check_client_mechanism(std::string_view mechanism, std::string_view setting);

class SaslClientExchange {
 public:
  // `mechanism` must have passed check_client_mechanism.
  SaslClientExchange(std::string mechanism, std::string user, std::string password);

  const std::string& mechanism() const { return mechanism_; }
  // The first token (PLAIN's whole token, SCRAM's client-first message).
  std::string first();
  // The server's answer to the last token: the next token to send, nullopt when the login is
  // complete, or SASL_AUTHENTICATION_FAILED (a SCRAM server that cannot prove it knows the
  // credential fails here too).
  Result<std::optional<std::string>> next(std::string_view server_token);

 private:
  std::string mechanism_, user_, password_;
  std::unique_ptr<ScramClient> scram_;
  int step_ = 0;
};

}  // namespace kb::security
