#include <catch2/catch.hpp>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "protocol/base64.h"
#include "security/scram.h"

using namespace kb;
using namespace kb::security;

namespace {

ScramServer::Lookup one_user(std::string user, ScramCredential c) {
  return [user, c](const std::string& name) -> std::optional<ScramCredential> {
    if (name == user) return c;
    return std::nullopt;
  };
}

std::function<std::string()> fixed(std::string nonce) {
  return [nonce] { return nonce; };
}

// Runs a whole exchange; the server's last answer (or its error).
Result<std::string> exchange(ScramServer& server, ScramClient& client) {
  auto first = server.step(client.first_message());
  if (!first.ok()) return first;
  auto final = client.final_message(*first);
  if (!final.ok()) return final;
  return server.step(*final);
}

}  // namespace

TEST_CASE("SCRAM-SHA-256: the exchange of RFC 7677 section 3, byte for byte") {
  const std::string salt = *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  ScramServer server(ScramMechanism::SHA_256, one_user("user", make_credential(ScramMechanism::SHA_256, "pencil", salt, 4096)),
                     fixed("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
  ScramClient client(ScramMechanism::SHA_256, "user", "pencil", fixed("rOprNGfwEbeRWgbNEkqO"));

  CHECK(client.first_message() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto server_first = server.step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  REQUIRE(server_first.ok());
  CHECK(*server_first == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  auto client_final = client.final_message(*server_first);
  REQUIRE(client_final.ok());
  CHECK(*client_final ==
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  auto server_final = server.step(*client_final);
  REQUIRE(server_final.ok());
  CHECK(*server_final == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  CHECK(server.complete());
  CHECK(server.username() == "user");
  CHECK(client.verify(*server_final).ok());
}

TEST_CASE("SCRAM-SHA-512: a right password authenticates, a wrong one fails and ends the exchange") {
  const auto credential = make_credential(ScramMechanism::SHA_512, "s3cret", random_bytes(16), 8192);
  CHECK(credential.stored_key.size() == 64);
  CHECK(credential.iterations == 8192);
  {
    ScramServer server(ScramMechanism::SHA_512, one_user("app", credential));
    ScramClient client(ScramMechanism::SHA_512, "app", "s3cret");
    auto last = exchange(server, client);
    REQUIRE(last.ok());
    CHECK(server.complete());
    CHECK(client.verify(*last).ok());
  }
  {
    ScramServer server(ScramMechanism::SHA_512, one_user("app", credential));
    ScramClient client(ScramMechanism::SHA_512, "app", "wrong");
    auto last = exchange(server, client);
    REQUIRE_FALSE(last.ok());
    CHECK(last.code() == ErrorCode::SASL_AUTHENTICATION_FAILED);
    CHECK(last.error().message == "invalid credentials");
    CHECK_FALSE(server.complete());
    CHECK(server.step("c=biws,r=x,p=eA==").code() == ErrorCode::ILLEGAL_SASL_STATE);
  }
}

TEST_CASE("SCRAM: a credential made from the salted password equals one made from the password") {
  const std::string salt = "0123456789abcdef";
  for (auto m : {ScramMechanism::SHA_256, ScramMechanism::SHA_512})
    CHECK(credential_from_salted(m, salted_password(m, "pw", salt, 4096), salt, 4096) == make_credential(m, "pw", salt, 4096));
}

TEST_CASE("SCRAM server refusals: unknown user, other authzid, channel binding, tokens, altered nonce") {
  const auto credential = make_credential(ScramMechanism::SHA_256, "pw", "salt-salt-salt", 4096);
  auto server = [&] { return ScramServer(ScramMechanism::SHA_256, one_user("alice", credential), fixed("SRV")); };

  CHECK(server().step("n,,n=bob,r=abc").error().message == "unknown user bob");
  CHECK(server().step("n,a=bob,n=alice,r=abc").code() == ErrorCode::SASL_AUTHENTICATION_FAILED);
  CHECK(server().step("n,a=alice,n=alice,r=abc").ok());
  CHECK(server().step("p=tls-unique,,n=alice,r=abc").error().message == "channel binding is not supported");
  CHECK(server().step("n,,n=alice,r=abc,tokenauth=true").error().message ==
        "delegation-token authentication is not supported");
  CHECK(server().step("n,,n=alice,r=abc,ext=1").ok());
  for (const char* garbage : {"", "n", "n,,", "n,,r=abc", "n,,n=alice", "n,,n=al=XXice,r=abc", "x,,n=alice,r=abc",
                              "n,,n=alice,r=a,b", "n,,n=alice,r=ab c"})
    CHECK(server().step(garbage).code() == ErrorCode::SASL_AUTHENTICATION_FAILED);

  ScramServer s = server();
  ScramClient client(ScramMechanism::SHA_256, "alice", "pw", fixed("abc"));
  auto first = s.step(client.first_message());
  REQUIRE(first.ok());
  auto final = client.final_message(*first);
  REQUIRE(final.ok());
  std::string altered = *final;
  altered.replace(altered.find("r=abc"), 5, "r=abd");
  CHECK(s.step(altered).error().message == "nonce does not match");
}

namespace {

std::string hmac_sha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

TEST_CASE("SCRAM server accepts librdkafka 2.0's final nonce (its own nonce once more in front), as Kafka does") {
  const auto credential = make_credential(ScramMechanism::SHA_256, "pw", "salt-salt-salt", 4096);
  ScramServer s(ScramMechanism::SHA_256, one_user("alice", credential), fixed("SRV"));
  auto first = s.step("n,,n=alice,r=abc");
  REQUIRE(first.ok());
  REQUIRE(first->starts_with("r=abcSRV,"));
  // What librdkafka 2.0.2 sends: r=<its nonce><the server's whole nonce>, with the proof over
  // exactly that message.
  const std::string without_proof = "c=biws,r=abcabcSRV";
  const std::string auth_message = "n=alice,r=abc," + *first + "," + without_proof;
  const std::string client_key =
      hmac_sha256(salted_password(ScramMechanism::SHA_256, "pw", "salt-salt-salt", 4096), "Client Key");
  std::string stored(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(client_key.data()), client_key.size(),
         reinterpret_cast<unsigned char*>(stored.data()));
  std::string proof = hmac_sha256(stored, auth_message);
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ client_key[i]);
  auto final = s.step(without_proof + ",p=" + base64_encode(proof));
  REQUIRE(final.ok());
  CHECK(s.complete());
}

TEST_CASE("SCRAM usernames escape ',' and '=' and come back unescaped") {
  CHECK(escape_username("a,b=c") == "a=2Cb=3Dc");
  CHECK(unescape_username("a=2Cb=3Dc") == "a,b=c");
  CHECK_FALSE(unescape_username("a=2").has_value());
  CHECK_FALSE(unescape_username("a=41").has_value());

  const auto credential = make_credential(ScramMechanism::SHA_256, "pw", "salt", 4096);
  ScramServer server(ScramMechanism::SHA_256, one_user("a,b=c", credential));
  ScramClient client(ScramMechanism::SHA_256, "a,b=c", "pw");
  REQUIRE(exchange(server, client).ok());
  CHECK(server.username() == "a,b=c");
}

TEST_CASE("SCRAM client: refuses a server that does not extend its nonce or signs wrongly") {
  ScramClient client(ScramMechanism::SHA_256, "u", "pw", fixed("abc"));
  client.first_message();
  CHECK_FALSE(client.final_message("r=xyz,s=c2FsdA==,i=4096").ok());
  CHECK_FALSE(client.final_message("r=abc,s=c2FsdA==,i=4096").ok());
  CHECK_FALSE(client.final_message("r=abcdef,s=!!!,i=4096").ok());
  REQUIRE(client.final_message("r=abcdef,s=c2FsdA==,i=4096").ok());
  CHECK_FALSE(client.verify("v=AAAA").ok());
  CHECK(client.verify("e=invalid-proof").error().message == "the server refused: invalid-proof");
}

TEST_CASE("SCRAM mechanism names and ids are Kafka's") {
  CHECK(scram_mechanism("SCRAM-SHA-256") == ScramMechanism::SHA_256);
  CHECK(scram_mechanism("SCRAM-SHA-512") == ScramMechanism::SHA_512);
  CHECK_FALSE(scram_mechanism("SCRAM-SHA-1").has_value());
  CHECK(scram_mechanism(int8_t{2}) == ScramMechanism::SHA_512);
  CHECK_FALSE(scram_mechanism(int8_t{0}).has_value());
  CHECK(mechanism_name(ScramMechanism::SHA_256) == "SCRAM-SHA-256");
  CHECK(random_nonce() != random_nonce());
  CHECK(random_nonce().find(',') == std::string::npos);
}
