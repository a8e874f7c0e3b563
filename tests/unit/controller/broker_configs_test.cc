// Dynamic broker configs (KIP-226) in the controller: written as ConfigRecords of resource
// type BROKER, replayed after a restart, carried by snapshots, checked before they are written,
// and followed by the topic defaults of topics created afterwards.
#include <catch2/catch.hpp>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

// An edit that sets the given keys.
Controller::ConfigEdit set(std::map<std::string, std::string> values) {
  return [values](std::map<std::string, std::string>& configs) -> Status {
    for (const auto& [k, v] : values) configs[k] = v;
    return {};
  };
}

Controller::ConfigEdit erase_key(std::string key) {
  return [key](std::map<std::string, std::string>& configs) -> Status {
    configs.erase(key);
    return {};
  };
}

}  // namespace

TEST_CASE("dynamic broker configs are stored per resource and survive a restart") {
  TempDir t;
  {
    Node n(t.path);
    REQUIRE(n.opened.ok());
    REQUIRE(n.ctl->alter_broker_configs("", set({{"log.retention.ms", "60000"}}), false).ok());
    REQUIRE(n.ctl->alter_broker_configs("1", set({{"log.segment.bytes", " 2048 "}}), false).ok());
    auto img = n.ctl->image();
    REQUIRE(img->broker_configs(""));
    CHECK(img->broker_configs("")->at("log.retention.ms") == "60000");
    REQUIRE(img->broker_configs("1"));
    CHECK(img->broker_configs("1")->at("log.segment.bytes") == "2048");  // stored normalised
  }
  Node again(t.path);
  REQUIRE(again.opened.ok());
  auto img = again.ctl->image();
  REQUIRE(img->broker_configs(""));
  CHECK(img->broker_configs("")->at("log.retention.ms") == "60000");
  CHECK(img->broker_configs("1")->at("log.segment.bytes") == "2048");

  // Removing the last key removes the resource.
  REQUIRE(again.ctl->alter_broker_configs("1", erase_key("log.segment.bytes"), false).ok());
  CHECK(again.ctl->image()->broker_configs("1") == nullptr);
}

TEST_CASE("broker configs are part of the metadata snapshot") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  REQUIRE(n.ctl->alter_broker_configs("", set({{"compression.type", "zstd"}}), false).ok());
  REQUIRE(n.ctl->alter_broker_configs("7", set({{"min.insync.replicas", "2"}}), false).ok());
  MetadataImage rebuilt;
  for (const auto& r : n.ctl->image()->to_records()) REQUIRE(rebuilt.apply(r).ok());
  REQUIRE(rebuilt.broker_configs(""));
  CHECK(rebuilt.broker_configs("")->at("compression.type") == "zstd");
  REQUIRE(rebuilt.broker_configs("7"));  // a broker that never registered may have configs
  CHECK(rebuilt.broker_configs("7")->at("min.insync.replicas") == "2");
}

TEST_CASE("the controller refuses broker config changes Kafka refuses, and writes nothing") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto before = n.ctl->image()->offset();

  auto static_one = n.ctl->alter_broker_configs("", set({{"log.dirs", "/x"}}), false);
  REQUIRE(!static_one.ok());
  CHECK(static_one.code() == ErrorCode::INVALID_REQUEST);
  CHECK(static_one.error().message == "Cannot update these configs dynamically: [log.dirs]");

  auto bad = n.ctl->alter_broker_configs("1", set({{"log.retention.ms", "x"}}), false);
  REQUIRE(!bad.ok());
  CHECK(bad.code() == ErrorCode::INVALID_REQUEST);
  CHECK(bad.error().message.find("log.retention.ms") != std::string::npos);

  auto name = n.ctl->alter_broker_configs("abc", set({{"log.retention.ms", "1"}}), false);
  REQUIRE(!name.ok());
  CHECK(name.error().message == "Unable to parse broker name abc");
  auto negative = n.ctl->alter_broker_configs("-1", set({{"log.retention.ms", "1"}}), false);
  REQUIRE(!negative.ok());
  CHECK(negative.error().message == "Invalid negative broker ID.");

  // The edit's own refusal is the answer.
  auto refused = n.ctl->alter_broker_configs(
      "", [](std::map<std::string, std::string>&) -> Status { return Error{ErrorCode::INVALID_CONFIG, "no"}; }, false);
  CHECK(refused.code() == ErrorCode::INVALID_CONFIG);

  // validate_only checks and writes nothing.
  REQUIRE(n.ctl->alter_broker_configs("", set({{"log.retention.ms", "1000"}}), true).ok());
  CHECK(n.ctl->image()->broker_configs("") == nullptr);
  CHECK(n.ctl->image()->offset() == before);
}

TEST_CASE("topics created after a dynamic change get the new broker defaults") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  REQUIRE(n.ctl->alter_broker_configs("", set({{"log.retention.ms", "60000"}}), false).ok());
  REQUIRE(n.ctl->alter_broker_configs("1", set({{"log.retention.ms", "30000"}}), false).ok());
  auto eff = n.ctl->effective_config(*n.ctl->image());
  CHECK(eff.get_long("log.retention.ms") == 30000);
  CHECK(eff.source("log.retention.ms") == config::ConfigSource::DynamicBrokerConfig);
  auto r = n.ctl->create_topics({spec("t")}, false);
  REQUIRE(r[0].error == ErrorCode::NONE);
  CHECK(r[0].configs.at("retention.ms") == "30000");
}
