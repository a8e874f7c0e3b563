#include "security/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "protocol/base64.h"
#include "security/plain.h"
#include "security/split.h"

namespace kb::security {

namespace {

const EVP_MD* digest(ScramMechanism m) { return m == ScramMechanism::SHA_256 ? EVP_sha256() : EVP_sha512(); }

std::string hmac(ScramMechanism m, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(digest(m), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string hash(ScramMechanism m, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, digest(m), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string xor_bytes(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

// "k=v,k=v,...": the attributes of a SCRAM message in order; nullopt when one is malformed.
std::optional<std::vector<std::pair<char, std::string_view>>> attributes(std::string_view message) {
  std::vector<std::pair<char, std::string_view>> out;
  for (std::string_view part : split(message, ',')) {
    if (part.size() < 2 || part[1] != '=' || !std::isalpha(static_cast<unsigned char>(part[0]))) return std::nullopt;
    out.emplace_back(part[0], part.substr(2));
  }
  return out;
}

std::optional<int32_t> parse_int(std::string_view s) {
  int32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool printable_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce)
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  return true;
}

}  // namespace

std::optional<ScramMechanism> scram_mechanism(std::string_view name) {
  if (name == "SCRAM-SHA-256") return ScramMechanism::SHA_256;
  if (name == "SCRAM-SHA-512") return ScramMechanism::SHA_512;
  return std::nullopt;
}

std::optional<ScramMechanism> scram_mechanism(int8_t id) {
  if (id == 1) return ScramMechanism::SHA_256;
  if (id == 2) return ScramMechanism::SHA_512;
  return std::nullopt;
}

std::string_view mechanism_name(ScramMechanism m) {
  return m == ScramMechanism::SHA_256 ? "SCRAM-SHA-256" : "SCRAM-SHA-512";
}

std::string salted_password(ScramMechanism m, std::string_view password, std::string_view salt, int32_t iterations) {
  std::string out(static_cast<size_t>(EVP_MD_get_size(digest(m))), '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    digest(m), static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

ScramCredential credential_from_salted(ScramMechanism m, std::string_view salted, std::string_view salt,
                                       int32_t iterations) {
  ScramCredential c;
  c.salt = std::string(salt);
  c.iterations = iterations;
  c.stored_key = hash(m, hmac(m, salted, "Client Key"));
  c.server_key = hmac(m, salted, "Server Key");
  return c;
}

ScramCredential make_credential(ScramMechanism m, std::string_view password, std::string_view salt,
                                int32_t iterations) {
  return credential_from_salted(m, salted_password(m, password, salt, iterations), salt, iterations);
}

std::string random_bytes(size_t bytes) {
  std::string out(bytes, '\0');
  // Without a working generator every salt and nonce would be predictable: nothing to go on with.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(bytes)) != 1) {
    std::fputs("kbroker: OpenSSL's random generator failed\n", stderr);
    std::abort();
  }
  return out;
}

std::string random_nonce() {
  // Base64 of random bytes has no ',' (RFC 5802's printable), as Kafka's own nonces.
  return base64_encode(random_bytes(24));
}

std::string escape_username(std::string_view user) {
  std::string out;
  for (char c : user) {
    if (c == ',')
      out += "=2C";
    else if (c == '=')
      out += "=3D";
    else
      out += c;
  }
  return out;
}

std::optional<std::string> unescape_username(std::string_view saslname) {
  std::string out;
  for (size_t i = 0; i < saslname.size(); ++i) {
    if (saslname[i] != '=') {
      out += saslname[i];
      continue;
    }
    std::string_view code = saslname.substr(i + 1, 2);
    if (code == "2C")
      out += ',';
    else if (code == "3D")
      out += '=';
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

// ---- server -----------------------------------------------------------------------------------

ScramServer::ScramServer(ScramMechanism m, Lookup lookup, std::function<std::string()> nonce)
    : mech_(m), lookup_(std::move(lookup)), nonce_source_(std::move(nonce)) {}

Result<std::string> ScramServer::fail(std::string why) {
  state_ = State::Failed;
  return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, std::move(why)};
}

Result<std::string> ScramServer::step(std::string_view client_message) {
  switch (state_) {
    case State::First:
      return first(client_message);
    case State::Final:
      return final(client_message);
    default:
      return Error{ErrorCode::ILLEGAL_SASL_STATE, "the SCRAM exchange is already over"};
  }
}

Result<std::string> ScramServer::first(std::string_view message) {
  // gs2-header: "n," or "y," (no channel binding), then an optional "a=authzid", then ','.
  if (message.size() < 3 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',')
    return fail(message.starts_with("p=") ? "channel binding is not supported" : "malformed client-first message");
  size_t header_end = message.find(',', 2);
  if (header_end == std::string_view::npos) return fail("malformed client-first message");
  std::string_view authzid = message.substr(2, header_end - 2);
  if (!authzid.empty() && !authzid.starts_with("a=")) return fail("malformed authorization id");
  gs2_header_ = std::string(message.substr(0, header_end + 1));
  client_first_bare_ = std::string(message.substr(header_end + 1));
  // "n=<saslname>,r=<nonce>", then extensions "key=value" (Kafka's only one, tokenauth=true,
  // asks for delegation tokens, which kbroker does not have).
  const std::vector<std::string_view> parts = split(client_first_bare_, ',');
  if (parts.size() < 2 || !parts[0].starts_with("n=") || !parts[1].starts_with("r="))
    return fail("malformed client-first message");
  auto user = unescape_username(parts[0].substr(2));
  if (!user || user->empty()) return fail("malformed username");
  user_ = *user;
  if (!authzid.empty() && unescape_username(authzid.substr(2)) != user_)
    return fail("the authorization id differs from the username " + user_);
  for (size_t i = 2; i < parts.size(); ++i) {
    size_t eq = parts[i].find('=');
    if (eq == 0 || eq == std::string_view::npos) return fail("malformed extension");
    if (parts[i] == "tokenauth=true") return fail("delegation-token authentication is not supported");
  }
  std::string_view client_nonce = parts[1].substr(2);
  if (!printable_nonce(client_nonce)) return fail("malformed client nonce");
  auto credential = lookup_(user_);
  if (!credential) return fail("unknown user " + user_);
  credential_ = std::move(*credential);
  nonce_ = std::string(client_nonce) + nonce_source_();
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(credential_.salt) + ",i=" + std::to_string(credential_.iterations);
  state_ = State::Final;
  return server_first_;
}

Result<std::string> ScramServer::final(std::string_view message) {
  size_t proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos) return fail("malformed client-final message");
  std::string_view without_proof = message.substr(0, proof_at);
  auto attrs = attributes(without_proof);
  if (!attrs || attrs->size() < 2 || (*attrs)[0].first != 'c' || (*attrs)[1].first != 'r')
    return fail("malformed client-final message");
  if (base64_decode((*attrs)[0].second) != gs2_header_) return fail("channel binding does not match");
  // RFC 5802 wants the server's nonce echoed exactly. librdkafka 2.0 (Debian 12's) sends its own
  // nonce once more in front of it, and Kafka accepts that (its ScramSaslServer checked
  // endsWith): so do we. The server's random part must still end the nonce, and the proof
  // covers the message as the client sent it.
  if (!(*attrs)[1].second.ends_with(nonce_)) return fail("nonce does not match");
  auto proof = base64_decode(message.substr(proof_at + 3));
  if (!proof || proof->size() != credential_.stored_key.size()) return fail("malformed client proof");

  const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const std::string client_signature = hmac(mech_, credential_.stored_key, auth_message);
  const std::string client_key = xor_bytes(*proof, client_signature);
  if (!same_secret(hash(mech_, client_key), credential_.stored_key)) return fail("invalid credentials");
  state_ = State::Done;
  return "v=" + base64_encode(hmac(mech_, credential_.server_key, auth_message));
}

// ---- client -----------------------------------------------------------------------------------

ScramClient::ScramClient(ScramMechanism m, std::string user, std::string password,
                         std::function<std::string()> nonce)
    : mech_(m), user_(std::move(user)), password_(std::move(password)), nonce_(nonce()) {}

std::string ScramClient::first_message() {
  client_first_bare_ = "n=" + escape_username(user_) + ",r=" + nonce_;
  return "n,," + client_first_bare_;
}

Result<std::string> ScramClient::final_message(std::string_view server_first) {
  auto attrs = attributes(server_first);
  if (!attrs || attrs->size() < 3 || (*attrs)[0].first != 'r' || (*attrs)[1].first != 's' || (*attrs)[2].first != 'i')
    return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, "malformed server-first message"};
  std::string_view nonce = (*attrs)[0].second;
  if (!nonce.starts_with(nonce_) || nonce.size() == nonce_.size())
    return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, "the server's nonce does not extend ours"};
  auto salt = base64_decode((*attrs)[1].second);
  auto iterations = parse_int((*attrs)[2].second);
  if (!salt || !iterations || *iterations < 1)
    return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, "malformed salt or iteration count"};
  const std::string salted = salted_password(mech_, password_, *salt, *iterations);
  const std::string without_proof = "c=" + base64_encode("n,,") + ",r=" + std::string(nonce);
  const std::string auth_message = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  const std::string client_key = hmac(mech_, salted, "Client Key");
  const std::string client_signature = hmac(mech_, hash(mech_, client_key), auth_message);
  server_signature_ = hmac(mech_, hmac(mech_, salted, "Server Key"), auth_message);
  return without_proof + ",p=" + base64_encode(xor_bytes(client_key, client_signature));
}

Status ScramClient::verify(std::string_view server_final) const {
  if (server_final.starts_with("e="))
    return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, "the server refused: " + std::string(server_final.substr(2))};
  if (!server_final.starts_with("v=") || server_signature_.empty())
    return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, "malformed server-final message"};
  auto signature = base64_decode(server_final.substr(2));
  if (!signature || !same_secret(*signature, server_signature_))
    return Error{ErrorCode::SASL_AUTHENTICATION_FAILED, "the server's signature does not match"};
  return {};
}

}  // namespace kb::security
