// KBROKER_<PROPERTY> environment variables: how a container sets broker properties.
#include <catch2/catch.hpp>

#include <set>

#include "config/config.h"

using namespace kb::config;

namespace {

std::string error_of(const std::vector<std::string>& environment) {
  try {
    environment_settings(environment);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("KBROKER_ variables name properties with dots as underscores, upper-cased") {
  auto s = environment_settings({"PATH=/usr/bin", "KBROKER_NUM_PARTITIONS=6", "KBROKER_LOG_DIRS=/data/a,/data/b",
                                 "KAFKA_NUM_PARTITIONS=9", "KBROKER_BIN=/usr/local/bin/kbroker"});
  REQUIRE(s.size() == 2);
  CHECK(s[0].variable == "KBROKER_LOG_DIRS");
  CHECK(s[0].property == "log.dirs");
  CHECK(s[0].value == "/data/a,/data/b");
  CHECK(s[1].property == "num.partitions");
  CHECK(s[1].value == "6");
}

TEST_CASE("every broker property has one environment name, claimed by no other property") {
  std::set<std::string> seen;
  for (const auto& d : broker_properties()) {
    std::string var = "KBROKER_";
    for (char c : d.name) var += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(c));
    INFO(d.name);
    auto s = environment_settings({var + "=x"});
    REQUIRE(s.size() == 1);
    CHECK(s[0].property == d.name);
    CHECK(seen.insert(var).second);
  }
}

TEST_CASE("a KBROKER_ variable that names no property is a configuration error naming it") {
  auto e = error_of({"KBROKER_NUM_PARTITION=3"});
  CHECK(e.find("KBROKER_NUM_PARTITION") != std::string::npos);
  CHECK(e.find("no broker property") != std::string::npos);
  CHECK(error_of({"KBROKER_=1"}) != "");
  // Lower case is not the form: only the documented upper-case name is read.
  CHECK(error_of({"KBROKER_num_partitions=3"}) != "");
}

TEST_CASE("precedence: --set over the environment over the file over the default") {
  const std::string yaml = "node.id: 1\nlog.dirs: /tmp/kb-env-test\nnum.partitions: 2\n";
  auto env = environment_settings({"KBROKER_NUM_PARTITIONS=5", "KBROKER_LOG_RETENTION_HOURS=12"});
  auto from_env = BrokerConfig::from_yaml(yaml, {}, env);
  CHECK(from_env.get_int("num.partitions") == 5);
  CHECK(from_env.log_retention_ms() == 12 * 3600 * 1000LL);
  CHECK(from_env.source("num.partitions") == ConfigSource::StaticBrokerConfig);
  auto with_set = BrokerConfig::from_yaml(yaml, {"num.partitions=7"}, env);
  CHECK(with_set.get_int("num.partitions") == 7);
  CHECK(BrokerConfig::from_yaml(yaml).get_int("num.partitions") == 2);
  CHECK(BrokerConfig::from_yaml("node.id: 1\n").get_int("num.partitions") == 1);
}

TEST_CASE("a bad value from the environment names the variable and the property") {
  auto env = environment_settings({"KBROKER_NUM_PARTITIONS=0"});
  std::string e;
  try {
    BrokerConfig::from_yaml("node.id: 1\n", {}, env);
  } catch (const ConfigError& err) {
    e = err.what();
  }
  CHECK(e.find("KBROKER_NUM_PARTITIONS") != std::string::npos);
  CHECK(e.find("num.partitions") != std::string::npos);
  CHECK(e.find("at least 1") != std::string::npos);
}
