#include <catch2/catch.hpp>

#include "config/config.h"

using namespace kb;
using namespace kb::config;

namespace {
const char* kBase = "node.id: 1\nlog.dirs: /tmp/x\n";

std::string error_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    BrokerConfig::from_yaml(yaml, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("nested keys and dotted keys name the same property") {
  auto a = BrokerConfig::from_yaml(std::string(kBase) + "log:\n  retention:\n    hours: 24\n");
  auto b = BrokerConfig::from_yaml(std::string(kBase) + "log.retention.hours: 24\n");
  REQUIRE(a.get_int("log.retention.hours") == 24);
  REQUIRE(b.get_int("log.retention.hours") == 24);
  REQUIRE(error_of(std::string(kBase) + "log.retention.hours: 1\nlog:\n  retention:\n    hours: 2\n")
              .find("log.retention.hours") != std::string::npos);
}

TEST_CASE("unknown keys, wrong types and out-of-range values name the key") {
  REQUIRE(error_of(std::string(kBase) + "no.such: 1\n").find("no.such") != std::string::npos);
  REQUIRE(error_of(std::string(kBase) + "num.partitions: many\n").find("num.partitions") != std::string::npos);
  REQUIRE(error_of(std::string(kBase) + "num.partitions: 0\n").find("at least 1") != std::string::npos);
  REQUIRE(error_of(std::string(kBase) + "auto.create.topics.enable: yes please\n").find("auto.create.topics.enable") !=
          std::string::npos);
  REQUIRE(error_of(std::string(kBase) + "listeners: 127.0.0.1:9092\n").find("listeners") != std::string::npos);
  REQUIRE(error_of(std::string(kBase) + "listeners: PLAINTEXT://h:70000\n").find("port") != std::string::npos);
  REQUIRE(error_of("log.dirs: /tmp/x\n").find("node.id") != std::string::npos);
  REQUIRE(error_of(std::string(kBase) + "log.cleanup.policy: shred\n").find("log.cleanup.policy") != std::string::npos);
}

TEST_CASE("--set overrides the file and is validated the same way") {
  auto c = BrokerConfig::from_yaml(std::string(kBase) + "num.partitions: 2\n", {"num.partitions=7"});
  REQUIRE(c.get_int("num.partitions") == 7);
  REQUIRE(error_of(kBase, {"num.partitions=-1"}).find("num.partitions") != std::string::npos);
  REQUIRE(error_of(kBase, {"bogus"}).find("key=value") != std::string::npos);
}

TEST_CASE("defaults are Kafka's and derived settings follow Kafka's precedence") {
  auto c = BrokerConfig::from_yaml(kBase);
  REQUIRE(c.get_int("num.partitions") == 1);
  REQUIRE(c.get_int("message.max.bytes") == 1048588);
  REQUIRE(c.log_retention_ms() == 168LL * 3600 * 1000);
  REQUIRE(c.listeners().front().port == 9092);
  REQUIRE(BrokerConfig::from_yaml(std::string(kBase) + "log.retention.minutes: 5\nlog.retention.hours: 1\n").log_retention_ms() == 300000);
  REQUIRE(BrokerConfig::from_yaml(std::string(kBase) + "log.retention.ms: 42\nlog.retention.minutes: 5\n").log_retention_ms() == 42);
  auto adv = BrokerConfig::from_yaml(std::string(kBase) + "listeners: PLAINTEXT://127.0.0.1:1234\n").advertised_listeners();
  REQUIRE(adv.front().host == "127.0.0.1");
  REQUIRE(adv.front().port == 1234);
}

TEST_CASE("topic configs are validated and default to the broker's settings") {
  auto broker = BrokerConfig::from_yaml(std::string(kBase) + "log.retention.hours: 1\nmessage.max.bytes: 5000\n");
  auto t = TopicConfig::make(broker, {{"segment.bytes", "100000"}});
  REQUIRE(t.ok());
  REQUIRE(t->get_long("retention.ms") == 3600000);
  REQUIRE(t->get_long("max.message.bytes") == 5000);
  REQUIRE(t->get_long("segment.bytes") == 100000);
  REQUIRE_FALSE(t->is_default("segment.bytes"));
  REQUIRE(t->is_default("retention.ms"));
  auto bad = TopicConfig::make(broker, {{"retention.ms", "soon"}});
  REQUIRE(bad.code() == ErrorCode::INVALID_CONFIG);
  REQUIRE(bad.error().message.find("retention.ms") != std::string::npos);
  REQUIRE(TopicConfig::make(broker, {{"cleanup.policy", "compact,delete"}}).ok());
  REQUIRE(TopicConfig::make(broker, {{"segment.bytes", "10"}}).code() == ErrorCode::INVALID_CONFIG);
  REQUIRE(TopicConfig::make(broker, {{"what.ever", "1"}}).code() == ErrorCode::INVALID_CONFIG);
}

TEST_CASE("the embedded default configuration and the issue's example load") {
  auto c = BrokerConfig::from_yaml(BrokerConfig::embedded_default());
  REQUIRE(c.listeners().front().port == 9092);
  REQUIRE(c.log_dirs() == std::vector<std::string>{"./data"});
  REQUIRE(c.metrics_port() == 9644);
  auto e = BrokerConfig::from_yaml(
      "node.id: 1\nlisteners: PLAINTEXT://127.0.0.1:9092\nadvertised.listeners: PLAINTEXT://127.0.0.1:9092\n"
      "log.dirs: /tmp/kbroker-1\nmetrics.listener: 127.0.0.1:9644\nnum.partitions: 3\nauto.create.topics.enable: true\n");
  REQUIRE(e.get_int("num.partitions") == 3);
  REQUIRE(e.metrics_host() == "127.0.0.1");
}
