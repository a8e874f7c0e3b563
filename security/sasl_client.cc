#include "security/sasl_client.h"

#include "security/plain.h"

namespace kb::security {

Status check_client_mechanism(std::string_view mechanism, std::string_view setting) {
  if (mechanism == "PLAIN" || scram_mechanism(mechanism)) return {};
  return Error{ErrorCode::INVALID_CONFIG, std::string(setting) + ": kbroker cannot log in with " + std::string(mechanism) +
                                              " (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"};
}

SaslClientExchange::SaslClientExchange(std::string mechanism, std::string user, std::string password)
    : mechanism_(std::move(mechanism)), user_(std::move(user)), password_(std::move(password)) {
  if (auto m = scram_mechanism(mechanism_)) scram_ = std::make_unique<ScramClient>(*m, user_, password_);
}

std::string SaslClientExchange::first() {
  step_ = 1;
  return scram_ ? scram_->first_message() : plain_token(user_, password_);
}

Result<std::optional<std::string>> SaslClientExchange::next(std::string_view server_token) {
  const int step = step_++;
  if (!scram_ && step == 1) return std::optional<std::string>{};  // PLAIN: the server's empty answer ends it
  if (scram_ && step == 1) {
    auto final = scram_->final_message(server_token);
    if (!final.ok()) return final.error();
    return std::optional<std::string>(std::move(*final));
  }
  if (scram_ && step == 2) {
    if (auto st = scram_->verify(server_token); !st.ok()) return st.error();
    return std::optional<std::string>{};
  }
  return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, "the " + mechanism_ + " exchange is already over"};
}

}  // namespace kb::security
