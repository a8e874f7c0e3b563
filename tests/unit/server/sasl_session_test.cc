#include <catch2/catch.hpp>

#include "security/plain.h"
#include "server/sasl_session.h"

using namespace kb;
using namespace kb::server;
using namespace kb::security;

namespace {

constexpr int16_t kProduce = 0, kMetadata = 3, kSaslHandshake = 17, kApiVersions = 18, kSaslAuthenticate = 36;

std::shared_ptr<SaslConfig> config(int64_t max_reauth_ms = 0) {
  auto c = std::make_shared<SaslConfig>();
  c->enabled_mechanisms = {"SCRAM-SHA-512", "PLAIN"};
  c->plain_users = {{"alice", "alice-pw"}, {"bob", "bob-pw"}};
  auto credential = make_credential(ScramMechanism::SHA_512, "app-pw", "some-salt", 4096);
  c->scram_lookup = [credential](ScramMechanism m, const std::string& user) -> std::optional<ScramCredential> {
    if (m == ScramMechanism::SHA_512 && user == "app") return credential;
    return std::nullopt;
  };
  c->max_reauth_ms = max_reauth_ms;
  return c;
}

msg::SaslHandshakeRequest handshake(std::string mechanism) {
  msg::SaslHandshakeRequest r;
  r.mechanism = std::move(mechanism);
  return r;
}

msg::SaslAuthenticateRequest token(const std::string& bytes) {
  msg::SaslAuthenticateRequest r;
  r.auth_bytes.assign(bytes.begin(), bytes.end());
  return r;
}

std::string text(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

// A whole SCRAM-SHA-512 login; the last answer.
SaslSession::Answer<msg::SaslAuthenticateResponse> scram_login(SaslSession& s, const std::string& user,
                                                               const std::string& password, int64_t now = 0) {
  REQUIRE(s.handshake(handshake("SCRAM-SHA-512")).response.error_code == 0);
  ScramClient client(ScramMechanism::SHA_512, user, password);
  auto first = s.authenticate(token(client.first_message()), 2, now);
  if (first.response.error_code != 0) return first;
  auto final = client.final_message(text(first.response.auth_bytes));
  REQUIRE(final.ok());
  auto last = s.authenticate(token(*final), 2, now);
  if (last.response.error_code == 0) CHECK(client.verify(text(last.response.auth_bytes)).ok());
  return last;
}

}  // namespace

TEST_CASE("SASL: before authentication only ApiVersions and the handshake are admitted") {
  SaslSession s(config());
  CHECK(s.admits(kApiVersions, 0));
  CHECK(s.admits(kSaslHandshake, 0));
  CHECK_FALSE(s.admits(kMetadata, 0));
  CHECK_FALSE(s.admits(kProduce, 0));
  CHECK_FALSE(s.admits(kSaslAuthenticate, 0));
}

TEST_CASE("SASL PLAIN: the listener's users log in; a wrong password is refused with Kafka's message") {
  SaslSession s(config());
  auto hs = s.handshake(handshake("PLAIN"));
  CHECK(hs.response.error_code == 0);
  CHECK(hs.response.mechanisms == std::vector<std::string>{"SCRAM-SHA-512", "PLAIN"});
  CHECK(s.admits(kSaslAuthenticate, 0));
  CHECK_FALSE(s.admits(kMetadata, 0));
  auto ok = s.authenticate(token(plain_token("alice", "alice-pw")), 1, 0);
  CHECK(ok.response.error_code == 0);
  CHECK(ok.after == SaslSession::After::Continue);
  CHECK(s.principal() == "User:alice");
  CHECK(s.admits(kMetadata, 0));

  SaslSession wrong(config());
  wrong.handshake(handshake("PLAIN"));
  auto refused = wrong.authenticate(token(plain_token("alice", "nope")), 1, 0);
  CHECK(refused.response.error_code == to_wire(ErrorCode::SASL_AUTHENTICATION_FAILED));
  CHECK(refused.response.error_message == "Authentication failed: Invalid username or password");
  CHECK(refused.after == SaslSession::After::Close);
  CHECK_FALSE(wrong.authenticated());
}

TEST_CASE("SASL SCRAM: two round trips; a wrong password and an unknown user get Kafka's messages") {
  SaslSession s(config());
  auto last = scram_login(s, "app", "app-pw");
  CHECK(last.response.error_code == 0);
  CHECK(s.principal() == "User:app");
  CHECK(s.mechanism() == "SCRAM-SHA-512");

  SaslSession wrong(config());
  auto refused = scram_login(wrong, "app", "bad");
  CHECK(refused.response.error_code == to_wire(ErrorCode::SASL_AUTHENTICATION_FAILED));
  CHECK(*refused.response.error_message ==
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512");
  CHECK(refused.after == SaslSession::After::Close);
  CHECK(wrong.failure().find("invalid credentials") != std::string::npos);
  CHECK(wrong.failure().find("bad") == std::string::npos);  // never the password

  SaslSession unknown(config());
  auto nobody = scram_login(unknown, "nobody", "x");
  CHECK(*nobody.response.error_message == "Authentication failed: Invalid user credentials");
}

TEST_CASE("SASL: an unsupported mechanism gets the enabled list and the connection closes") {
  SaslSession s(config());
  auto hs = s.handshake(handshake("GSSAPI"));
  CHECK(hs.response.error_code == to_wire(ErrorCode::UNSUPPORTED_SASL_MECHANISM));
  CHECK(hs.response.mechanisms.size() == 2);
  CHECK(hs.after == SaslSession::After::Close);
  SaslSession scram256(config());
  CHECK(scram256.handshake(handshake("SCRAM-SHA-256")).response.error_code ==
        to_wire(ErrorCode::UNSUPPORTED_SASL_MECHANISM));
}

TEST_CASE("SASL re-authentication (KIP-368): the session ends after connections.max.reauth.ms, a new login keeps the principal") {
  SaslSession s(config(60'000));
  s.handshake(handshake("PLAIN"));
  auto ok = s.authenticate(token(plain_token("alice", "alice-pw")), 1, 1'000);
  CHECK(ok.response.session_lifetime_ms == 60'000);
  CHECK(s.admits(kMetadata, 60'999));
  CHECK_FALSE(s.admits(kMetadata, 61'000));
  CHECK(s.admits(kSaslHandshake, 61'000));

  s.handshake(handshake("PLAIN"));
  CHECK(s.authenticate(token(plain_token("alice", "alice-pw")), 1, 61'000).response.error_code == 0);
  CHECK(s.admits(kMetadata, 100'000));

  CHECK(s.handshake(handshake("SCRAM-SHA-512")).response.error_code == to_wire(ErrorCode::ILLEGAL_SASL_STATE));

  SaslSession other(config(60'000));
  other.handshake(handshake("PLAIN"));
  other.authenticate(token(plain_token("alice", "alice-pw")), 1, 0);
  other.handshake(handshake("PLAIN"));
  auto changed = other.authenticate(token(plain_token("bob", "bob-pw")), 1, 10);
  CHECK(*changed.response.error_message == "Cannot change principals during re-authentication from User:alice to User:bob");
  CHECK(changed.after == SaslSession::After::Close);
}

TEST_CASE("SASL: v0 answers carry no session lifetime; malformed PLAIN tokens are refused") {
  SaslSession s(config(5'000));
  s.handshake(handshake("PLAIN"));
  CHECK(s.authenticate(token(plain_token("bob", "bob-pw")), 0, 0).response.session_lifetime_ms == 0);
  SaslSession bad(config());
  bad.handshake(handshake("PLAIN"));
  auto refused = bad.authenticate(token("just-a-string"), 1, 0);
  CHECK(*refused.response.error_message == "Invalid SASL/PLAIN response: expected 3 tokens, got 1");
}

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("SASL after a v0 handshake: bare PLAIN and SCRAM tokens, answered by bare tokens") {
  SaslSession plain(config());
  CHECK(plain.handshake(handshake("PLAIN"), 0).response.error_code == 0);
  CHECK(plain.expects_raw_token());
  auto ok = plain.raw_token(bytes_of(plain_token("alice", "alice-pw")), 0);
  CHECK(ok.after == SaslSession::After::Continue);
  CHECK(ok.response.empty());  // PLAIN's success: a zero-length token
  CHECK_FALSE(plain.expects_raw_token());
  CHECK(plain.principal() == "User:alice");
  CHECK(plain.admits(kMetadata, 0));

  SaslSession scram(config());
  scram.handshake(handshake("SCRAM-SHA-512"), 0);
  ScramClient client(ScramMechanism::SHA_512, "app", "app-pw");
  auto first = scram.raw_token(bytes_of(client.first_message()), 0);
  REQUIRE(first.after == SaslSession::After::Continue);
  CHECK(scram.expects_raw_token());
  auto final = client.final_message(text(first.response));
  REQUIRE(final.ok());
  auto last = scram.raw_token(bytes_of(*final), 0);
  CHECK(last.after == SaslSession::After::Continue);
  CHECK(client.verify(text(last.response)).ok());
  CHECK(scram.principal() == "User:app");
  CHECK_FALSE(scram.expects_raw_token());
}

TEST_CASE("SASL after a v0 handshake: a failed login closes unanswered; no re-authentication later") {
  SaslSession wrong(config());
  wrong.handshake(handshake("PLAIN"), 0);
  auto refused = wrong.raw_token(bytes_of(plain_token("alice", "nope")), 0);
  CHECK(refused.after == SaslSession::After::Close);
  CHECK(refused.response.empty());
  CHECK(wrong.failure() == "invalid PLAIN credentials for alice");

  // Only a client that sent SaslAuthenticate v1+ may re-authenticate (Kafka's test); the
  // others get ILLEGAL_SASL_STATE and keep their connection and principal.
  SaslSession s(config(60'000));
  s.handshake(handshake("PLAIN"), 0);
  s.raw_token(bytes_of(plain_token("alice", "alice-pw")), 1'000);
  auto again = s.handshake(handshake("PLAIN"), 1);
  CHECK(again.response.error_code == to_wire(ErrorCode::ILLEGAL_SASL_STATE));
  CHECK(again.after == SaslSession::After::Continue);
  CHECK(s.principal() == "User:alice");
  CHECK(s.admits(kMetadata, 60'999));
  CHECK_FALSE(s.admits(kMetadata, 61'000));  // the session still ends
}

TEST_CASE("SASL: a SaslAuthenticate after the login reaches its handler (ILLEGAL_SASL_STATE, not a close)") {
  SaslSession s(config());
  s.handshake(handshake("PLAIN"));
  s.authenticate(token(plain_token("alice", "alice-pw")), 1, 0);
  CHECK(s.admits(kSaslAuthenticate, 0));
  CHECK_FALSE(s.in_exchange());
}
