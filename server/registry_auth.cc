#include "server/registry_auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "config/settings.h"
#include "protocol/base64.h"
#include "security/jaas.h"
#include "security/plain.h"
#include "security/scram.h"
#include "server/authorization.h"

namespace kb::server {

namespace {

constexpr const char* kChallenge = "Basic realm=\"SchemaRegistry\"";

registry::AuthDecision unauthorized() {
  registry::AuthDecision d;
  d.allowed = false;
  d.status = 401;
  d.message = "Unauthorized";
  d.challenge = kChallenge;
  return d;
}

// The PLAIN users of a JAAS text (every PlainLoginModule's user_<name> options).
void add_plain_users(std::string_view text, std::string_view where, std::map<std::string, std::string>& users) {
  auto modules = security::parse_jaas(text);
  if (!modules.ok()) {
    spdlog::warn("schema registry Basic auth: {} is not read ({})", where, modules.error().message);
    return;
  }
  for (const auto& m : modules.value()) users.merge(security::plain_users(m));
}

// "PUT /config" and the like: the routes that change the registry-wide config or mode.
bool global_change(std::string_view route) {
  return route == "PUT /config" || route == "DELETE /config" || route == "PUT /mode" || route == "DELETE /mode";
}

// What identifies the SCRAM credential a password was checked against: any change to it
// (a new password, salt or iteration count, the other mechanism) gives another value.
std::string credential_id(security::ScramMechanism m, const security::ScramCredential& c) {
  return fmt::format("{}:{}:{}:", static_cast<int>(m), c.iterations, c.salt.size()) + c.salt + c.stored_key;
}

std::string mac(std::string_view key, std::string_view text) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), out, &n);
  return std::string(reinterpret_cast<const char*>(out), n);
}

}  // namespace

BasicAuthenticator::BasicAuthenticator(ImageFn image, std::map<std::string, std::string> plain_users,
                                       std::set<std::string, std::less<>> super_users)
    : image_(std::move(image)),
      plain_users_(std::move(plain_users)),
      super_users_(std::move(super_users)),
      mac_key_(security::random_bytes(32)) {}

std::unique_ptr<BasicAuthenticator> BasicAuthenticator::from_config(const config::BrokerConfig& config,
                                                                    ImageFn image) {
  std::map<std::string, std::string> plain;
  if (auto text = config.settings().sasl_jaas_config) add_plain_users(*text, "sasl.jaas.config", plain);
  for (const auto& l : config.listeners()) {
    std::string lower = l.name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string key = "listener.name." + lower + ".plain.sasl.jaas.config";
    if (auto text = config.raw(key)) add_plain_users(*text, key, plain);
  }
  // The super users the broker's authorizer knows (super.users), whether or not it is on.
  auto supers = authorizer_config(config).super_users;
  return std::make_unique<BasicAuthenticator>(std::move(image), std::move(plain), std::move(supers));
}

bool BasicAuthenticator::password_matches(const std::string& user, std::string_view password) {
  auto image = image_();
  for (auto m : {security::ScramMechanism::SHA_512, security::ScramMechanism::SHA_256}) {
    auto stored = image->scram_credential(m, user);
    if (!stored) continue;
    const std::string id = credential_id(m, *stored);
    const std::string password_mac = mac(mac_key_, password);
    {
      std::lock_guard lk(verified_mu_);
      auto it = verified_.find(user);
      if (it != verified_.end() && it->second.credential == id &&
          security::same_secret(it->second.password_mac, password_mac)) {
        ++verified_hits_;
        return true;
      }
    }
    auto computed = security::make_credential(m, password, stored->salt, stored->iterations);
    if (!security::same_secret(computed.stored_key, stored->stored_key)) continue;
    std::lock_guard lk(verified_mu_);
    if (verified_.size() >= kMaxVerified && !verified_.count(user)) verified_.clear();
    verified_[user] = Verified{id, password_mac};
    return true;
  }
  auto it = plain_users_.find(user);
  return it != plain_users_.end() && security::same_secret(it->second, password);
}

registry::AuthDecision BasicAuthenticator::authenticate(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return unauthorized();
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return unauthorized();
  auto decoded = base64_decode(header.substr(kScheme.size()));
  if (!decoded) return unauthorized();
  size_t colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0) return unauthorized();
  std::string user = decoded->substr(0, colon);
  if (!password_matches(user, std::string_view(*decoded).substr(colon + 1))) {
    failures_.info(user, "schema registry: Basic authentication of user {} failed", user);
    return unauthorized();
  }
  registry::AuthDecision d;
  d.principal = "User:" + user;
  return d;
}

uint64_t BasicAuthenticator::verified_from_cache() const {
  std::lock_guard lk(verified_mu_);
  return verified_hits_;
}

registry::AuthDecision BasicAuthenticator::authorize(const std::string& principal, std::string_view route) {
  registry::AuthDecision d;
  d.principal = principal;
  if (!global_change(route) || super_users_.count(principal)) return d;
  d.allowed = false;
  d.status = 403;
  d.error_code = 40301;
  d.message = std::string("User is denied operation Write on global ") +
              (route.find("/config") != std::string_view::npos ? "config" : "mode");
  return d;
}

}  // namespace kb::server
