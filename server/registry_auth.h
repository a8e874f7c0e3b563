// HTTP Basic authentication for the Schema Registry (Confluent's authentication.method=BASIC),
// against the same users as SASL: the SCRAM credentials of the metadata image (the password
// salted with the stored salt and iterations gives the stored key, compared in constant time)
// and the PLAIN users of `sasl.jaas.config` and `listener.name.<l>.plain.sasl.jaas.config`
// (PlainLoginModule's user_<name>="<password>"). Missing or wrong credentials get 401 with
// Confluent's body and a Basic challenge. Changing the global config or mode takes a
// `super.users` principal; anyone else gets 403.
//
// A SCRAM user's password is checked by PBKDF2 (thousands of HMACs), and a registry client
// sends its Basic credentials with every request: a verified (user, password) is remembered,
// tied to the credential it was verified against (mechanism, salt, iterations, stored key), so
// a changed or deleted SCRAM credential is never answered from memory. The password is kept
// only as an HMAC under a key random to this process, compared in constant time; at most
// kMaxVerified users are remembered.
//
// Threads: authenticate/authorize from the registry's HTTP threads; the image is read through
// the Controller's pointer copy, the verified cache under its mutex, the rest is fixed at
// construction.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "config/config.h"
#include "controller/metadata_image.h"
#include "registry/auth.h"
#include "runtime/rate_limited_log.h"

namespace kb::server {

class BasicAuthenticator : public registry::Authenticator {
 public:
  using ImageFn = std::function<std::shared_ptr<const controller::MetadataImage>()>;
  BasicAuthenticator(ImageFn image, std::map<std::string, std::string> plain_users,
                     std::set<std::string, std::less<>> super_users);
  // PLAIN users and super users as `config` names them.
  static std::unique_ptr<BasicAuthenticator> from_config(const config::BrokerConfig& config, ImageFn image);

  registry::AuthDecision authenticate(std::string_view authorization_header) override;
  registry::AuthDecision authorize(const std::string& principal, std::string_view route) override;

  // SCRAM logins answered from the verified cache (no PBKDF2 run).
  uint64_t verified_from_cache() const;
  static constexpr size_t kMaxVerified = 1024;

 private:
  bool password_matches(const std::string& user, std::string_view password);

  struct Verified {
    std::string credential;    // which credential it was checked against
    std::string password_mac;  // HMAC(mac_key_, password)
  };

  const ImageFn image_;
  const std::map<std::string, std::string> plain_users_;
  const std::set<std::string, std::less<>> super_users_;
  runtime::RateLimitedLog failures_;  // one line per user and 10 s: a client retrying must not flood the log
  const std::string mac_key_;
  mutable std::mutex verified_mu_;
  std::map<std::string, Verified, std::less<>> verified_;
  uint64_t verified_hits_ = 0;
};

}  // namespace kb::server
