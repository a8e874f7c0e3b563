// How kbroker's own connections log in, read from the configuration as Kafka's broker reads it.
#include <catch2/catch.hpp>

#include "server/peer_security.h"

using namespace kb;
using namespace kb::server;

namespace {

// A broker and controller whose inter-broker listener is SASL_PLAINTEXT (so no key store is
// needed) and whose controller listener is PLAINTEXT unless the test maps it.
const std::string kBase =
    "node.id: 1\nlog.dirs: /tmp/kb-peer-security-test\nprocess.roles: broker,controller\n"
    "controller.quorum.voters: 1@127.0.0.1:9094\ncontroller.listener.names: CONTROLLER\n"
    "listeners: PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9094\n"
    "advertised.listeners: PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093\n";

const std::string kScramLogin =
    "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config: "
    "'org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" password=\"pw\";'\n";

Result<runtime::PeerSecurity> build(const std::string& extra, PeerTraffic traffic = PeerTraffic::Broker) {
  return make_peer_security(config::BrokerConfig::from_yaml(kBase + extra), traffic);
}

std::string error_of(const std::string& extra, PeerTraffic traffic = PeerTraffic::Broker) {
  auto r = build(extra, traffic);
  return r.ok() ? "" : r.error().message;
}

}  // namespace

TEST_CASE("broker traffic to a PLAINTEXT inter-broker listener needs no login") {
  auto sec = build("");
  REQUIRE(sec.ok());
  CHECK(sec->protocol == "PLAINTEXT");
  CHECK_FALSE(sec->tls);
  CHECK(sec->sasl_mechanism.empty());
}

TEST_CASE("security.inter.broker.protocol picks the listener named after it, with its mechanism and login") {
  auto sec = build("security.inter.broker.protocol: SASL_PLAINTEXT\n"
                   "sasl.enabled.mechanisms: SCRAM-SHA-512\n"
                   "sasl.mechanism.inter.broker.protocol: SCRAM-SHA-512\n" +
                   kScramLogin);
  REQUIRE(sec.ok());
  CHECK(inter_broker_listener_name(config::BrokerConfig::from_yaml(
            kBase + "security.inter.broker.protocol: SASL_PLAINTEXT\nsasl.enabled.mechanisms: SCRAM-SHA-512\n")) ==
        "SASL_PLAINTEXT");
  CHECK(sec->protocol == "SASL_PLAINTEXT");
  CHECK(sec->sasl_mechanism == "SCRAM-SHA-512");
  CHECK(sec->sasl_username == "broker");
  CHECK(sec->sasl_password == "pw");
  // Controller traffic goes to the controller listener, PLAINTEXT here.
  auto controller = build("security.inter.broker.protocol: SASL_PLAINTEXT\nsasl.enabled.mechanisms: SCRAM-SHA-512\n",
                          PeerTraffic::Controller);
  REQUIRE(controller.ok());
  CHECK(controller->protocol == "PLAINTEXT");
}

TEST_CASE("logins kbroker cannot make are configuration errors naming the setting") {
  const std::string sasl = "inter.broker.listener.name: SASL_PLAINTEXT\nsasl.enabled.mechanisms: SCRAM-SHA-512\n";
  // Kafka's default mechanism is GSSAPI (Kerberos).
  CHECK(error_of(sasl).rfind("sasl.mechanism.inter.broker.protocol: kbroker cannot log in with GSSAPI", 0) == 0);
  CHECK(error_of(sasl + "sasl.mechanism.inter.broker.protocol: SCRAM-SHA-512\n")
            .find("its login is the username=\"...\" password=\"...\" of "
                  "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config") != std::string::npos);
  CHECK(error_of(sasl + "sasl.mechanism.inter.broker.protocol: PLAIN\n")
            .rfind("sasl.mechanism.inter.broker.protocol must be included in sasl.enabled.mechanisms", 0) == 0);
  CHECK(error_of(sasl + "sasl.mechanism.inter.broker.protocol: SCRAM-SHA-512\n"
                        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config: 'ScramLoginModule required;'\n")
            .find("no username=\"...\" password=\"...\"") != std::string::npos);
  // Controllers authenticate each other before the metadata log (and its SCRAM users) exists.
  CHECK(error_of("listener.security.protocol.map: PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
                 "CONTROLLER:SASL_PLAINTEXT\nsasl.enabled.mechanisms: SCRAM-SHA-512\n"
                 "sasl.mechanism.controller.protocol: SCRAM-SHA-512\n",
                 PeerTraffic::Controller)
            .rfind("sasl.mechanism.controller.protocol: controllers cannot log in to each other with SCRAM-SHA-512", 0) ==
        0);
}

TEST_CASE("ssl.endpoint.identification.algorithm is https or empty") {
  const std::string ssl =
      "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SSL,CONTROLLER:PLAINTEXT\n"
      "inter.broker.listener.name: SASL_PLAINTEXT\n";
  // (No key store: the client side needs none; the trust store falls back to the system's.)
  auto verified = build(ssl);
  REQUIRE(verified.ok());
  CHECK(verified->tls);
  CHECK(verified->verify_host);
  auto unverified = build(ssl + "ssl.endpoint.identification.algorithm: \"\"\n");
  REQUIRE(unverified.ok());
  CHECK_FALSE(unverified->verify_host);
  CHECK(error_of(ssl + "ssl.endpoint.identification.algorithm: ldaps\n").find("(https, or empty to not verify)") !=
        std::string::npos);
}

TEST_CASE("security.inter.broker.protocol and inter.broker.listener.name are not both set") {
  CHECK_THROWS_WITH(
      config::BrokerConfig::from_yaml(kBase + "security.inter.broker.protocol: SASL_PLAINTEXT\n"
                                              "inter.broker.listener.name: PLAINTEXT\nsasl.enabled.mechanisms: PLAIN\n"),
      "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.");
  CHECK_THROWS_WITH(config::BrokerConfig::from_yaml(kBase + "security.inter.broker.protocol: SSL\n"),
                    Catch::Contains("security.inter.broker.protocol: SSL names no listener in advertised.listeners"));
}
