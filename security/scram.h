// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks them inside
// SaslAuthenticate (KIP-84): the stored credential (salt, StoredKey, ServerKey, iterations;
// never the password, as Kafka's UserScramCredentialRecord), the server's side of the exchange,
// and the client's side (kbctl, inter-broker connections).
//
// Kafka's rules: 4096..16384 iterations; no channel binding (the gs2 header is "n,," or
// "n,a=<authzid>," and the authzid, when given, must be the user); usernames escape ',' and '='
// as "=2C" and "=3D"; extensions may follow the nonce (tokenauth=true asks for delegation-token
// authentication, which kbroker does not have: refused).
//
// No I/O and no threads; the nonce source is a parameter so tests can replay RFC 7677's
// exchange. An Error's message says why for the broker's log (never a password or proof); the
// client is told only Kafka's generic SASL_AUTHENTICATION_FAILED text by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/types.h"

namespace kb::security {

// The ids DescribeUserScramCredentials and AlterUserScramCredentials use.
enum class ScramMechanism : int8_t { SHA_256 = 1, SHA_512 = 2 };

// "SCRAM-SHA-256" / "SCRAM-SHA-512"; nullopt for any other name.
std::optional<ScramMechanism> scram_mechanism(std::string_view name);
std::optional<ScramMechanism> scram_mechanism(int8_t id);
std::string_view mechanism_name(ScramMechanism m);

constexpr int32_t kScramMinIterations = 4096;
constexpr int32_t kScramMaxIterations = 16384;

struct ScramCredential {
  std::string salt;        // raw bytes
  std::string stored_key;  // H(ClientKey)
  std::string server_key;  // HMAC(SaltedPassword, "Server Key")
  int32_t iterations = kScramMinIterations;
  bool operator==(const ScramCredential&) const = default;
};

// Hi(password, salt, i) of RFC 5802: PBKDF2 with HMAC of the mechanism's hash.
std::string salted_password(ScramMechanism m, std::string_view password, std::string_view salt, int32_t iterations);
// What the server stores, from a salted password (AlterUserScramCredentials sends that, not the
// password) or from the password itself.
ScramCredential credential_from_salted(ScramMechanism m, std::string_view salted, std::string_view salt,
                                       int32_t iterations);
ScramCredential make_credential(ScramMechanism m, std::string_view password, std::string_view salt,
                                int32_t iterations);
// `bytes` random bytes from OpenSSL's generator (salts), and a printable nonce (RFC 5802's
// "printable": no ',').
std::string random_bytes(size_t bytes);
std::string random_nonce();

// The server's side of one exchange. Two steps: the client-first message gets the
// server-first message, the client-final message gets the server-final message ("v=...").
// Any failure ends the exchange (complete() stays false).
class ScramServer {
 public:
  using Lookup = std::function<std::optional<ScramCredential>(const std::string& user)>;
  ScramServer(ScramMechanism m, Lookup lookup, std::function<std::string()> nonce = random_nonce);

  Result<std::string> step(std::string_view client_message);
  bool complete() const { return state_ == State::Done; }
  // The authenticated user (unescaped), once complete; before that, the one being tried.
  const std::string& username() const { return user_; }

 private:
  Result<std::string> first(std::string_view message);
  Result<std::string> final(std::string_view message);
  Result<std::string> fail(std::string why);

  enum class State { First, Final, Done, Failed };
  ScramMechanism mech_;
  Lookup lookup_;
  std::function<std::string()> nonce_source_;
  State state_ = State::First;
  std::string user_, gs2_header_, client_first_bare_, server_first_, nonce_;
  ScramCredential credential_;
};

// The client's side: first_message(), then final_message(server-first), then verify(server-final).
class ScramClient {
 public:
  ScramClient(ScramMechanism m, std::string user, std::string password,
              std::function<std::string()> nonce = random_nonce);

  std::string first_message();
  Result<std::string> final_message(std::string_view server_first);
  // The server proved it knows the credential (its signature matches).
  Status verify(std::string_view server_final) const;

 private:
  ScramMechanism mech_;
  std::string user_, password_, nonce_, client_first_bare_, server_signature_;
};

// RFC 5802's saslname: ',' as "=2C" and '=' as "=3D"; unescape refuses any other '='.
std::string escape_username(std::string_view user);
std::optional<std::string> unescape_username(std::string_view saslname);

}  // namespace kb::security
