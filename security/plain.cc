#include "security/plain.h"

#include <openssl/crypto.h>

#include <vector>

#include "security/split.h"

namespace kb::security {

Result<PlainCredentials> parse_plain(std::string_view token) {
  const std::vector<std::string_view> parts = split(token, '\0');
  auto failed = [](std::string why) { return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, std::move(why)}; };
  if (parts.size() != 3)
    return failed("Invalid SASL/PLAIN response: expected 3 tokens, got " + std::to_string(parts.size()));
  if (parts[1].empty()) return failed("Authentication failed: username not specified");
  if (parts[2].empty()) return failed("Authentication failed: password not specified");
  if (!parts[0].empty() && parts[0] != parts[1])
    return failed("Authentication failed: Client requested an authorization id that is different from username");
  return PlainCredentials{std::string(parts[1]), std::string(parts[2])};
}

std::string plain_token(std::string_view user, std::string_view password) {
  std::string out;
  out += '\0';
  out += user;
  out += '\0';
  out += password;
  return out;
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kb::security
