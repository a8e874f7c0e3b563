// Kafka 3.9 properties kbroker accepts without using them (config/kafka_compat.cc): a YAML or
// an AlterConfigs written for Kafka works, values Kafka would refuse are refused with Kafka's
// words, and the deprecated message-format settings behave as Kafka 3.x's do.
#include <catch2/catch.hpp>

#include "config/config.h"

using namespace kb;
using namespace kb::config;

namespace {

const std::string kBase = "node.id: 1\nlog.dirs: /tmp/kb-compat-config-test\n";

BrokerConfig load(const std::string& extra) { return BrokerConfig::from_yaml(kBase + extra); }

std::string start_error(const std::string& extra) {
  try {
    load(extra);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string dynamic_error(const std::map<std::string, std::string>& configs, bool cluster_default) {
  auto s = check_dynamic_broker_configs(configs, cluster_default);
  if (s.ok()) return "";
  CHECK(s.code() == ErrorCode::INVALID_REQUEST);
  return s.error().message;
}

std::string topic_error(const std::map<std::string, std::string>& overrides) {
  auto t = TopicConfig::make(load(""), overrides);
  if (t.ok()) return "";
  CHECK(t.code() == ErrorCode::INVALID_CONFIG);
  return t.error().message;
}

}  // namespace

TEST_CASE("a broker YAML written for Kafka 3.9 starts, security and ZooKeeper settings included") {
  auto c = load(
      "log.message.format.version: 2.8\n"
      "log.message.downconversion.enable: false\n"
      "inter.broker.protocol.version: 3.7-IV4\n"
      "sasl.kerberos.min.time.before.relogin: 60000\n"
      "sasl.enabled.mechanisms: PLAIN,SCRAM-SHA-512\n"
      "ssl:\n  keystore:\n    location: /etc/kafka/broker.jks\n    password: secret\n"
      "zookeeper.connect: zk:2181\n"
      "background.threads: 4\n"
      "queued.max.requests: 100\n"
      "group.share.max.groups: 20\n");
  CHECK(c.get_string("log.message.format.version") == "2.8");
  CHECK(c.get_long("sasl.kerberos.min.time.before.relogin") == 60000);
  CHECK(c.get_string("ssl.keystore.location") == "/etc/kafka/broker.jks");
  CHECK(c.source("ssl.keystore.password") == ConfigSource::StaticBrokerConfig);
  CHECK(find_broker_property("ssl.keystore.password")->sensitive());
  // Unset ones read as Kafka's defaults.
  CHECK(c.get_string("sasl.kerberos.kinit.cmd") == "/usr/bin/kinit");
  CHECK(c.get_string("inter.broker.protocol.version") == "3.7-IV4");
  CHECK(load("").get_string("inter.broker.protocol.version") == "3.9-IV0");
  CHECK(find_broker_property("sasl.kerberos.min.time.before.relogin")->not_used);
  CHECK_FALSE(find_broker_property("log.retention.ms")->not_used);
}

TEST_CASE("Kafka's types and ranges still hold for properties kbroker does not use") {
  CHECK(start_error("background.threads: 0\n") ==
        "background.threads: invalid value '0': Value must be at least 1");
  CHECK(start_error("sasl.kerberos.min.time.before.relogin: soon\n")
            .rfind("sasl.kerberos.min.time.before.relogin: invalid value 'soon'", 0) == 0);
  CHECK(start_error("ssl.client.auth: always\n").rfind("ssl.client.auth: invalid value 'always'", 0) == 0);
  CHECK(start_error("log.message.format.version: 1.5\n").find("Version 1.5 is not a valid version") !=
        std::string::npos);
}

TEST_CASE("what kbroker cannot honour is refused at start-up, not silently ignored") {
  // The inter-broker listener is named once: by inter.broker.listener.name or by the protocol.
  CHECK(start_error("security.inter.broker.protocol: SSL\n").find("SSL names no listener in advertised.listeners") !=
        std::string::npos);
  CHECK(start_error("authorizer.class.name: com.example.MyAuthorizer\n").find("kbroker cannot load Java classes") !=
        std::string::npos);
  CHECK(start_error("authorizer.class.name: kafka.security.authorizer.AclAuthorizer\n").find("ZooKeeper") !=
        std::string::npos);
  // Kafka's KRaft authorizer and kbroker's own name both turn on the built-in one.
  CHECK(start_error("authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n").empty());
  CHECK(start_error("authorizer.class.name: kbroker\nsuper.users: User:admin; User:broker\n").empty());
  CHECK(start_error("super.users: admin\n").find("write User:admin") != std::string::npos);
  CHECK(
      start_error("create.topic.policy.class.name: com.example.Policy\n").find("cannot load Java classes") !=
      std::string::npos);
  CHECK(start_error("controller.quorum.bootstrap.servers: c1:9093\n").find("controller.quorum.voters") !=
        std::string::npos);
  CHECK(!start_error("security.inter.broker.protocol: SSL\n").empty());
  // KRaft refuses an inter-broker protocol older than 3.0-IV1, as Kafka does.
  CHECK(start_error("inter.broker.protocol.version: 2.8\n")
            .find("A non-KRaft version 2.8 given for inter.broker.protocol.version. The minimum version is "
                  "3.0-IV1") != std::string::npos);
  CHECK(start_error("inter.broker.protocol.version: 3.0\n").empty());
}

TEST_CASE("AlterConfigs follows Kafka's update mode of each accepted property") {
  // per-broker in Kafka: fine on the broker's own resource, refused at the cluster default.
  CHECK(dynamic_error({{"sasl.kerberos.min.time.before.relogin", "30000"}}, false).empty());
  CHECK(dynamic_error({{"sasl.kerberos.min.time.before.relogin", "30000"}}, true) ==
        "Cannot update these configs at default cluster level, broker id must be specified: "
        "[sasl.kerberos.min.time.before.relogin]");
  // cluster-wide: anywhere.
  CHECK(dynamic_error({{"background.threads", "4"}, {"log.message.downconversion.enable", "false"}}, true)
            .empty());
  // read-only.
  CHECK(dynamic_error({{"log.message.format.version", "2.8"}}, false) ==
        "Cannot update these configs dynamically: [log.message.format.version]");
  // Key and trust stores: only with a listener prefix in Kafka.
  CHECK(dynamic_error({{"ssl.keystore.location", "/k.jks"}}, false) ==
        "These security configs can be dynamically updated only per-listener using the listener prefix: "
        "[ssl.keystore.location]");
  // ...where they are per broker, with the base property's rule.
  CHECK(dynamic_error({{"listener.name.sasl_ssl.ssl.keystore.location", "/k.pem"}}, false).empty());
  CHECK(dynamic_error({{"listener.name.sasl_ssl.ssl.truststore.password", "pw"}}, false).empty());
  CHECK(dynamic_error({{"listener.name.sasl_ssl.ssl.keystore.location", "/k.pem"}}, true) ==
        "Cannot update these configs at default cluster level, broker id must be specified: "
        "[listener.name.sasl_ssl.ssl.keystore.location]");
  CHECK(dynamic_error({{"background.threads", "0"}}, true) ==
        "Invalid value 0 for configuration background.threads: Value must be at least 1");

  auto base = load("");
  // A listener's dynamic store wins over the static one for that listener only.
  auto stores = base.with_dynamic({}, {{"listener.name.sasl_ssl.ssl.keystore.location", "/new.pem"}});
  REQUIRE(stores.ok());
  CHECK(stores->listener_raw("SASL_SSL", "ssl.keystore.location") == "/new.pem");
  CHECK(stores->listener_raw("SSL", "ssl.keystore.location") == std::nullopt);
  auto layered = base.with_dynamic({}, {{"sasl.kerberos.min.time.before.relogin", "30000"}});
  REQUIRE(layered.ok());
  CHECK(layered->raw("sasl.kerberos.min.time.before.relogin") == "30000");
  CHECK(layered->source("sasl.kerberos.min.time.before.relogin") == ConfigSource::DynamicBrokerConfig);
}

TEST_CASE("message.format.version and message.downconversion.enable are topic configs again") {
  auto t = TopicConfig::make(load(""),
                             {{"message.format.version", "2.8"}, {"message.downconversion.enable", "false"}});
  REQUIRE(t.ok());
  CHECK(t->get("message.format.version") == "2.8");
  CHECK(t->source("message.format.version") == ConfigSource::DynamicTopicConfig);
  CHECK(t->get("message.downconversion.enable") == "false");

  // Unset: Kafka's default under the broker's synonym.
  auto d = TopicConfig::make(load(""), {});
  REQUIRE(d.ok());
  CHECK(d->get("message.format.version") == "3.0-IV1");
  CHECK(d->source("message.format.version") == ConfigSource::DefaultConfig);
  auto syn = d->synonyms("message.format.version");
  REQUIRE(syn.size() == 1);
  CHECK(syn[0].name == "log.message.format.version");
  // The broker's value is the topic default.
  auto b = TopicConfig::make(load("log.message.format.version: 2.1\n"), {});
  REQUIRE(b.ok());
  CHECK(b->get("message.format.version") == "2.1");
  CHECK(b->source("message.format.version") == ConfigSource::StaticBrokerConfig);

  // Kafka's MetadataVersion strings: versions, releases, and longer release forms.
  for (const char* v : {"0.8.2", "0.10.0.1", "0.10.2", "2.8.1", "3.0-IV1", "3.9", "4.0-IV0"}) {
    INFO(v);
    CHECK(topic_error({{"message.format.version", v}}).empty());
  }
  CHECK(topic_error({{"message.format.version", "1.5"}}) ==
        "Invalid value 1.5 for configuration message.format.version: Version 1.5 is not a valid version");
  // 4.0 is not a release of Kafka 3.9 yet.
  CHECK_FALSE(topic_error({{"message.format.version", "4.0"}}).empty());
  CHECK_FALSE(topic_error({{"message.downconversion.enable", "maybe"}}).empty());
  CHECK(topic_error({{"leader.replication.throttled.replicas", "0:1,1:2"}}).empty());
  CHECK(topic_error({{"follower.replication.throttled.replicas", "*"}}).empty());
  CHECK_FALSE(topic_error({{"leader.replication.throttled.replicas", "all"}}).empty());
  CHECK(topic_error({{"compression.gzip.level", "-1"}}).empty());
  CHECK_FALSE(topic_error({{"compression.gzip.level", "0"}}).empty());
  CHECK_FALSE(topic_error({{"compression.zstd.level", "23"}}).empty());
}

TEST_CASE("ignored message formats get Kafka's deprecation warning") {
  CHECK(ignored_topic_config_warning("orders", {{"message.format.version", "0.10.2"}}) ==
        "Topic configuration message.format.version with value `0.10.2` is ignored for `orders` because the "
        "inter-broker protocol version `3.0-IV1` is greater or equal than 3.0. This configuration is "
        "deprecated "
        "and it will be removed in Apache Kafka 4.0.");
  // Kafka warns only below 0.11, whose records cannot be written any more.
  CHECK(ignored_topic_config_warning("orders", {{"message.format.version", "2.8"}}).empty());
  CHECK(ignored_topic_config_warning("orders", {{"retention.ms", "1"}}).empty());

  auto w = load("log.message.format.version: 0.10.0\n").warnings();
  REQUIRE(w.size() == 1);
  CHECK(
      w[0] ==
      "Broker configuration log.message.format.version with value 0.10.0 is ignored because the inter-broker "
      "protocol version `3.9-IV0` is greater or equal than 3.0. This configuration is deprecated and it will "
      "be "
      "removed in Apache Kafka 4.0.");
  CHECK(load("log.message.format.version: 2.8\n").warnings().empty());
  CHECK(load("inter.broker.protocol.version: 3.9\n").warnings().size() == 1);
}
