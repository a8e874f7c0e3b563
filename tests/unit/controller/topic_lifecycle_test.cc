// The controller as an admin client sees it: creating topics (counts, defaults, refusals,
// validate_only, configs), topic name rules, deleting by name and id, a restart that keeps
// everything, and listeners that see each change with the images before and after.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/controller.h"
#include "controller/metadata_image.h"
#include "storage/log_manager.h"
#include "tests/unit/controller/controller_fixtures.h"
#include "tests/unit/storage/storage_test_util.h"

using namespace kb;
using namespace kb::controller;
namespace fs = std::filesystem;

namespace {

// The scratch directory every storage-backed test uses.
using ScratchDir = kb::storage::test::TempDir;

config::BrokerConfig make_config(const fs::path& dir, const std::string& extra = "") {
  return config::BrokerConfig::from_yaml("node.id: 1\n"
                                         "log.dirs: " + dir.string() + "\n"
                                         "listeners: PLAINTEXT://127.0.0.1:19092\n" + extra);
}

// A lone broker's controller on one directory (the fixtures' Node, which must open).
struct Broker : kbtest::Node {
  explicit Broker(const fs::path& dir, const std::string& extra = "") : Node(make_config(dir, extra)) {
    INFO((opened.ok() ? std::string() : opened.error().message));
    REQUIRE(opened.ok());
  }
};

CreateTopicSpec topic(std::string name, int32_t partitions = -1, int16_t rf = -1,
                      std::map<std::string, std::string> configs = {}) {
  CreateTopicSpec s;
  s.name = std::move(name);
  s.num_partitions = partitions;
  s.replication_factor = rf;
  s.configs = std::move(configs);
  return s;
}

CreateTopicResult create_one(Controller& c, CreateTopicSpec s, bool validate_only = false) {
  auto r = c.create_topics({std::move(s)}, validate_only);
  REQUIRE(r.size() == 1);
  return r[0];
}

std::vector<std::string> topic_names(const MetadataImage& img) {
  std::vector<std::string> v;
  for (const TopicInfo* t : img.topics()) v.push_back(t->name);
  return v;
}

}  // namespace

TEST_CASE("controller: a created topic has the requested partitions, led by this broker") {
  ScratchDir t;
  Broker b(t.path);
  auto r = create_one(*b.ctl, topic("orders", 4, 1, {{"retention.ms", "3600000"}}));
  INFO(r.message);
  REQUIRE(r.error == ErrorCode::NONE);
  REQUIRE(r.name == "orders");
  REQUIRE_FALSE(r.topic_id.is_zero());
  REQUIRE(r.num_partitions == 4);
  REQUIRE(r.replication_factor == 1);
  REQUIRE(r.configs.at("retention.ms") == "3600000");
  REQUIRE(r.configs.count("segment.bytes") == 1);  // every effective config is reported

  auto img = b.ctl->image();
  const TopicInfo* ti = img->topic("orders");
  REQUIRE(ti != nullptr);
  REQUIRE(ti->id == r.topic_id);
  REQUIRE(img->topic(r.topic_id) == ti);
  REQUIRE(ti->partitions.size() == 4);
  REQUIRE(ti->configs == std::map<std::string, std::string>{{"retention.ms", "3600000"}});
  for (int32_t p = 0; p < 4; ++p) {
    const PartitionInfo* pi = img->partition("orders", p);
    REQUIRE(pi != nullptr);
    REQUIRE(pi->partition == p);
    REQUIRE(pi->replicas == std::vector<int32_t>{1});
    REQUIRE(pi->isr == std::vector<int32_t>{1});
    REQUIRE(pi->leader == 1);
  }
  REQUIRE(img->partition("orders", 4) == nullptr);
}

TEST_CASE("controller: -1 partitions and replication factor take the broker defaults") {
  ScratchDir t;
  Broker b(t.path, "num.partitions: 6\ndefault.replication.factor: 1\n");
  auto r = create_one(*b.ctl, topic("defaults"));
  REQUIRE(r.error == ErrorCode::NONE);
  REQUIRE(r.num_partitions == 6);
  REQUIRE(r.replication_factor == 1);
  REQUIRE(b.ctl->image()->topic("defaults")->partitions.size() == 6);
  // Only one of them defaulted.
  auto r2 = create_one(*b.ctl, topic("half", 2, -1));
  REQUIRE(r2.error == ErrorCode::NONE);
  REQUIRE(r2.num_partitions == 2);
  REQUIRE(r2.replication_factor == 1);
}

TEST_CASE("controller: creating an existing topic answers TOPIC_ALREADY_EXISTS and keeps the old one") {
  ScratchDir t;
  Broker b(t.path);
  auto first = create_one(*b.ctl, topic("dup", 2, 1));
  REQUIRE(first.error == ErrorCode::NONE);
  auto again = create_one(*b.ctl, topic("dup", 5, 1));
  REQUIRE(again.error == ErrorCode::TOPIC_ALREADY_EXISTS);
  REQUIRE(again.topic_id.is_zero());
  const TopicInfo* ti = b.ctl->image()->topic("dup");
  REQUIRE(ti->partitions.size() == 2);
  REQUIRE(ti->id == first.topic_id);
  // The same name twice in one request: the first wins, the second is refused.
  auto both = b.ctl->create_topics({topic("pair", 1, 1), topic("pair", 1, 1)}, false);
  REQUIRE(both.size() == 2);
  REQUIRE(both[0].error == ErrorCode::NONE);
  REQUIRE(both[1].error == ErrorCode::TOPIC_ALREADY_EXISTS);
}

TEST_CASE("controller: non-positive partition counts answer INVALID_PARTITIONS") {
  ScratchDir t;
  Broker b(t.path);
  for (int32_t n : {0, -2, -100}) {
    INFO("partitions " << n);
    auto r = create_one(*b.ctl, topic("p" + std::to_string(-n), n, 1));
    REQUIRE(r.error == ErrorCode::INVALID_PARTITIONS);
    REQUIRE_FALSE(r.message.empty());
  }
  REQUIRE(b.ctl->image()->topic_count() == 0);
}

TEST_CASE("controller: replication factor 2 with one broker answers INVALID_REPLICATION_FACTOR") {
  ScratchDir t;
  Broker b(t.path);
  auto r = create_one(*b.ctl, topic("rf2", 3, 2));
  REQUIRE(r.error == ErrorCode::INVALID_REPLICATION_FACTOR);
  REQUIRE_FALSE(r.message.empty());
  auto r0 = create_one(*b.ctl, topic("rf0", 3, 0));
  REQUIRE(r0.error == ErrorCode::INVALID_REPLICATION_FACTOR);
  REQUIRE(b.ctl->image()->topic("rf2") == nullptr);
  REQUIRE(b.ctl->image()->topic("rf0") == nullptr);
  // A broker default that cannot be met fails the same way for -1.
  ScratchDir t2;
  Broker b2(t2.path, "default.replication.factor: 3\n");
  REQUIRE(create_one(*b2.ctl, topic("rfdefault", 1, -1)).error == ErrorCode::INVALID_REPLICATION_FACTOR);
}

TEST_CASE("controller: validate_only answers as a real create would but writes nothing") {
  ScratchDir t;
  {
    Broker b(t.path);
    const int64_t offset_before = b.ctl->image()->offset();
    auto ok = create_one(*b.ctl, topic("dry", 3, 1, {{"retention.ms", "1000"}}), true);
    REQUIRE(ok.error == ErrorCode::NONE);
    REQUIRE(ok.num_partitions == 3);
    REQUIRE(ok.topic_id.is_zero());
    REQUIRE(ok.configs.at("retention.ms") == "1000");
    auto bad = create_one(*b.ctl, topic("dry-bad", 0, 1), true);
    REQUIRE(bad.error == ErrorCode::INVALID_PARTITIONS);
    REQUIRE(b.ctl->image()->topic("dry") == nullptr);
    REQUIRE(b.ctl->image()->offset() == offset_before);
    // The name is still free for a real create.
    REQUIRE(create_one(*b.ctl, topic("dry", 1, 1)).error == ErrorCode::NONE);
    REQUIRE(b.ctl->image()->topic("dry")->partitions.size() == 1);
  }
  Broker again(t.path);
  REQUIRE(again.ctl->image()->topic("dry")->partitions.size() == 1);
}

TEST_CASE("controller: an invalid topic config answers INVALID_CONFIG naming it and creates nothing") {
  ScratchDir t;
  Broker b(t.path);
  auto r = create_one(*b.ctl, topic("cfg", 1, 1, {{"retention.ms", "soon"}}));
  REQUIRE(r.error == ErrorCode::INVALID_CONFIG);
  REQUIRE(r.message.find("retention.ms") != std::string::npos);
  auto u = create_one(*b.ctl, topic("cfg", 1, 1, {{"retention.msec", "5"}}));
  REQUIRE(u.error == ErrorCode::INVALID_CONFIG);
  REQUIRE(u.message.find("retention.msec") != std::string::npos);
  REQUIRE(b.ctl->image()->topic("cfg") == nullptr);
  // Also refused in validate_only mode.
  REQUIRE(create_one(*b.ctl, topic("cfg", 1, 1, {{"cleanup.policy", "shred"}}), true).error ==
          ErrorCode::INVALID_CONFIG);
}

TEST_CASE("controller: topic names follow Kafka's character and length rules") {
  const std::string max_len(249, 'x');
  for (const std::string& good : {std::string("a"), std::string("Orders_2024.v1-final"), max_len,
                                  std::string("..."), std::string("_-_")}) {
    INFO("'" << good << "'");
    REQUIRE(validate_topic_name(good).ok());
  }
  for (const std::string& bad : {std::string(""), std::string("."), std::string(".."), std::string(250, 'x'),
                                 std::string("has space"), std::string("slash/name"), std::string("colon:name"),
                                 std::string("caf\xc3\xa9"), std::string("star*")}) {
    INFO("'" << bad << "'");
    auto s = validate_topic_name(bad);
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
    REQUIRE_FALSE(s.error().message.empty());
  }
  // The controller applies the rules, and refuses names whose metrics would collide.
  ScratchDir t;
  Broker b(t.path);
  REQUIRE(create_one(*b.ctl, topic("bad name", 1, 1)).error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(create_one(*b.ctl, topic(std::string(250, 'y'), 1, 1)).error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(create_one(*b.ctl, topic(max_len, 1, 1)).error == ErrorCode::NONE);
  REQUIRE(create_one(*b.ctl, topic("my.topic", 1, 1)).error == ErrorCode::NONE);
  auto clash = create_one(*b.ctl, topic("my_topic", 1, 1));
  REQUIRE(clash.error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  REQUIRE(clash.message.find("my.topic") != std::string::npos);
}

TEST_CASE("controller: topics are deleted by name or by id, unknown ones are reported") {
  ScratchDir t;
  Broker b(t.path);
  auto created = b.ctl->create_topics({topic("by-name", 2, 1), topic("by-id", 1, 1), topic("kept", 1, 1)}, false);
  for (const auto& r : created) REQUIRE(r.error == ErrorCode::NONE);
  const Uuid id = created[1].topic_id;

  auto d = b.ctl->delete_topics({"by-name", "never-existed"}, {id, Uuid::random()});
  REQUIRE(d.size() == 4);
  REQUIRE(d[0].name == "by-name");
  REQUIRE(d[0].error == ErrorCode::NONE);
  REQUIRE(d[0].topic_id == created[0].topic_id);
  REQUIRE(d[1].name == "never-existed");
  REQUIRE(d[1].error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  REQUIRE(d[2].error == ErrorCode::NONE);
  REQUIRE(d[2].topic_id == id);
  REQUIRE(d[2].name == "by-id");
  REQUIRE(d[3].error == ErrorCode::UNKNOWN_TOPIC_ID);
  REQUIRE(d[3].name.empty());

  auto img = b.ctl->image();
  REQUIRE(topic_names(*img) == std::vector<std::string>{"kept"});
  REQUIRE(img->topic(id) == nullptr);
  // Deleting again: now unknown.
  auto again = b.ctl->delete_topics({"by-name"}, {id});
  REQUIRE(again.size() == 2);
  REQUIRE(again[0].error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  REQUIRE(again[1].error == ErrorCode::UNKNOWN_TOPIC_ID);
  // A deleted name can be created again, with a new id.
  auto re = create_one(*b.ctl, topic("by-name", 1, 1));
  REQUIRE(re.error == ErrorCode::NONE);
  REQUIRE_FALSE(re.topic_id == created[0].topic_id);
}

TEST_CASE("controller: a restart replays the same topics, ids and cluster id") {
  ScratchDir t;
  std::string cluster_id;
  std::map<std::string, Uuid> ids;
  {
    Broker b(t.path);
    cluster_id = b.ctl->image()->cluster_id();
    REQUIRE_FALSE(cluster_id.empty());
    auto r = b.ctl->create_topics(
        {topic("alpha", 3, 1), topic("beta", 1, 1, {{"cleanup.policy", "compact"}}), topic("gamma", 2, 1)}, false);
    for (const auto& x : r) {
      REQUIRE(x.error == ErrorCode::NONE);
      ids[x.name] = x.topic_id;
    }
    REQUIRE(b.ctl->delete_topics({"gamma"}, {})[0].error == ErrorCode::NONE);
  }
  for (int restart = 0; restart < 2; ++restart) {
    INFO("restart " << restart);
    Broker b(t.path);
    auto img = b.ctl->image();
    REQUIRE(img->cluster_id() == cluster_id);
    REQUIRE(topic_names(*img) == std::vector<std::string>{"alpha", "beta"});
    REQUIRE(img->topic("alpha")->id == ids["alpha"]);
    REQUIRE(img->topic("beta")->id == ids["beta"]);
    REQUIRE(img->topic("alpha")->partitions.size() == 3);
    REQUIRE(img->topic("beta")->configs == std::map<std::string, std::string>{{"cleanup.policy", "compact"}});
    REQUIRE(img->topic("gamma") == nullptr);
    REQUIRE(img->topic(ids["gamma"]) == nullptr);
    const BrokerInfo* self = img->broker(1);
    REQUIRE(self != nullptr);
    REQUIRE_FALSE(self->fenced);
    // Still refuses duplicates after the restart.
    REQUIRE(create_one(*b.ctl, topic("alpha", 1, 1)).error == ErrorCode::TOPIC_ALREADY_EXISTS);
  }
}

TEST_CASE("controller: listeners get the current image at once, then the delta of each change") {
  ScratchDir t;
  Broker b(t.path);
  REQUIRE(create_one(*b.ctl, topic("existing", 1, 1)).error == ErrorCode::NONE);

  struct Call {
    std::vector<std::string> before, after, created, deleted;
    size_t changed_partitions = 0;
    int64_t before_offset, after_offset;
    replication::LocalChanges mine;
  };
  std::vector<Call> calls;
  b.ctl->subscribe([&](const MetadataDelta& d) {
    std::vector<std::string> created, deleted;
    for (const TopicInfo* t : d.created_topics()) created.push_back(t->name);
    for (const TopicInfo* t : d.deleted_topics()) deleted.push_back(t->name);
    calls.push_back({topic_names(d.before()), topic_names(d.after()), created, deleted, d.changed_partitions().size(),
                     d.before().offset(), d.after().offset(), d.local_changes(1)});
  });
  REQUIRE(calls.size() == 1);
  REQUIRE(calls[0].before.empty());
  REQUIRE(calls[0].after == std::vector<std::string>{"existing"});
  CHECK(calls[0].created == std::vector<std::string>{"existing"});
  CHECK(calls[0].mine.leaders.size() == 1);

  REQUIRE(create_one(*b.ctl, topic("fresh", 2, 1, {{"retention.ms", "1000"}})).error == ErrorCode::NONE);
  REQUIRE(calls.size() == 2);
  REQUIRE(calls[1].before == std::vector<std::string>{"existing"});
  REQUIRE(calls[1].after == std::vector<std::string>{"existing", "fresh"});
  REQUIRE(calls[1].after_offset > calls[1].before_offset);
  // Only what the batch changed: the new topic's two partitions, both led here.
  CHECK(calls[1].created == std::vector<std::string>{"fresh"});
  CHECK(calls[1].changed_partitions == 2);
  REQUIRE(calls[1].mine.leaders.size() == 2);
  CHECK(calls[1].mine.leaders[0].tp.topic == "fresh");
  CHECK(calls[1].mine.leaders[0].topic_configs == std::map<std::string, std::string>{{"retention.ms", "1000"}});
  CHECK(calls[1].mine.followers.empty());
  CHECK(calls[1].mine.reconfigured.empty());  // a new topic starts with its settings

  // Refused and validate-only requests change nothing and call nobody.
  REQUIRE(create_one(*b.ctl, topic("fresh", 2, 1)).error == ErrorCode::TOPIC_ALREADY_EXISTS);
  REQUIRE(create_one(*b.ctl, topic("dry", 2, 1), true).error == ErrorCode::NONE);
  REQUIRE(calls.size() == 2);

  REQUIRE(b.ctl->set_topic_configs("fresh", {{"retention.ms", "2000"}}, false).ok());
  REQUIRE(calls.size() == 3);
  CHECK(calls[2].changed_partitions == 0);
  REQUIRE(calls[2].mine.reconfigured.size() == 1);
  CHECK(calls[2].mine.reconfigured[0].first == "fresh");
  CHECK(calls[2].mine.leaders.empty());

  REQUIRE(b.ctl->delete_topics({"existing"}, {})[0].error == ErrorCode::NONE);
  REQUIRE(calls.size() == 4);
  REQUIRE(calls[3].before == std::vector<std::string>{"existing", "fresh"});
  REQUIRE(calls[3].after == std::vector<std::string>{"fresh"});
  CHECK(calls[3].deleted == std::vector<std::string>{"existing"});
  CHECK(calls[3].mine.deletes == std::vector<TopicPartition>{TopicPartition{"existing", 0}});
  CHECK(calls[3].mine.leaders.empty());
  REQUIRE(calls[3].before_offset == calls[2].after_offset);
  REQUIRE(b.ctl->image()->offset() == calls[3].after_offset);
}
