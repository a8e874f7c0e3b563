#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include "controller/controller.h"

using namespace kb;
using namespace kb::controller;
namespace fs = std::filesystem;

namespace {

struct Node {
  fs::path dir;
  config::BrokerConfig cfg;
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<Controller> ctl;

  explicit Node(fs::path d, std::string extra = "")
      : dir(std::move(d)),
        cfg(config::BrokerConfig::from_yaml("node.id: 1\nlog.dirs: " + dir.string() +
                                            "\nlisteners: PLAINTEXT://127.0.0.1:9092\n" + extra)) {
    storage::LogManagerOptions o;
    o.log_dirs = {dir};
    logs = std::move(storage::LogManager::open(o).value());
    auto c = Controller::open(cfg, *logs);
    REQUIRE(c.ok());
    ctl = std::move(c.value());
  }
  ~Node() {
    ctl.reset();
    logs->shutdown();
  }
};

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kb-ctl-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

CreateTopicSpec spec(std::string name, int32_t partitions = -1, int16_t rf = -1,
                     std::map<std::string, std::string> configs = {}) {
  CreateTopicSpec s;
  s.name = std::move(name);
  s.num_partitions = partitions;
  s.replication_factor = rf;
  s.configs = std::move(configs);
  return s;
}

}  // namespace

TEST_CASE("topic names follow Kafka's rules") {
  REQUIRE(validate_topic_name("orders.v1_x-2").ok());
  REQUIRE(validate_topic_name("").code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(validate_topic_name(".").code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(validate_topic_name("..").code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(validate_topic_name(std::string(250, 'a')).code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(validate_topic_name(std::string(249, 'a')).ok());
  REQUIRE(validate_topic_name("a b").code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(validate_topic_name("ü").code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
}

TEST_CASE("create topics: defaults, errors, and validate_only writes nothing") {
  TempDir t;
  Node n(t.path, "num.partitions: 4\n");
  auto r = n.ctl->create_topics({spec("a"), spec("b", 2, 1, {{"retention.ms", "1000"}})}, false);
  REQUIRE(r[0].error == ErrorCode::NONE);
  REQUIRE(r[0].num_partitions == 4);
  REQUIRE(r[1].configs.at("retention.ms") == "1000");
  auto img = n.ctl->image();
  REQUIRE(img->topic("a")->partitions.size() == 4);
  REQUIRE(img->topic("b")->partitions[1].leader == 1);
  REQUIRE(img->topic("b")->configs.at("retention.ms") == "1000");
  REQUIRE(img->topic(r[0].topic_id)->name == "a");

  auto errs = n.ctl->create_topics({spec("a"), spec("c", 0), spec("d", 1, 2), spec("e", 1, 1, {{"retention.ms", "x"}}),
                                    spec("bad/name")},
                                   false);
  REQUIRE(errs[0].error == ErrorCode::TOPIC_ALREADY_EXISTS);
  REQUIRE(errs[1].error == ErrorCode::INVALID_PARTITIONS);
  REQUIRE(errs[2].error == ErrorCode::INVALID_REPLICATION_FACTOR);
  REQUIRE(errs[3].error == ErrorCode::INVALID_CONFIG);
  REQUIRE(errs[4].error == ErrorCode::INVALID_TOPIC_EXCEPTION);

  auto offset = n.ctl->image()->offset();
  auto dry = n.ctl->create_topics({spec("dry", 3)}, true);
  REQUIRE(dry[0].error == ErrorCode::NONE);
  REQUIRE(dry[0].num_partitions == 3);
  REQUIRE(n.ctl->image()->topic("dry") == nullptr);
  REQUIRE(n.ctl->image()->offset() == offset);
}

TEST_CASE("delete topics by name and by id") {
  TempDir t;
  Node n(t.path);
  auto r = n.ctl->create_topics({spec("x"), spec("y")}, false);
  auto d = n.ctl->delete_topics({"x", "missing"}, {r[1].topic_id, Uuid::random()});
  REQUIRE(d[0].error == ErrorCode::NONE);
  REQUIRE(d[1].error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  REQUIRE(d[2].error == ErrorCode::NONE);
  REQUIRE(d[2].name == "y");
  REQUIRE(d[3].error == ErrorCode::UNKNOWN_TOPIC_ID);
  REQUIRE(n.ctl->image()->topics().empty());
}

TEST_CASE("a restart replays the metadata log: same topics, ids and cluster id") {
  TempDir t;
  Uuid id;
  std::string cluster;
  {
    Node n(t.path);
    id = n.ctl->create_topics({spec("keep", 3)}, false)[0].topic_id;
    n.ctl->create_topics({spec("drop")}, false);
    n.ctl->delete_topics({"drop"}, {});
    cluster = n.ctl->image()->cluster_id();
  }
  Node again(t.path);
  auto img = again.ctl->image();
  REQUIRE(img->cluster_id() == cluster);
  REQUIRE(img->topic("keep")->id == id);
  REQUIRE(img->topic("keep")->partitions.size() == 3);
  REQUIRE(img->topic("drop") == nullptr);
  REQUIRE(img->broker(1) != nullptr);
  REQUIRE(img->broker(1)->endpoints.front().port == 9092);
}

TEST_CASE("listeners see every change with the images before and after") {
  TempDir t;
  Node n(t.path);
  std::vector<std::pair<size_t, size_t>> seen;
  n.ctl->subscribe([&](const MetadataImage& before, const MetadataImage& after) {
    seen.emplace_back(before.topics().size(), after.topics().size());
  });
  n.ctl->create_topics({spec("one")}, false);
  n.ctl->delete_topics({"one"}, {});
  REQUIRE(seen == std::vector<std::pair<size_t, size_t>>{{0, 0}, {0, 1}, {1, 0}});
}
