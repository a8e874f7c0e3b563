// Dynamic broker configs (KIP-226): how the cluster-wide default and a per-broker value layer
// over the YAML, what DescribeConfigs reports for them, what topics inherit, and which
// changes are refused.
#include <catch2/catch.hpp>

#include "config/config.h"

using namespace kb;
using namespace kb::config;

namespace {

BrokerConfig load(const std::string& extra = "") {
  return BrokerConfig::from_yaml("node.id: 1\nlog.dirs: /tmp/kb-dyn-config-test\n" + extra);
}

BrokerConfig layered(const BrokerConfig& base, const std::map<std::string, std::string>& cluster_default,
                     const std::map<std::string, std::string>& per_broker) {
  auto c = base.with_dynamic(cluster_default, per_broker);
  REQUIRE(c.ok());
  return c.value();
}

}  // namespace

TEST_CASE("a per-broker value beats the cluster default, which beats the YAML") {
  auto base = load("log.retention.ms: 1000\n");
  CHECK(base.get_long("log.retention.ms") == 1000);
  CHECK(base.source("log.retention.ms") == ConfigSource::StaticBrokerConfig);

  auto with_default = layered(base, {{"log.retention.ms", "2000"}}, {});
  CHECK(with_default.get_long("log.retention.ms") == 2000);
  CHECK(with_default.source("log.retention.ms") == ConfigSource::DynamicDefaultBrokerConfig);

  auto with_both = layered(base, {{"log.retention.ms", "2000"}}, {{"log.retention.ms", "3000"}});
  CHECK(with_both.get_long("log.retention.ms") == 3000);
  CHECK(with_both.source("log.retention.ms") == ConfigSource::DynamicBrokerConfig);
  // Kafka's synonyms: every level that has a value, highest first.
  auto syn = with_both.synonyms("log.retention.ms");
  REQUIRE(syn.size() >= 3);
  CHECK(syn[0].source == ConfigSource::DynamicBrokerConfig);
  CHECK(syn[0].value == "3000");
  CHECK(syn[1].source == ConfigSource::DynamicDefaultBrokerConfig);
  CHECK(syn[1].value == "2000");
  CHECK(syn[2].source == ConfigSource::StaticBrokerConfig);
  CHECK(syn[2].value == "1000");
  CHECK(syn.back().name == "log.retention.hours");
  CHECK(syn.back().source == ConfigSource::DefaultConfig);

  // The static config stays what it was: layers replace, they do not stack.
  CHECK(base.get_long("log.retention.ms") == 1000);
  auto again = layered(with_both, {}, {});
  CHECK(again.get_long("log.retention.ms") == 1000);
  CHECK(again.source("log.retention.ms") == ConfigSource::StaticBrokerConfig);
}

TEST_CASE("a topic without an override follows the dynamic broker default") {
  auto base = load();
  auto t0 = TopicConfig::make(base, {});
  REQUIRE(t0.ok());
  CHECK(t0->get("retention.ms") == "604800000");

  auto dyn = layered(base, {{"log.retention.ms", "5000"}, {"log.segment.bytes", "1024"}}, {});
  auto t1 = TopicConfig::make(dyn, {});
  REQUIRE(t1.ok());
  CHECK(t1->get("retention.ms") == "5000");
  CHECK(t1->source("retention.ms") == ConfigSource::DynamicDefaultBrokerConfig);
  CHECK(t1->get("segment.bytes") == "1024");
  auto syn = t1->synonyms("retention.ms");
  REQUIRE(!syn.empty());
  CHECK(syn[0].name == "log.retention.ms");
  CHECK(syn[0].source == ConfigSource::DynamicDefaultBrokerConfig);

  // A topic override still wins.
  auto t2 = TopicConfig::make(dyn, {{"retention.ms", "7"}});
  REQUIRE(t2.ok());
  CHECK(t2->get("retention.ms") == "7");
  CHECK(t2->source("retention.ms") == ConfigSource::DynamicTopicConfig);

  // Hours set dynamically scale to the topic's milliseconds.
  auto hours = layered(base, {}, {{"log.retention.hours", "2"}});
  CHECK(TopicConfig::make(hours, {})->get("retention.ms") == "7200000");
  CHECK(TopicConfig::make(hours, {})->source("retention.ms") == ConfigSource::DynamicBrokerConfig);
}

TEST_CASE("a static log.retention.ms beats a dynamic log.retention.hours, as in Kafka") {
  auto base = load("log.retention.ms: 60000\n");
  auto c = layered(base, {{"log.retention.hours", "1"}}, {});
  CHECK(c.log_retention_ms() == 60000);
  CHECK(TopicConfig::make(c, {})->get("retention.ms") == "60000");
  // Describing log.retention.hours does not list log.retention.ms above it.
  auto syn = c.synonyms("log.retention.hours");
  REQUIRE(!syn.empty());
  CHECK(syn[0].name == "log.retention.hours");
  CHECK(syn[0].source == ConfigSource::DynamicDefaultBrokerConfig);
}

TEST_CASE("only dynamic properties may change at run time, with Kafka's message") {
  auto s = check_dynamic_broker_configs({{"log.dirs", "/x"}, {"num.partitions", "3"}, {"log.retention.ms", "1"}});
  REQUIRE(!s.ok());
  CHECK(s.code() == ErrorCode::INVALID_REQUEST);
  CHECK(s.error().message == "Cannot update these configs dynamically: [log.dirs, num.partitions]");

  CHECK(check_dynamic_broker_configs({{"log.retention.ms", "1"}, {"compression.type", "zstd"}}).ok());
  CHECK(check_dynamic_broker_configs({}).ok());
}

TEST_CASE("a bad dynamic value is refused naming the key and the rule") {
  auto s = check_dynamic_broker_configs({{"log.segment.bytes", "10"}});
  REQUIRE(!s.ok());
  CHECK(s.code() == ErrorCode::INVALID_REQUEST);
  CHECK(s.error().message == "Invalid value 10 for configuration log.segment.bytes: Value must be at least 14");

  auto t = check_dynamic_broker_configs({{"log.retention.ms", "soon"}});
  REQUIRE(!t.ok());
  CHECK(t.error().message == "Invalid value soon for configuration log.retention.ms: Not a number of type LONG");

  auto u = check_dynamic_broker_configs({{"no.such.config", "1"}});
  REQUIRE(!u.ok());
  CHECK(u.error().message == "Unknown broker config name: no.such.config");
}

TEST_CASE("a dynamic change that breaks a rule between keys is refused") {
  auto base = load();
  auto zero = base.with_dynamic({{"log.retention.ms", "0"}}, {});
  REQUIRE(!zero.ok());
  CHECK(zero.code() == ErrorCode::INVALID_REQUEST);
  CHECK(zero.error().message.find("log.retention.ms") != std::string::npos);

  auto lags = base.with_dynamic({{"log.cleaner.min.compaction.lag.ms", "10"}},
                                {{"log.cleaner.max.compaction.lag.ms", "5"}});
  REQUIRE(!lags.ok());
  CHECK(lags.error().message.find("log.cleaner.min.compaction.lag.ms") != std::string::npos);
}

TEST_CASE("stored values that are not dynamic or not valid are skipped, and named") {
  auto base = load();
  std::vector<std::string> skipped;
  auto c = base.with_dynamic({{"log.dirs", "/elsewhere"}, {"log.retention.ms", "nope"}, {"log.segment.bytes", "2048"}},
                             {}, &skipped);
  REQUIRE(c.ok());
  CHECK(skipped.size() == 2);
  CHECK(c->log_dirs() == std::vector<std::string>{"/tmp/kb-dyn-config-test"});
  CHECK(c->get_int("log.segment.bytes") == 2048);
  CHECK(c->dynamic_default().size() == 1);
}

TEST_CASE("properties kbroker reads only at start-up are not dynamic") {
  for (const char* name : {"listeners", "advertised.listeners", "num.network.threads", "log.flush.interval.ms",
                           "log.dirs", "node.id"})
    CHECK_FALSE(find_broker_property(name)->dynamic);
  for (const char* name : {"log.retention.ms", "log.retention.hours", "log.segment.bytes", "log.cleanup.policy",
                           "compression.type", "message.max.bytes", "min.insync.replicas",
                           "unclean.leader.election.enable", "log.cleaner.threads", "log.cleaner.backoff.ms"})
    CHECK(find_broker_property(name)->dynamic);
}
