#include <catch2/catch.hpp>

#include "server/listener_security.h"

using namespace kb;
using namespace kb::server;

namespace {

const std::string kBase =
    "node.id: 1\nlog.dirs: /tmp/kb-listener-security-test\n"
    "listeners: PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093\n";

Result<std::map<std::string, std::shared_ptr<const ListenerSecurity>>> build(const std::string& extra) {
  return make_listener_security(config::BrokerConfig::from_yaml(kBase + extra), nullptr);
}

std::string error_of(const std::string& extra) {
  auto r = build(extra);
  return r.ok() ? "" : r.error().message;
}

const std::string kJaas =
    "listener.name.sasl_plaintext.plain.sasl.jaas.config: 'org.apache.kafka.common.security.plain.PlainLoginModule "
    "required username=\"admin\" password=\"a\" user_admin=\"a\" user_alice=\"alice-pw\";'\n";

}  // namespace

TEST_CASE("a SASL listener gets its mechanisms, PLAIN users and session lifetime") {
  auto r = build("sasl.enabled.mechanisms: PLAIN,SCRAM-SHA-512\n" + kJaas +
                 "listener.name.sasl_plaintext.connections.max.reauth.ms: 60000\n");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);  // PLAINTEXT listeners need nothing
  const auto& sec = *r->at("SASL_PLAINTEXT");
  CHECK(sec.protocol == "SASL_PLAINTEXT");
  CHECK_FALSE(sec.tls);
  REQUIRE(sec.sasl);
  CHECK(sec.sasl->enabled_mechanisms == std::vector<std::string>{"PLAIN", "SCRAM-SHA-512"});
  CHECK(sec.sasl->plain_users == std::map<std::string, std::string>{{"admin", "a"}, {"alice", "alice-pw"}});
  CHECK(sec.sasl->max_reauth_ms == 60000);
  CHECK(sec.sasl_max_receive_bytes == 524288);
}

TEST_CASE("SASL settings kbroker cannot serve are configuration errors naming the listener") {
  // Kafka's default mechanism, GSSAPI (Kerberos), is not served.
  CHECK(error_of("") ==
        "listener SASL_PLAINTEXT: sasl.enabled.mechanisms: kbroker does not serve GSSAPI (PLAIN, SCRAM-SHA-256, "
        "SCRAM-SHA-512)");
  CHECK(error_of("listener.name.sasl_plaintext.sasl.enabled.mechanisms: \"\"\n") ==
        "listener SASL_PLAINTEXT: a SASL_PLAINTEXT listener needs a mechanism in sasl.enabled.mechanisms");
  CHECK(error_of("sasl.enabled.mechanisms: PLAIN\n").find("PLAIN needs its users in "
                                                          "listener.name.sasl_plaintext.plain.sasl.jaas.config") !=
        std::string::npos);
  CHECK(error_of("sasl.enabled.mechanisms: PLAIN\n"
                 "listener.name.sasl_plaintext.plain.sasl.jaas.config: 'PlainLoginModule required username=\"a\";'\n")
            .find("names no user") != std::string::npos);
  CHECK(error_of("sasl.enabled.mechanisms: PLAIN\n"
                 "listener.name.sasl_plaintext.plain.sasl.jaas.config: 'not jaas'\n")
            .find("listener SASL_PLAINTEXT: listener.name.sasl_plaintext.plain.sasl.jaas.config: ") == 0);
  // SCRAM needs no JAAS users: its credentials are in the metadata log.
  CHECK(error_of("sasl.enabled.mechanisms: SCRAM-SHA-256\n").empty());
}

TEST_CASE("an SSL listener without a key store is a configuration error") {
  CHECK(make_listener_security(config::BrokerConfig::from_yaml(
                                   "node.id: 1\nlog.dirs: /tmp/kb-listener-security-test\n"
                                   "listeners: PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093\n"),
                               nullptr)
            .error()
            .message.find("listener SSL: an SSL listener needs ssl.keystore.location") == 0);
}
