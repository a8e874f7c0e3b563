// TopicConfig: what a client sees when it creates or describes a topic with configs.
#include <catch2/catch.hpp>

#include "config/config.h"

using namespace kb;
using namespace kb::config;

namespace {

BrokerConfig broker(const std::string& extra = "") {
  return BrokerConfig::from_yaml("node.id: 1\nlog.dirs: /tmp/kb-topic-config-test\n" + extra);
}

TopicConfig topic(const BrokerConfig& b, const std::map<std::string, std::string>& overrides = {}) {
  auto t = TopicConfig::make(b, overrides);
  REQUIRE(t.ok());
  return t.value();
}

std::string error_of(const std::map<std::string, std::string>& overrides, const BrokerConfig& b = broker()) {
  auto t = TopicConfig::make(b, overrides);
  REQUIRE_FALSE(t.ok());
  CHECK(t.code() == ErrorCode::INVALID_CONFIG);
  return t.error().message;
}

}  // namespace

TEST_CASE("a topic without overrides gets Kafka's defaults") {
  auto t = topic(broker());
  CHECK(t.get_long("retention.ms") == 604800000);
  CHECK(t.get_long("retention.bytes") == -1);
  CHECK(t.get_long("segment.bytes") == 1073741824);
  CHECK(t.get_long("segment.ms") == 604800000);
  CHECK(t.get_long("segment.index.bytes") == 10485760);
  CHECK(t.get_long("segment.jitter.ms") == 0);
  CHECK(t.get_long("max.message.bytes") == 1048588);
  CHECK(t.get_long("index.interval.bytes") == 4096);
  CHECK(t.get_long("file.delete.delay.ms") == 60000);
  CHECK(t.get_long("delete.retention.ms") == 86400000);
  CHECK(t.get_long("min.compaction.lag.ms") == 0);
  CHECK(t.get_long("flush.ms") == INT64_MAX);
  CHECK(t.get_long("flush.messages") == INT64_MAX);
  CHECK(t.get_long("min.insync.replicas") == 1);
  CHECK(t.get("cleanup.policy") == "delete");
  CHECK(t.get("compression.type") == "producer");
  CHECK(t.get("message.timestamp.type") == "CreateTime");
  CHECK(t.get("min.cleanable.dirty.ratio") == "0.5");
  CHECK(t.get("preallocate") == "false");
  CHECK(t.get("unclean.leader.election.enable") == "false");
  CHECK(t.overrides().empty());
  CHECK(t.all().size() == topic_properties().size());
  CHECK(t.source("retention.ms") == ConfigSource::DefaultConfig);
}

TEST_CASE("topic defaults follow the broker's settings, with Kafka's unit conversions") {
  CHECK(topic(broker("log.retention.hours: 1\n")).get_long("retention.ms") == 3600000);
  CHECK(topic(broker("log.retention.minutes: 3\n")).get_long("retention.ms") == 180000);
  CHECK(topic(broker("log.retention.ms: 5000\nlog.retention.hours: 1\n")).get_long("retention.ms") == 5000);
  CHECK(topic(broker("log.retention.hours: -1\n")).get_long("retention.ms") == -1);
  CHECK(topic(broker("log.roll.hours: 2\n")).get_long("segment.ms") == 7200000);
  CHECK(topic(broker("log.roll.jitter.hours: 1\n")).get_long("segment.jitter.ms") == 3600000);
  CHECK(topic(broker("log.flush.interval.ms: 250\n")).get_long("flush.ms") == 250);
  CHECK(topic(broker("log.flush.scheduler.interval.ms: 900\n")).get_long("flush.ms") == 900);
  auto b = broker(
      "message.max.bytes: 5000\nlog.segment.bytes: 100000\nlog.cleanup.policy: compact\n"
      "min.insync.replicas: 2\ncompression.type: zstd\nlog.message.timestamp.type: LogAppendTime\n"
      "log.index.size.max.bytes: 4096\nlog.segment.delete.delay.ms: 0\n");
  auto t = topic(b);
  CHECK(t.get_long("max.message.bytes") == 5000);
  CHECK(t.get_long("segment.bytes") == 100000);
  CHECK(t.get("cleanup.policy") == "compact");
  CHECK(t.get_long("min.insync.replicas") == 2);
  CHECK(t.get("compression.type") == "zstd");
  CHECK(t.get("message.timestamp.type") == "LogAppendTime");
  CHECK(t.get_long("segment.index.bytes") == 4096);
  CHECK(t.get_long("file.delete.delay.ms") == 0);
  CHECK(t.source("max.message.bytes") == ConfigSource::StaticBrokerConfig);
  CHECK(t.is_default("max.message.bytes"));
}

TEST_CASE("a topic override wins over the broker default") {
  auto b = broker("log.retention.hours: 1\n");
  auto t =
      topic(b, {{"retention.ms", "1000"}, {"cleanup.policy", "compact, delete"}, {"preallocate", "TRUE"}});
  CHECK(t.get_long("retention.ms") == 1000);
  CHECK_FALSE(t.is_default("retention.ms"));
  CHECK(t.source("retention.ms") == ConfigSource::DynamicTopicConfig);
  CHECK(t.source("segment.bytes") == ConfigSource::DefaultConfig);
  CHECK(t.is_default("segment.bytes"));
  // Overrides are kept in Kafka's canonical text.
  CHECK(t.get("cleanup.policy") == "compact,delete");
  CHECK(t.get("preallocate") == "true");
  CHECK(t.overrides().size() == 3);
  CHECK(t.all().at("retention.ms") == "1000");
}

TEST_CASE("an unknown topic config is INVALID_CONFIG naming it, as Kafka words it") {
  CHECK(error_of({{"what.ever", "1"}}) == "Unknown topic config name: what.ever");
  CHECK(error_of({{"log.retention.ms", "1"}}) == "Unknown topic config name: log.retention.ms");
}

TEST_CASE("a bad topic config value is INVALID_CONFIG with Kafka's message") {
  CHECK(error_of({{"retention.ms", "soon"}}) ==
        "Invalid value soon for configuration retention.ms: Not a number of type LONG");
  CHECK(error_of({{"segment.bytes", "10"}}) ==
        "Invalid value 10 for configuration segment.bytes: Value must be at least 14");
  CHECK(error_of({{"segment.bytes", "3000000000"}}) ==
        "Invalid value 3000000000 for configuration segment.bytes: Not a number of type INT");
  CHECK(error_of({{"retention.ms", "-2"}}) ==
        "Invalid value -2 for configuration retention.ms: Value must be at least -1");
  CHECK(error_of({{"cleanup.policy", "shred"}}) ==
        "Invalid value shred for configuration cleanup.policy: String must be one of: delete, compact");
  CHECK(error_of({{"compression.type", "brotli"}}) ==
        "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, "
        "lz4, "
        "snappy, gzip, producer");
  CHECK(error_of({{"message.timestamp.type", "createtime"}}).find("CreateTime, LogAppendTime") !=
        std::string::npos);
  CHECK(error_of({{"preallocate", "yes"}}) ==
        "Invalid value yes for configuration preallocate: Expected value to be either true or false");
  CHECK(error_of({{"min.cleanable.dirty.ratio", "2"}}) ==
        "Invalid value 2 for configuration min.cleanable.dirty.ratio: Value must be no more than 1");
  CHECK(error_of({{"min.insync.replicas", "0"}}) ==
        "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1");
  CHECK(error_of({{"max.message.bytes", ""}}) ==
        "Invalid value  for configuration max.message.bytes: Not a number of type INT");
  // retention.bytes has no lower bound in Kafka: any negative means unlimited.
  CHECK(TopicConfig::make(broker(), {{"retention.bytes", "-5"}}).ok());
}

TEST_CASE("a minimum compaction lag above the maximum is refused as Kafka does") {
  CHECK(error_of({{"min.compaction.lag.ms", "100"}, {"max.compaction.lag.ms", "50"}}) ==
        "conflict topic config setting min.compaction.lag.ms (100) > max.compaction.lag.ms (50)");
  CHECK(TopicConfig::make(broker(), {{"min.compaction.lag.ms", "50"}, {"max.compaction.lag.ms", "50"}}).ok());
}

TEST_CASE("DescribeConfigs synonyms list the override, the set broker synonyms, then the defaults") {
  auto b = broker("log.retention.minutes: 3\n");
  auto plain = topic(b);
  auto syns = plain.synonyms("retention.ms");
  REQUIRE(syns.size() == 2);
  CHECK(syns[0].name == "log.retention.minutes");
  CHECK(syns[0].value == "3");
  CHECK(syns[0].source == ConfigSource::StaticBrokerConfig);
  CHECK(syns[1].name == "log.retention.hours");
  CHECK(syns[1].value == "168");
  CHECK(syns[1].source == ConfigSource::DefaultConfig);

  auto overridden = topic(b, {{"retention.ms", "10"}});
  auto with_override = overridden.synonyms("retention.ms");
  REQUIRE(with_override.size() == 3);
  CHECK(with_override[0].name == "retention.ms");
  CHECK(with_override[0].value == "10");
  CHECK(with_override[0].source == ConfigSource::DynamicTopicConfig);

  CHECK(plain.synonyms("no.such").empty());
  CHECK(plain.source("no.such") == ConfigSource::Unknown);
  CHECK(plain.get("no.such").empty());
  CHECK(plain.get_long("no.such") == 0);
}

TEST_CASE("a topic config can be made from a broker config built without YAML") {
  BrokerConfig bare;
  auto t = TopicConfig::make(bare, {{"segment.bytes", "1000"}});
  REQUIRE(t.ok());
  CHECK(t->get_long("segment.bytes") == 1000);
  CHECK(t->get_long("retention.ms") == 604800000);
}
