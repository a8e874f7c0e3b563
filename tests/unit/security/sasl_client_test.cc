// The client's side of PLAIN and SCRAM logins (kbroker's own connections), run against the
// server's side of the same exchange.
#include <catch2/catch.hpp>

#include "security/plain.h"
#include "security/sasl_client.h"
#include "security/scram.h"

using namespace kb;
using namespace kb::security;

namespace {

// Runs `client` against a SCRAM server knowing `user` with `stored_password`: the error of the
// side that refused, or "" when both agree the login is complete.
std::string scram_login(SaslClientExchange& client, ScramMechanism m, const std::string& stored_password) {
  const auto credential = make_credential(m, stored_password, "salt-bytes", kScramMinIterations);
  ScramServer server(m, [&](const std::string& u) -> std::optional<ScramCredential> {
    if (u == "broker") return credential;
    return std::nullopt;
  });
  std::string token = client.first();
  for (int round = 0; round < 3; ++round) {
    auto answer = server.step(token);
    if (!answer.ok()) return "server: " + answer.error().message;
    auto next = client.next(*answer);
    if (!next.ok()) return "client: " + next.error().message;
    if (!*next) return server.complete() ? "" : "client done before the server";
    token = **next;
  }
  return "no end after three rounds";
}

}  // namespace

TEST_CASE("a SCRAM login with the right password completes on both sides") {
  SaslClientExchange sha512("SCRAM-SHA-512", "broker", "broker-secret");
  CHECK(scram_login(sha512, ScramMechanism::SHA_512, "broker-secret") == "");
  SaslClientExchange sha256("SCRAM-SHA-256", "broker", "broker-secret");
  CHECK(scram_login(sha256, ScramMechanism::SHA_256, "broker-secret") == "");
}

TEST_CASE("a SCRAM login with a wrong password is refused by the server") {
  SaslClientExchange client("SCRAM-SHA-512", "broker", "wrong");
  CHECK(scram_login(client, ScramMechanism::SHA_512, "broker-secret").rfind("server: ", 0) == 0);
}

TEST_CASE("a SCRAM server that cannot prove it knows the credential is refused by the client") {
  SaslClientExchange client("SCRAM-SHA-256", "broker", "broker-secret");
  const std::string first = client.first();
  const std::string nonce = first.substr(first.find("r=") + 2);
  auto final = client.next("r=" + nonce + "server-part,s=c2FsdA==,i=4096");
  REQUIRE(final.ok());
  REQUIRE(*final);
  auto verdict = client.next("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  REQUIRE_FALSE(verdict.ok());
  CHECK(verdict.error().code == ErrorCode::SASL_AUTHENTICATION_FAILED);
  CHECK(verdict.error().message == "the server's signature does not match");
}

TEST_CASE("a PLAIN login is one token the server reads back, and ends on its empty answer") {
  SaslClientExchange client("PLAIN", "broker", "broker-secret");
  auto creds = parse_plain(client.first());
  REQUIRE(creds.ok());
  CHECK(creds->user == "broker");
  CHECK(creds->password == "broker-secret");
  auto end = client.next("");
  REQUIRE(end.ok());
  CHECK_FALSE(*end);
  CHECK_FALSE(client.next("").ok());  // nothing follows the end
}

TEST_CASE("mechanisms kbroker cannot log in with are refused naming the setting") {
  CHECK(check_client_mechanism("PLAIN", "x").ok());
  CHECK(check_client_mechanism("SCRAM-SHA-256", "x").ok());
  auto gssapi = check_client_mechanism("GSSAPI", "sasl.mechanism.inter.broker.protocol");
  REQUIRE_FALSE(gssapi.ok());
  CHECK(gssapi.error().code == ErrorCode::INVALID_CONFIG);
  CHECK(gssapi.error().message ==
        "sasl.mechanism.inter.broker.protocol: kbroker cannot log in with GSSAPI (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)");
}
