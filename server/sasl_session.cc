#include "server/sasl_session.h"

#include <algorithm>

#include "security/plain.h"

namespace kb::server {

namespace {

constexpr int16_t kSaslHandshake = 17;
constexpr int16_t kApiVersions = 18;
constexpr int16_t kSaslAuthenticate = 36;

}  // namespace

bool SaslSession::admits(int16_t api_key, int64_t now_ms) const {
  switch (state_) {
    case State::Handshake:
      return api_key == kSaslHandshake || api_key == kApiVersions;
    case State::Authenticate:
      return api_key == kSaslAuthenticate;
    case State::Done:
      // A SaslAuthenticate now reaches its handler, which answers ILLEGAL_SASL_STATE as Kafka's
      // KafkaApis does; a SaslHandshake starts a re-authentication, also once the session ended.
      return api_key == kSaslHandshake || session_end_ms_ == 0 || now_ms < session_end_ms_;
  }
  return false;
}

SaslSession::Answer<msg::SaslHandshakeResponse> SaslSession::handshake(const msg::SaslHandshakeRequest& req,
                                                                       int16_t version) {
  Answer<msg::SaslHandshakeResponse> a;
  a.response.mechanisms = config_->enabled_mechanisms;
  if (authenticated() && !supports_reauth_) {
    // Kafka re-authenticates only clients that said they can; for the others the handshake
    // reaches KafkaApis, which answers it and keeps the connection.
    a.response.error_code = to_wire(ErrorCode::ILLEGAL_SASL_STATE);
    return a;
  }
  const auto& enabled = config_->enabled_mechanisms;
  if (std::find(enabled.begin(), enabled.end(), req.mechanism) == enabled.end()) {
    failure_ = "unsupported SASL mechanism " + req.mechanism;
    a.response.error_code = to_wire(ErrorCode::UNSUPPORTED_SASL_MECHANISM);
    a.after = After::Close;
    return a;
  }
  if (authenticated() && req.mechanism != mechanism_) {
    // KIP-368: a re-authentication keeps its mechanism.
    failure_ = "re-authentication with " + req.mechanism + " after " + mechanism_;
    a.response.error_code = to_wire(ErrorCode::ILLEGAL_SASL_STATE);
    a.after = After::Close;
    return a;
  }
  mechanism_ = req.mechanism;
  raw_tokens_ = version == 0;
  if (auto scram = security::scram_mechanism(mechanism_)) {
    auto lookup = config_->scram_lookup;
    scram_ = std::make_unique<security::ScramServer>(
        *scram, [lookup, m = *scram](const std::string& user) -> std::optional<security::ScramCredential> {
          return lookup ? lookup(m, user) : std::nullopt;
        });
  }
  state_ = State::Authenticate;
  return a;
}

SaslSession::Answer<msg::SaslAuthenticateResponse> SaslSession::failed(std::string client_message, std::string why) {
  failure_ = std::move(why);
  Answer<msg::SaslAuthenticateResponse> a;
  a.response.error_code = to_wire(ErrorCode::SASL_AUTHENTICATION_FAILED);
  a.response.error_message = std::move(client_message);
  a.after = After::Close;
  scram_.reset();
  return a;
}

SaslSession::Answer<msg::SaslAuthenticateResponse> SaslSession::authenticate(const msg::SaslAuthenticateRequest& req,
                                                                             int16_t version, int64_t now_ms) {
  const std::string token(req.auth_bytes.begin(), req.auth_bytes.end());
  if (version >= 1) supports_reauth_ = true;
  std::string user;
  Answer<msg::SaslAuthenticateResponse> a;
  if (mechanism_ == "PLAIN") {
    auto creds = security::parse_plain(token);
    if (!creds.ok()) return failed(creds.error().message, creds.error().message);
    auto known = config_->plain_users.find(creds->user);
    if (known == config_->plain_users.end() || !security::same_secret(known->second, creds->password))
      return failed("Authentication failed: Invalid username or password", "invalid PLAIN credentials for " + creds->user);
    user = creds->user;
  } else if (scram_) {
    auto answer = scram_->step(token);
    if (!answer.ok()) {
      // Kafka tells an unknown SCRAM user apart ("Invalid user credentials"), and hides the rest
      // behind one message so a client learns nothing from a wrong password.
      std::string client = answer.error().message.starts_with("unknown user")
                               ? "Authentication failed: Invalid user credentials"
                               : "Authentication failed during authentication due to invalid credentials with SASL "
                                 "mechanism " + mechanism_;
      return failed(std::move(client), "SCRAM (" + mechanism_ + ") for " + scram_->username() + ": " +
                                           answer.error().message);
    }
    a.response.auth_bytes.assign(answer->begin(), answer->end());
    if (!scram_->complete()) return a;  // the server-first message; the client-final comes next
    user = scram_->username();
  } else {
    return failed("Authentication failed: no SASL mechanism was chosen", "SaslAuthenticate before SaslHandshake");
  }

  const std::string principal = "User:" + user;
  if (authenticated() && principal != principal_)
    return failed("Cannot change principals during re-authentication from " + principal_ + " to " + principal,
                  "re-authentication as " + principal + " on a connection of " + principal_);
  principal_ = principal;
  scram_.reset();
  state_ = State::Done;
  session_end_ms_ = config_->max_reauth_ms > 0 ? now_ms + config_->max_reauth_ms : 0;
  if (version >= 1) a.response.session_lifetime_ms = config_->max_reauth_ms;
  return a;
}

SaslSession::Answer<std::vector<uint8_t>> SaslSession::raw_token(std::span<const uint8_t> token, int64_t now_ms) {
  msg::SaslAuthenticateRequest req;
  req.auth_bytes.assign(token.begin(), token.end());
  auto answer = authenticate(req, 0, now_ms);
  Answer<std::vector<uint8_t>> a;
  a.after = answer.after;
  if (answer.response.error_code == 0) a.response = std::move(answer.response.auth_bytes);
  return a;
}

}  // namespace kb::server
