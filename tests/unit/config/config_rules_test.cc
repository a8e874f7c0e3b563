// Broker and topic configuration as an operator sees it: how YAML keys are named, which
// mistakes stop the start (and that the message names the key), --set, Kafka's precedence
// rules, and the topic defaults derived from broker settings.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config.h"

using namespace kb;
using namespace kb::config;

namespace {

const std::string kBase =
    "node.id: 1\n"
    "log.dirs: /tmp/kb-unit2-config-never-created\n"
    "listeners: PLAINTEXT://127.0.0.1:9092\n";

BrokerConfig load(const std::string& extra, const std::vector<std::string>& overrides = {}) {
  return BrokerConfig::from_yaml(kBase + extra, overrides);
}

// The message of the ConfigError thrown by loading `yaml` (the whole text) with `overrides`;
// fails the test when nothing is thrown.
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    BrokerConfig::from_yaml(yaml, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("no ConfigError for:\n" << yaml);
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("config: a nested key, a dotted key and a half-nested key are the same property") {
  auto nested = load("log:\n  retention:\n    hours: 24\n");
  auto dotted = load("log.retention.hours: 24\n");
  auto half = load("log:\n  retention.hours: 24\n");
  for (const BrokerConfig* c : {&nested, &dotted, &half}) {
    REQUIRE(c->get_int("log.retention.hours") == 24);
    REQUIRE(c->is_set("log.retention.hours"));
    REQUIRE(c->log_retention_ms() == 24LL * 3600 * 1000);
    REQUIRE(c->source("log.retention.hours") == ConfigSource::StaticBrokerConfig);
  }
  REQUIRE(nested.all() == dotted.all());
  REQUIRE(half.all() == dotted.all());
}

TEST_CASE("config: a property given twice (nested and dotted) is refused, naming it") {
  std::string msg = error_of(kBase + "log.retention.hours: 24\nlog:\n  retention:\n    hours: 12\n");
  INFO(msg);
  REQUIRE(contains(msg, "log.retention.hours"));
  std::string msg2 = error_of(kBase + "num:\n  partitions: 2\nnum.partitions: 2\n");
  INFO(msg2);
  REQUIRE(contains(msg2, "num.partitions"));
}

TEST_CASE("config: the same YAML key written twice is refused, naming it") {
  std::string msg = error_of(kBase + "num.partitions: 2\nnum.partitions: 3\n");
  INFO(msg);
  REQUIRE(contains(msg, "num.partitions"));
}

TEST_CASE("config: an unknown key stops the start and the message names it") {
  std::string msg = error_of(kBase + "num.partitionz: 3\n");
  INFO(msg);
  REQUIRE(msg.rfind("num.partitionz", 0) == 0);  // the key comes first
  std::string nested = error_of(kBase + "log:\n  retention:\n    dayz: 3\n");
  INFO(nested);
  REQUIRE(contains(nested, "log.retention.dayz"));
}

TEST_CASE("config: a value of the wrong type stops the start and names the key") {
  struct Case {
    std::string yaml, key;
  };
  const Case cases[] = {
      {"num.partitions: three\n", "num.partitions"},
      {"auto.create.topics.enable: maybe\n", "auto.create.topics.enable"},
      {"log.retention.ms: 1.5\n", "log.retention.ms"},
      {"log.segment.bytes: 99999999999\n", "log.segment.bytes"},  // above INT max
      {"num.partitions:\n  - 1\n  - 2\n", "num.partitions"},
  };
  for (const auto& c : cases) {
    std::string msg = error_of(kBase + c.yaml);
    INFO(c.yaml << " -> " << msg);
    REQUIRE(msg.rfind(c.key, 0) == 0);
  }
}

TEST_CASE("config: an out-of-range value stops the start and names the key") {
  struct Case {
    std::string yaml, key;
  };
  const Case cases[] = {
      {"num.partitions: 0\n", "num.partitions"},
      {"default.replication.factor: 40000\n", "default.replication.factor"},
      {"log.segment.bytes: 10\n", "log.segment.bytes"},
      {"min.insync.replicas: 0\n", "min.insync.replicas"},
      {"compression.type: brotli\n", "compression.type"},
  };
  for (const auto& c : cases) {
    std::string msg = error_of(kBase + c.yaml);
    INFO(c.yaml << " -> " << msg);
    REQUIRE(msg.rfind(c.key, 0) == 0);
  }
  // The bounds themselves are accepted.
  REQUIRE(load("num.partitions: 1\n").get_int("num.partitions") == 1);
  REQUIRE(load("log.segment.bytes: 14\n").get_int("log.segment.bytes") == 14);
}

TEST_CASE("config: --set overrides the file and is validated like the file") {
  auto c = load("num.partitions: 2\n", {"num.partitions=7", "log.retention.hours=5"});
  REQUIRE(c.get_int("num.partitions") == 7);
  REQUIRE(c.log_retention_ms() == 5LL * 3600 * 1000);
  REQUIRE(c.source("num.partitions") == ConfigSource::StaticBrokerConfig);
  // A YAML scalar: booleans and numbers parse as in the file.
  REQUIRE_FALSE(load("", {"auto.create.topics.enable=false"}).get_bool("auto.create.topics.enable"));

  std::string bad = error_of(kBase, {"num.partitions=0"});
  INFO(bad);
  REQUIRE(contains(bad, "num.partitions"));
  std::string unknown = error_of(kBase, {"no.such.key=1"});
  INFO(unknown);
  REQUIRE(contains(unknown, "no.such.key"));
  // An override can supply a required key the file lacks.
  auto from_set = BrokerConfig::from_yaml("listeners: PLAINTEXT://127.0.0.1:9092\n", {"node.id=4"});
  REQUIRE(from_set.node_id() == 4);
}

TEST_CASE("config: retention is log.retention.ms over minutes over hours") {
  REQUIRE(load("").log_retention_ms() == 168LL * 3600 * 1000);  // Kafka's 7 days
  REQUIRE(load("log.retention.hours: 2\n").log_retention_ms() == 2LL * 3600 * 1000);
  REQUIRE(load("log.retention.hours: 2\nlog.retention.minutes: 3\n").log_retention_ms() == 3LL * 60 * 1000);
  REQUIRE(load("log.retention.hours: 2\nlog.retention.minutes: 3\nlog.retention.ms: 4500\n").log_retention_ms() ==
          4500);
  REQUIRE(load("log.retention.hours: 2\nlog.retention.ms: 4500\n").log_retention_ms() == 4500);
  // Negative means keep forever, reported as -1.
  REQUIRE(load("log.retention.ms: -1\n").log_retention_ms() == -1);
  REQUIRE(load("log.retention.hours: -5\n").log_retention_ms() == -1);
  REQUIRE(load("log.retention.minutes: -5\nlog.retention.hours: 3\n").log_retention_ms() == -1);
}

TEST_CASE("config: listeners parse with upper-cased names, and bad ones name listeners") {
  auto c = BrokerConfig::from_yaml(
      "node.id: 1\nlisteners: plaintext://localhost:9093,INTERNAL://:0\n"
      "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\n");
  auto ls = c.listeners();
  REQUIRE(ls.size() == 2);
  REQUIRE(ls[0].name == "PLAINTEXT");
  REQUIRE(ls[0].host == "localhost");
  REQUIRE(ls[0].port == 9093);
  REQUIRE(ls[1].name == "INTERNAL");
  REQUIRE(ls[1].host.empty());
  REQUIRE(ls[1].port == 0);

  const std::vector<std::string> bad = {
      "localhost:9092",                                     // no NAME://
      "PLAINTEXT://localhost",                              // no port
      "PLAINTEXT://localhost:70000",                        // port out of range
      "PLAINTEXT://localhost:abc",                          // port not a number
      "://localhost:9092",                                  // empty name
      "PLAIN TEXT://localhost:9092",                        // bad name character
      "PLAINTEXT://a:9092,PLAINTEXT://b:9093",              // the same name twice
  };
  for (const auto& l : bad) {
    std::string msg = error_of("node.id: 1\nlisteners: \"" + l + "\"\n");
    INFO(l << " -> " << msg);
    REQUIRE(contains(msg, "listeners"));
  }
}

TEST_CASE("config: the embedded default configuration loads as a local single-node broker") {
  std::string_view text = BrokerConfig::embedded_default();
  REQUIRE_FALSE(text.empty());
  auto c = BrokerConfig::from_yaml(text);
  REQUIRE(c.node_id() == 1);
  auto ls = c.listeners();
  REQUIRE(ls.size() == 1);
  REQUIRE(ls[0].name == "PLAINTEXT");
  REQUIRE(ls[0].port == 9092);
  REQUIRE(c.get_int("num.partitions") == 3);
  REQUIRE_FALSE(c.log_dirs().empty());
  REQUIRE(c.quorum_voters().empty());
  // A topic made from it validates with no overrides.
  REQUIRE(TopicConfig::make(c, {}).ok());
}

TEST_CASE("config: bad topic configs are INVALID_CONFIG and the message names the key") {
  auto broker = load("");
  struct Case {
    std::string key, value;
  };
  const Case cases[] = {
      {"retention.msx", "1000"},          // unknown name
      {"retention.ms", "soon"},           // not a number
      {"cleanup.policy", "shred"},        // not an allowed value
      {"min.insync.replicas", "0"},       // below the minimum
      {"segment.bytes", "5"},             // below the minimum
      {"max.message.bytes", "1.5"},       // not an integer
  };
  for (const auto& c : cases) {
    auto r = TopicConfig::make(broker, {{c.key, c.value}});
    INFO(c.key << "=" << c.value);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.code() == ErrorCode::INVALID_CONFIG);
    INFO(r.error().message);
    REQUIRE(contains(r.error().message, c.key));
  }
  // Good overrides next to a bad one do not rescue it.
  auto mixed = TopicConfig::make(broker, {{"retention.ms", "1000"}, {"segment.bytes", "-3"}});
  REQUIRE(mixed.code() == ErrorCode::INVALID_CONFIG);
  REQUIRE(contains(mixed.error().message, "segment.bytes"));
}

TEST_CASE("config: topic defaults follow the broker settings, and overrides win") {
  auto broker = load(
      "log.retention.hours: 1\n"
      "log.segment.bytes: 1048576\n"
      "log.retention.bytes: 5000000\n"
      "min.insync.replicas: 2\n"
      "log.cleanup.policy: compact\n");
  auto t = TopicConfig::make(broker, {});
  REQUIRE(t.ok());
  REQUIRE(t->get_long("retention.ms") == 3600000);
  REQUIRE(t->get_long("segment.bytes") == 1048576);
  REQUIRE(t->get_long("retention.bytes") == 5000000);
  REQUIRE(t->get_long("min.insync.replicas") == 2);
  REQUIRE(t->get("cleanup.policy") == "compact");
  REQUIRE(t->is_default("retention.ms"));
  REQUIRE(t->source("retention.ms") == ConfigSource::StaticBrokerConfig);
  REQUIRE(t->source("max.message.bytes") == ConfigSource::DefaultConfig);

  // Minutes win over hours for the topic default as for the broker.
  auto b2 = load("log.retention.hours: 1\nlog.retention.minutes: 2\n");
  REQUIRE(TopicConfig::make(b2, {})->get_long("retention.ms") == 120000);

  auto o = TopicConfig::make(broker, {{"retention.ms", "42"}, {"segment.bytes", "2048"}});
  REQUIRE(o.ok());
  REQUIRE(o->get_long("retention.ms") == 42);
  REQUIRE(o->get_long("segment.bytes") == 2048);
  REQUIRE_FALSE(o->is_default("retention.ms"));
  REQUIRE(o->source("retention.ms") == ConfigSource::DynamicTopicConfig);
  REQUIRE(o->overrides().size() == 2);
  auto syn = o->synonyms("retention.ms");
  REQUIRE_FALSE(syn.empty());
  REQUIRE(syn.front().name == "retention.ms");
  REQUIRE(syn.front().value == std::optional<std::string>("42"));
  REQUIRE(syn.front().source == ConfigSource::DynamicTopicConfig);

  // With nothing set on the broker, Kafka's defaults apply.
  auto plain = TopicConfig::make(load(""), {});
  REQUIRE(plain->get_long("retention.ms") == 604800000);
  REQUIRE(plain->get_long("segment.bytes") == 1073741824);
  REQUIRE(plain->get("cleanup.policy") == "delete");
  REQUIRE(plain->source("retention.ms") == ConfigSource::DefaultConfig);
}
