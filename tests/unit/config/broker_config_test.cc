// BrokerConfig: what an operator sees when kbroker reads its YAML and --set overrides.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <set>

#include "config/config.h"

using namespace kb;
using namespace kb::config;

namespace {

const std::string kBase = "node.id: 1\nlog.dirs: /tmp/kb-config-test\n";

BrokerConfig load(const std::string& extra, const std::vector<std::string>& sets = {}) {
  return BrokerConfig::from_yaml(kBase + extra, sets);
}

// The start-up error for a configuration, or "" when it loads.
std::string error_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    BrokerConfig::from_yaml(yaml, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string error_with(const std::string& extra, const std::vector<std::string>& sets = {}) {
  return error_of(kBase + extra, sets);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("nested keys and dotted keys name the same property") {
  auto nested = load("log:\n  retention:\n    hours: 24\n");
  auto dotted = load("log.retention.hours: 24\n");
  auto mixed = load("log.retention:\n  hours: 24\n");
  CHECK(nested.get_int("log.retention.hours") == 24);
  CHECK(dotted.get_int("log.retention.hours") == 24);
  CHECK(mixed.get_int("log.retention.hours") == 24);
  CHECK(nested.log_retention_ms() == 24LL * 3600 * 1000);
  // Siblings under one nested map stay separate properties.
  auto two = load("log:\n  retention:\n    hours: 2\n    bytes: 1000\n");
  CHECK(two.get_int("log.retention.hours") == 2);
  CHECK(two.get_long("log.retention.bytes") == 1000);
}

TEST_CASE("setting one property both nested and dotted is refused, naming the key") {
  auto e = error_with("log.retention.hours: 1\nlog:\n  retention:\n    hours: 2\n");
  CHECK(starts_with(e, "log.retention.hours: set twice"));
  CHECK(starts_with(error_with("num.partitions: 2\nnum.partitions: 3\n"), "num.partitions: set twice"));
}

TEST_CASE("an unknown key stops the start, names the key and suggests the likely one") {
  auto e = error_with("no.such.key: 1\n");
  CHECK(starts_with(e, "no.such.key: unknown property"));
  CHECK(error_with("num.partiton: 3\n").find("did you mean num.partitions?") != std::string::npos);
  // A topic-level name in the broker file points at the broker-wide property.
  auto topic_name = error_with("retention.ms: 1000\n");
  CHECK(starts_with(topic_name, "retention.ms: unknown property"));
  CHECK(topic_name.find("log.retention.ms") != std::string::npos);
  CHECK(
      starts_with(error_with("log:\n  retension:\n    hours: 1\n"), "log.retension.hours: unknown property"));
}

TEST_CASE("a value of the wrong type names the key and the expected type") {
  CHECK(error_with("num.partitions: many\n") ==
        "num.partitions: invalid value 'many': expected a 32-bit integer >= 1");
  CHECK(error_with("auto.create.topics.enable: maybe\n") ==
        "auto.create.topics.enable: invalid value 'maybe': expected true or false");
  CHECK(starts_with(error_with("log.cleaner.min.cleanable.ratio: half\n"),
                    "log.cleaner.min.cleanable.ratio: invalid value 'half': expected a number"));
  CHECK(error_with("num.partitions: [1, 2]\n") ==
        "num.partitions: expected a 32-bit integer >= 1, got a YAML list");
  // 3000000000 is a fine long but not an int.
  CHECK(
      starts_with(error_with("num.io.threads: 3000000000\n"), "num.io.threads: invalid value '3000000000'"));
  CHECK(load("log.retention.bytes: 3000000000\n").get_long("log.retention.bytes") == 3000000000LL);
}

TEST_CASE("out-of-range values name the key and the bound") {
  CHECK(error_with("num.partitions: 0\n") == "num.partitions: invalid value '0': Value must be at least 1");
  CHECK(error_with("log.segment.bytes: 10\n") ==
        "log.segment.bytes: invalid value '10': Value must be at least 14");
  CHECK(error_with("log.cleaner.min.cleanable.ratio: 1.5\n") ==
        "log.cleaner.min.cleanable.ratio: invalid value '1.5': Value must be no more than 1");
  CHECK(error_with("socket.send.buffer.bytes: -2\n") ==
        "socket.send.buffer.bytes: invalid value '-2': Value must be at least -1");
  CHECK(load("socket.send.buffer.bytes: 102400\n").get_int("socket.send.buffer.bytes") == 102400);
}

TEST_CASE("values outside a property's allowed set are refused with the allowed ones") {
  CHECK(error_with("log.cleanup.policy: shred\n") ==
        "log.cleanup.policy: invalid value 'shred': String must be one of: delete, compact");
  CHECK(error_with("compression.type: brotli\n").find("uncompressed, zstd, lz4, snappy, gzip, producer") !=
        std::string::npos);
  CHECK(starts_with(error_with("log.level: verbose\n"), "log.level: invalid value 'verbose'"));
  auto both = load("log.cleanup.policy: [compact, delete]\n");
  CHECK(both.get_list("log.cleanup.policy") == std::vector<std::string>{"compact", "delete"});
}

TEST_CASE("booleans accept any letter case, as Kafka does") {
  auto c = load("auto.create.topics.enable: FALSE\ndelete.topic.enable: True\n");
  CHECK_FALSE(c.get_bool("auto.create.topics.enable"));
  CHECK(c.get_bool("delete.topic.enable"));
  CHECK(c.raw("delete.topic.enable") == "true");
}

TEST_CASE("an empty value means the default, but only for properties whose default is null") {
  auto c = load("log.retention.ms:\nbroker.rack: ~\n");
  CHECK_FALSE(c.is_set("log.retention.ms"));
  CHECK_FALSE(c.raw("broker.rack").has_value());
  CHECK(c.get_string("broker.rack").empty());
  CHECK(c.log_retention_ms() == 168LL * 3600 * 1000);
  auto e = error_with("num.partitions:\n");
  CHECK(starts_with(e, "num.partitions: expected a 32-bit integer >= 1, got no value"));
  CHECK(e.find("default, 1") != std::string::npos);
}

TEST_CASE("--set overrides the file and is validated the same way") {
  auto c = load("num.partitions: 2\n", {"num.partitions=7"});
  CHECK(c.get_int("num.partitions") == 7);
  CHECK(c.is_set("num.partitions"));
  auto nested = load("", {"log={retention: {hours: 2}}"});
  CHECK(nested.get_int("log.retention.hours") == 2);
  auto seq = load("", {"log.dirs=[/data/a, /data/b]"});
  CHECK(seq.log_dirs() == std::vector<std::string>{"/data/a", "/data/b"});
  auto last_wins = load("", {"num.partitions=4", "num.partitions=5"});
  CHECK(last_wins.get_int("num.partitions") == 5);
  auto listeners = load("", {"listeners=PLAINTEXT://127.0.0.1:9100,OTHER://127.0.0.1:9101",
                             "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"});
  CHECK(listeners.listeners().size() == 2);

  CHECK(error_with("", {"num.partitions=-1"}) ==
        "num.partitions: invalid value '-1': Value must be at least 1");
  CHECK(starts_with(error_with("", {"nope.nope=1"}), "nope.nope: unknown property"));
  CHECK(error_with("", {"num.partitions"}) == "--set num.partitions: expected key=value");
  CHECK(error_with("", {"=3"}) == "--set =3: expected key=value");
}

TEST_CASE("defaults are Kafka's where nothing is configured") {
  auto c = BrokerConfig::from_yaml("node.id: 3\n");
  CHECK(c.node_id() == 3);
  CHECK(c.get_int("num.partitions") == 1);
  CHECK(c.get_int("default.replication.factor") == 1);
  CHECK(c.get_int("message.max.bytes") == 1048588);
  CHECK(c.get_int("socket.request.max.bytes") == 104857600);
  CHECK(c.get_long("connections.max.idle.ms") == 600000);
  CHECK(c.get_int("log.segment.bytes") == 1073741824);
  CHECK(c.get_long("log.retention.check.interval.ms") == 300000);
  CHECK(c.get_int("offsets.topic.num.partitions") == 50);
  CHECK(c.get_int("offsets.topic.replication.factor") == 3);
  CHECK(c.get_int("group.initial.rebalance.delay.ms") == 3000);
  CHECK(c.get_long("log.flush.interval.messages") == INT64_MAX);
  CHECK(c.get_double("log.cleaner.min.cleanable.ratio") == 0.5);
  CHECK(c.get_bool("auto.create.topics.enable"));
  CHECK_FALSE(c.get_bool("unclean.leader.election.enable"));
  CHECK(c.get_string("compression.type") == "producer");
  CHECK(c.get_list("process.roles") == std::vector<std::string>{"broker", "controller"});
  CHECK(c.log_dirs() == std::vector<std::string>{"/tmp/kafka-logs"});
  CHECK(c.log_retention_ms() == 604800000);
  CHECK(c.log_roll_ms() == 604800000);
  CHECK(c.quorum_voters().empty());
  CHECK(c.metrics_host() == "0.0.0.0");
  CHECK(c.metrics_port() == 9644);
  CHECK(c.get_string("log.level") == "info");
  REQUIRE(c.listeners().size() == 1);
  CHECK(c.listeners()[0].name == "PLAINTEXT");
  CHECK(c.listeners()[0].host.empty());
  CHECK(c.listeners()[0].port == 9092);
  CHECK_FALSE(c.is_set("num.partitions"));
  CHECK(c.source("num.partitions") == ConfigSource::DefaultConfig);
  CHECK(c.source("node.id") == ConfigSource::StaticBrokerConfig);
  CHECK(c.source("no.such") == ConfigSource::Unknown);
  CHECK(c.all().at("num.partitions") == "1");
  CHECK_FALSE(c.all().at("log.retention.ms").has_value());
}

TEST_CASE("retention follows Kafka's precedence: ms over minutes over hours") {
  CHECK(load("log.retention.hours: 1\n").log_retention_ms() == 3600000);
  CHECK(load("log.retention.minutes: 5\nlog.retention.hours: 1\n").log_retention_ms() == 300000);
  CHECK(load("log.retention.ms: 42\nlog.retention.minutes: 5\nlog.retention.hours: 1\n").log_retention_ms() ==
        42);
  // Any negative value means "keep forever", reported as -1.
  CHECK(load("log.retention.hours: -1\n").log_retention_ms() == -1);
  CHECK(load("log.retention.ms: -7\n").log_retention_ms() == -1);
  CHECK(starts_with(error_with("log.retention.minutes: 0\n"),
                    "log.retention.minutes: retention must be unlimited"));
  CHECK(starts_with(error_with("log.retention.ms: 0\nlog.retention.hours: 5\n"), "log.retention.ms:"));
}

TEST_CASE("log.roll.ms overrides log.roll.hours") {
  CHECK(load("log.roll.hours: 2\n").log_roll_ms() == 7200000);
  CHECK(load("log.roll.hours: 2\nlog.roll.ms: 1000\n").log_roll_ms() == 1000);
  CHECK(starts_with(error_with("log.roll.hours: 0\n"), "log.roll.hours: invalid value '0'"));
}

TEST_CASE("listeners parse as NAME://host:port, names normalised to upper case") {
  auto c = load(
      "listeners: plaintext://127.0.0.1:9092,INTERNAL://[::1]:9093,EXTERNAL://:0\n"
      "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT\n");
  auto ls = c.listeners();
  REQUIRE(ls.size() == 3);
  CHECK(ls[0].name == "PLAINTEXT");
  CHECK(ls[0].host == "127.0.0.1");
  CHECK(ls[0].port == 9092);
  CHECK(ls[0].security_protocol == "PLAINTEXT");
  CHECK(ls[1].host == "::1");
  CHECK(ls[1].port == 9093);
  CHECK(ls[2].host.empty());
  CHECK(ls[2].port == 0);
  // A YAML sequence is the same list.
  CHECK(load("listeners:\n  - PLAINTEXT://127.0.0.1:9092\n").listeners().size() == 1);
}

TEST_CASE("bad listener syntax stops the start, naming listeners") {
  CHECK(error_with("listeners: 127.0.0.1:9092\n") ==
        "listeners: invalid value '127.0.0.1:9092': '127.0.0.1:9092' is not NAME://host:port");
  CHECK(starts_with(error_with("listeners: PLAINTEXT://h:70000\n"), "listeners: invalid value"));
  CHECK(error_with("listeners: PLAINTEXT://h:70000\n").find("not a port") != std::string::npos);
  CHECK(error_with("listeners: PLAINTEXT://h\n").find("no :port") != std::string::npos);
  CHECK(error_with("listeners: PLAINTEXT://h:1,PLAINTEXT://h:2\n").find("different name") !=
        std::string::npos);
  CHECK(error_with("listeners: A://h:1,B://h:1\nlistener.security.protocol.map: A:PLAINTEXT,B:PLAINTEXT\n")
            .find("different port") != std::string::npos);
  // Port 0 (any free port) may repeat, and an IPv4 and an IPv6 address may share a port.
  CHECK(error_with("listeners: A://h:0,B://h:0\nlistener.security.protocol.map: A:PLAINTEXT,B:PLAINTEXT\n")
            .empty());
  CHECK(
      error_with(
          "listeners: A://127.0.0.1:1,B://[::1]:1\nlistener.security.protocol.map: A:PLAINTEXT,B:PLAINTEXT\n")
          .empty());
  CHECK(starts_with(error_with("listeners: \"\"\n"), "listeners: at least one listener"));
}

TEST_CASE("every listener needs a security protocol; the inter-broker and controller ones may be secured") {
  CHECK(error_with("listeners: INTERNAL://h:1\n") ==
        "listeners: no security protocol for listener INTERNAL in listener.security.protocol.map (add "
        "INTERNAL:PLAINTEXT)");
  // kbroker's own connections log in to secured listeners (server/peer_security.h checks how).
  CHECK(error_with("listeners: SSL://h:9093\n").empty());
  CHECK(error_with("listeners: PLAINTEXT://h:9092,SSL://h:9093,SASL_SSL://h:9094\n").empty());
  CHECK(error_with("listeners: PLAINTEXT://h:9092,CONTROLLER://h:9093\n"
                   "controller.listener.names: CONTROLLER\n"
                   "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,CONTROLLER:SSL\n")
            .empty());
  // Kafka's security.inter.broker.protocol names the listener called after it.
  auto by_protocol = load("listeners: PLAINTEXT://h:9092,SASL_SSL://h:9094\nsecurity.inter.broker.protocol: SASL_SSL\n");
  CHECK(by_protocol.get_string("inter.broker.listener.name") == "SASL_SSL");
  CHECK(error_with("listeners: PLAINTEXT://h:9092,SASL_SSL://h:9094\nsecurity.inter.broker.protocol: SASL_SSL\n"
                   "inter.broker.listener.name: PLAINTEXT\n") ==
        "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.");
  CHECK(starts_with(error_with("listener.security.protocol.map: A:TLS\n"),
                    "listener.security.protocol.map: invalid"));
}

TEST_CASE("advertised listeners default to the listeners, with a wildcard host replaced by the host name") {
  auto same = load("listeners: PLAINTEXT://127.0.0.1:1234\n").advertised_listeners();
  REQUIRE(same.size() == 1);
  CHECK(same[0].host == "127.0.0.1");
  CHECK(same[0].port == 1234);

  char host[256] = {};
  REQUIRE(gethostname(host, sizeof host - 1) == 0);
  for (const char* wildcard : {"0.0.0.0", "", "[::]"}) {
    auto adv = load(std::string("listeners: PLAINTEXT://") + wildcard + ":9092\n").advertised_listeners();
    REQUIRE(adv.size() == 1);
    CHECK(adv[0].host == host);
    CHECK(adv[0].port == 9092);
  }

  auto explicit_adv =
      load("listeners: PLAINTEXT://0.0.0.0:9092\nadvertised.listeners: PLAINTEXT://kb1.example:19092\n")
          .advertised_listeners();
  REQUIRE(explicit_adv.size() == 1);
  CHECK(explicit_adv[0].host == "kb1.example");
  CHECK(explicit_adv[0].port == 19092);
}

TEST_CASE("advertised listeners must be routable and name existing listeners") {
  CHECK(error_with("advertised.listeners: PLAINTEXT://0.0.0.0:9092\n").find("non-routable") !=
        std::string::npos);
  CHECK(starts_with(error_with("listeners: PLAINTEXT://h:1\nadvertised.listeners: OTHER://h:1\n"
                               "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT\n"),
                    "advertised.listeners: listener OTHER is not one of the listeners"));
  CHECK(starts_with(error_with("inter.broker.listener.name: NOPE\n"),
                    "inter.broker.listener.name: NOPE must be"));
  CHECK(error_with("inter.broker.listener.name: plaintext\n").empty());
}

TEST_CASE("node.id is required, and broker.id is accepted as its older name") {
  CHECK(starts_with(error_of("log.dirs: /tmp/x\n"), "node.id: required"));
  CHECK(BrokerConfig::from_yaml("broker.id: 4\n").node_id() == 4);
  CHECK(BrokerConfig::from_yaml("broker.id: 4\nnode.id: 4\n").node_id() == 4);
  CHECK(starts_with(error_of("broker.id: 4\nnode.id: 5\n"), "broker.id: 4 differs from node.id 5"));
  CHECK(starts_with(error_of("node.id: -1\n"), "node.id: invalid value '-1'"));
}

TEST_CASE("controller quorum settings follow Kafka's KRaft rules") {
  const std::string two_listeners =
      "listeners: PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
      "controller.listener.names: CONTROLLER\n";
  auto c = load(two_listeners + "controller.quorum.voters: 1@127.0.0.1:9093,2@kb2:9093,3@[::1]:9093\n");
  auto voters = c.quorum_voters();
  REQUIRE(voters.size() == 3);
  CHECK(voters[1].id == 2);
  CHECK(voters[1].host == "kb2");
  CHECK(voters[1].port == 9093);
  CHECK(voters[2].host == "::1");
  // The controller listener gets PLAINTEXT without a map entry, and is never advertised.
  auto adv = c.advertised_listeners();
  REQUIRE(adv.size() == 1);
  CHECK(adv[0].name == "PLAINTEXT");
  CHECK(c.listeners().size() == 2);

  CHECK(starts_with(error_with(two_listeners + "controller.quorum.voters: 2@kb2:9093\n"),
                    "controller.quorum.voters: node.id 1 must be one of the voters"));
  CHECK(starts_with(error_with("controller.quorum.voters: 1@kb1:9093\n"),
                    "controller.listener.names: required"));
  CHECK(starts_with(error_with("controller.quorum.voters: 1@kb1\n"),
                    "controller.quorum.voters: invalid value"));
  CHECK(error_with("controller.quorum.voters: one@kb1:9093\n").find("{id}@{host}:{port}") !=
        std::string::npos);
  CHECK(error_with("controller.quorum.voters: 1@a:1,1@b:1\n").find("appears twice") != std::string::npos);
  CHECK(starts_with(error_with("process.roles: broker\n"), "controller.quorum.voters: required"));
  CHECK(starts_with(error_with("process.roles: broker\ncontroller.quorum.voters: 1@kb1:9093\n"
                               "controller.listener.names: CONTROLLER\n"),
                    "controller.quorum.voters: node.id 1 must not be a voter"));
  CHECK(error_with("process.roles: broker\ncontroller.quorum.voters: 2@kb2:9093\ncontroller.listener.names: "
                   "CONTROLLER\n")
            .empty());
  CHECK(starts_with(error_with("process.roles: [broker, broker]\n"), "process.roles: invalid value"));
  CHECK(starts_with(error_with("process.roles: zookeeper\n"), "process.roles: invalid value"));
}

TEST_CASE("log.dirs takes a list, a YAML sequence, or falls back to log.dir") {
  CHECK(load("", {"log.dirs=/a,/b"}).log_dirs() == std::vector<std::string>{"/a", "/b"});
  CHECK(BrokerConfig::from_yaml("node.id: 1\nlog.dirs:\n  - /x\n  - /y\n").log_dirs() ==
        std::vector<std::string>{"/x", "/y"});
  CHECK(BrokerConfig::from_yaml("node.id: 1\nlog.dir: /z\n").log_dirs() == std::vector<std::string>{"/z"});
  CHECK(error_of("node.id: 1\nlog.dirs: /a,/a\n").find("listed twice") != std::string::npos);
  CHECK(starts_with(error_of("node.id: 1\nlog.dirs: []\n"), "log.dirs: invalid value ''"));
  CHECK(starts_with(error_of("node.id: 1\nlog.dirs: [\"/a,b\"]\n"),
                    "log.dirs: list item '/a,b' contains a comma"));
}

TEST_CASE("metrics.listener is host:port") {
  auto c = load("metrics.listener: 127.0.0.1:9700\n");
  CHECK(c.metrics_host() == "127.0.0.1");
  CHECK(c.metrics_port() == 9700);
  auto v6 = load("metrics.listener: \"[::1]:9701\"\n");
  CHECK(v6.metrics_host() == "::1");
  CHECK(v6.metrics_port() == 9701);
  CHECK(starts_with(error_with("metrics.listener: 9644\n"), "metrics.listener: invalid value '9644'"));
  CHECK(starts_with(error_with("metrics.listener: \":9644\"\n"), "metrics.listener: invalid value"));
}

TEST_CASE("YAML that is not a map of properties is refused with its position") {
  CHECK(starts_with(error_of("node.id: [1\n"), "YAML syntax error at line"));
  CHECK(starts_with(error_of("- node.id\n"), "the configuration must be a YAML map"));
  CHECK(starts_with(error_of(""), "node.id: required"));
}

TEST_CASE("a configuration file is read from disk, and its errors name the file and the key") {
  char path[] = "/tmp/kb-config-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  { std::ofstream(path) << "node.id: 9\nlog.dirs: /tmp/d\n"; }
  CHECK(BrokerConfig::from_file(path, {"num.partitions=2"}).node_id() == 9);
  { std::ofstream(path) << "node.id: 9\nnum.partitions: x\n"; }
  try {
    BrokerConfig::from_file(path);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          std::string(path) + ": num.partitions: invalid value 'x': expected a 32-bit integer >= 1");
  }
  std::remove(path);
  CHECK_THROWS_AS(BrokerConfig::from_file(path), ConfigError);
}

TEST_CASE("reading a property that does not exist or with the wrong getter is a programming error") {
  auto c = load("");
  CHECK_THROWS_AS(c.get_int("num.partition"), std::logic_error);
  CHECK_THROWS_AS(c.get_int("log.retention.check.interval.ms"), std::logic_error);  // a long
  CHECK_THROWS_AS(c.get_long("log.retention.ms"), std::logic_error);                // null
  CHECK(c.get_long("num.partitions") == 1);  // an int read as long is fine
  CHECK_FALSE(c.raw("num.partition").has_value());
}

TEST_CASE("the embedded default configuration loads and starts a local single-node cluster") {
  auto c = BrokerConfig::from_yaml(BrokerConfig::embedded_default());
  CHECK(c.node_id() == 1);
  REQUIRE(c.listeners().size() == 1);
  CHECK(c.listeners()[0].host == "127.0.0.1");
  CHECK(c.listeners()[0].port == 9092);
  CHECK(c.advertised_listeners()[0].host == "127.0.0.1");
  CHECK(c.log_dirs() == std::vector<std::string>{"./data"});
  CHECK(c.metrics_host() == "127.0.0.1");
  CHECK(c.metrics_port() == 9644);
  CHECK(c.get_int("num.partitions") == 3);
  CHECK(c.get_bool("auto.create.topics.enable"));
  CHECK(c.quorum_voters().empty());
}

TEST_CASE("the configuration from the issue loads") {
  auto c = BrokerConfig::from_yaml(
      "node.id: 1\n"
      "listeners: PLAINTEXT://127.0.0.1:9092\n"
      "advertised.listeners: PLAINTEXT://127.0.0.1:9092\n"
      "log.dirs: /tmp/kbroker-1\n"
      "metrics.listener: 127.0.0.1:9644\n"
      "num.partitions: 3\n"
      "auto.create.topics.enable: true\n");
  CHECK(c.node_id() == 1);
  CHECK(c.get_int("num.partitions") == 3);
  CHECK(c.log_dirs() == std::vector<std::string>{"/tmp/kbroker-1"});
  CHECK(c.metrics_host() == "127.0.0.1");
  CHECK(c.advertised_listeners()[0].port == 9092);
}

TEST_CASE("--help text lists every broker property with its default and meaning") {
  auto help = properties_help();
  // Properties kbroker does not use are listed by name only, after the others.
  const size_t compat = help.find("accepted for compatibility (type and range checked) and not used by kbroker:");
  REQUIRE(compat != std::string::npos);
  for (const auto& d : broker_properties()) {
    INFO(d.name);
    if (d.not_used)
      CHECK((help.find(" " + d.name + "\n", compat) != std::string::npos ||
             help.find(" " + d.name + " ", compat) != std::string::npos));
    else
      CHECK(help.find("  " + d.name + "  (") < compat);
  }
  CHECK(help.find("log.retention.hours  (int, default 168") != std::string::npos);
  CHECK(help.find("metrics.listener  (string, default 0.0.0.0:9644") != std::string::npos);
  CHECK(help.find("kbroker: level of the broker's own log") != std::string::npos);
}

TEST_CASE("the property table is consistent: defaults pass their own rules, synonyms exist") {
  for (const auto* table : {&broker_properties(), &topic_properties()}) {
    for (const auto& d : *table) {
      INFO(d.name);
      CHECK_FALSE(d.doc.empty());
      if (d.default_value) CHECK(check_value(d, *d.default_value).empty());
    }
  }
  for (const auto& d : broker_properties()) {
    if (d.topic_synonym.empty()) continue;
    INFO(d.name);
    REQUIRE(find_topic_property(d.topic_synonym) != nullptr);
    auto syns = broker_synonyms(d.topic_synonym);
    CHECK(std::find(syns.begin(), syns.end(), d.name) != syns.end());
  }
  for (const auto& d : topic_properties()) {
    INFO(d.name);
    auto syns = broker_synonyms(d.name);
    // Only Kafka's replication throttles have no broker-wide default; Confluent Server's schema
    // validation configs are per topic only, with no synonym at all.
    if (d.name.find("replication.throttled.replicas") != std::string::npos) {
      CHECK(syns.empty());
      continue;
    }
    if (d.name.starts_with("confluent.")) {
      CHECK(syns.empty());
      CHECK(d.topic_synonym.empty());
      continue;
    }
    REQUIRE_FALSE(syns.empty());
    CHECK(d.topic_synonym == syns.front());
    for (const auto& s : syns) CHECK(find_broker_property(s) != nullptr);
  }
  // The compatibility table (kafka_compat.cc) adds names, never a second definition of one.
  for (const auto* table : {&broker_properties(), &topic_properties()}) {
    std::set<std::string> names;
    for (const auto& d : *table) {
      INFO(d.name);
      CHECK(names.insert(d.name).second);
    }
  }
}

TEST_CASE("listener.name.<listener>. prefixes override security settings for one listener") {
  auto c = load(
      "listeners: PLAINTEXT://h:9092,SASL_SSL://h:9094\n"
      "ssl.client.auth: requested\n"
      "listener.name.SASL_SSL.ssl.client.auth: required\n"
      "listener.name.sasl_ssl.plain.sasl.jaas.config: 'PlainLoginModule required user_a=\"b\";'\n"
      "listener.name.sasl_ssl.sasl.enabled.mechanisms: PLAIN\n");
  CHECK(c.listener_raw("SASL_SSL", "ssl.client.auth") == "required");
  CHECK(c.listener_raw("PLAINTEXT", "ssl.client.auth") == "requested");
  CHECK(c.listener_raw("SASL_SSL", "plain.sasl.jaas.config") == "PlainLoginModule required user_a=\"b\";");
  CHECK_FALSE(c.listener_raw("PLAINTEXT", "plain.sasl.jaas.config").has_value());
  CHECK(c.listener_raw("SASL_SSL", "sasl.enabled.mechanisms") == "PLAIN");
  // The prefixed values keep the property's rules, and only security properties take a prefix.
  CHECK(starts_with(error_with("listener.name.ssl.ssl.client.auth: always\n"),
                    "listener.name.ssl.ssl.client.auth: invalid value 'always'"));
  CHECK(starts_with(error_with("listener.name.ssl.log.retention.ms: 5\n"),
                    "listener.name.ssl.log.retention.ms: unknown property"));
  CHECK(starts_with(error_with("listener.name.ssl.sasl.enabled.mechanisms: KERBEROS\n"),
                    "listener.name.ssl.sasl.enabled.mechanisms: invalid value 'KERBEROS': unknown SASL mechanism"));
}
