// The controller on a real LogManager: CreateTopics/DeleteTopics rules, durability across
// restarts, registration, listeners, producer-id blocks.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "controller/meta_properties.h"
#include "controller_fixtures.h"
#include "protocol/record_batch.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes records to the metadata log of `dir` before any controller opens it, the way a lone
// broker wrote it before it became a quorum of one (kbroker's LocalMetadataLog): each batch
// appended to `__cluster_metadata-0` with partition leader epoch 0, no leader markers, no
// quorum-state file. Other brokers' registrations, for placement tests; whole topics, for the
// test that such a log still loads.
void write_old_layout_log(const fs::path& dir, const std::vector<std::vector<MetadataRecord>>& batches) {
  storage::LogManagerOptions o;
  o.log_dirs = {dir};
  auto logs = storage::LogManager::open(o);
  REQUIRE(logs.ok());
  auto log = logs.value()->get_or_create(TopicPartition{"__cluster_metadata", 0}, metadata_log_config());
  REQUIRE(log.ok());
  for (const auto& records : batches) {
    std::vector<uint8_t> bytes = encode_metadata_batch(records);
    REQUIRE(log.value()->append(bytes, 0).ok());
  }
  REQUIRE(log.value()->flush().ok());
  logs.value()->shutdown();
}
void seed_metadata_log(const fs::path& dir, const std::vector<MetadataRecord>& records) {
  write_old_layout_log(dir, {records});
}

// An in-memory metadata log whose appends can be made to fail.
// A quorum of one that commits every append at once, and whose disk can fail.
class MemoryLog : public kbtest::CommittingLog {
 public:
  bool fail_appends = false;
  Result<int64_t> append(const std::vector<MetadataRecord>& records) override {
    if (fail_appends) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "disk gone"};
    return CommittingLog::append(records);
  }
};

}  // namespace

TEST_CASE("topic names follow Kafka's rules, with Kafka's messages") {
  CHECK(validate_topic_name("orders.v1_x-2").ok());
  CHECK(validate_topic_name(std::string(249, 'a')).ok());
  CHECK(validate_topic_name("...").ok());
  auto message = [](std::string_view name) {
    auto s = validate_topic_name(name);
    CHECK(s.code() == ErrorCode::INVALID_TOPIC_EXCEPTION);
    return s.ok() ? std::string() : s.error().message;
  };
  CHECK(message("") == "Topic name is invalid: the empty string is not allowed");
  CHECK(message(".") == "Topic name is invalid: '.' is not allowed");
  CHECK(message("..") == "Topic name is invalid: '..' is not allowed");
  std::string long_name(250, 'a');
  CHECK(message(long_name) == "Topic name is invalid: the length of '" + long_name +
                                  "' is longer than the max allowed length 249");
  CHECK(message("a b") == "Topic name is invalid: 'a b' contains one or more characters other than ASCII "
                          "alphanumerics, '.', '_' and '-'");
  CHECK_FALSE(message("a/b").empty());
  CHECK_FALSE(message("caf\xc3\xa9").empty());
  CHECK_FALSE(message(std::string("a\0b", 3)).empty());
  // Length counts characters as Java does: 230 of them in 260 bytes are not too long, so the
  // name is refused for its letters.
  std::string accented(200, 'a');
  for (int i = 0; i < 30; ++i) accented += "\xc3\xa9";
  CHECK_THAT(message(accented), Catch::Contains("contains one or more characters"));
}

TEST_CASE("a first start creates the cluster id, registers the broker and records metadata.version") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto img = n.ctl->image();
  CHECK(img->cluster_id().size() == 22);
  CHECK(n.quorum->quorum->leader() == 1);  // the only voter leads its quorum of one
  const BrokerInfo* me = img->broker(1);
  REQUIRE(me);
  CHECK_FALSE(me->fenced);
  REQUIRE(me->endpoints.size() == 1);
  CHECK(me->endpoints[0] == Endpoint{"PLAINTEXT", "127.0.0.1", 9092});
  CHECK(me->rack == std::nullopt);
  CHECK(me->incarnation_id == n.incarnation);
  // The offset of its RegisterBrokerRecord: after the quorum's leader marker and the feature
  // record, before its unfencing.
  CHECK(me->epoch == 2);
  CHECK(img->features().at("metadata.version") == 7);
  CHECK(img->offset() == 3);

  auto props = read_meta_properties(t.path.string());
  REQUIRE(props.ok());
  CHECK(props->cluster_id == img->cluster_id());
  CHECK(props->node_id == 1);
  CHECK_FALSE(props->directory_id.is_zero());
  CHECK(fs::exists(t.path / "__cluster_metadata-0"));
}

TEST_CASE("create topics uses the broker defaults and returns effective configs") {
  TempDir t;
  Node n(t.path, "num.partitions: 4\nlog.retention.hours: 2\n");
  REQUIRE(n.opened.ok());
  auto r = n.ctl->create_topics({spec("a"), spec("b", 2, 1, {{"retention.ms", "1000"}})}, false);
  REQUIRE(r.size() == 2);
  REQUIRE(r[0].error == ErrorCode::NONE);
  CHECK(r[0].num_partitions == 4);
  CHECK(r[0].replication_factor == 1);
  CHECK_FALSE(r[0].topic_id.is_zero());
  CHECK(r[0].configs.at("retention.ms") == "7200000");
  CHECK(r[0].configs.count("cleanup.policy") == 1);
  REQUIRE(r[1].error == ErrorCode::NONE);
  CHECK(r[1].configs.at("retention.ms") == "1000");

  auto img = n.ctl->image();
  REQUIRE(img->topic("a"));
  CHECK(img->topic("a")->partitions.size() == 4);
  CHECK(img->topic("a")->configs.empty());  // only overrides are stored
  CHECK(img->topic(r[0].topic_id)->name == "a");
  CHECK(img->topic("b")->configs == std::map<std::string, std::string>{{"retention.ms", "1000"}});
  for (const auto& p : img->topic("b")->partitions) {
    CHECK(p.leader == 1);
    CHECK(p.replicas == std::vector<int32_t>{1});
    CHECK(p.isr == std::vector<int32_t>{1});
    CHECK(p.leader_epoch == 0);
  }
}

TEST_CASE("create topics refuses what Kafka refuses, with Kafka's codes") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  REQUIRE(n.ctl->create_topics({spec("taken"), spec("metrics.a")}, false)[0].error == ErrorCode::NONE);

  auto r = n.ctl->create_topics({spec("taken"),
                                 spec("twice"),
                                 spec("twice"),
                                 spec("zero", 0),
                                 spec("negative", -2),
                                 spec("rf0", 1, 0),
                                 spec("rf2", 1, 2),
                                 spec("badcfg", 1, 1, {{"retention.ms", "soon"}}),
                                 spec("unknowncfg", 1, 1, {{"no.such.config", "1"}}),
                                 spec("bad/name"),
                                 spec("__cluster_metadata"),
                                 spec("metrics_a")},
                                false);
  REQUIRE(r.size() == 12);
  CHECK(r[0].error == ErrorCode::TOPIC_ALREADY_EXISTS);
  CHECK(r[0].message == "Topic 'taken' already exists.");
  CHECK(r[1].error == ErrorCode::NONE);
  CHECK(r[2].error == ErrorCode::TOPIC_ALREADY_EXISTS);
  CHECK(r[3].error == ErrorCode::INVALID_PARTITIONS);
  CHECK(r[3].message == "Number of partitions was set to an invalid non-positive value.");
  CHECK(r[4].error == ErrorCode::INVALID_PARTITIONS);
  CHECK(r[5].error == ErrorCode::INVALID_REPLICATION_FACTOR);
  CHECK(r[5].message == "Replication factor must be larger than 0, or -1 to use the default value.");
  CHECK(r[6].error == ErrorCode::INVALID_REPLICATION_FACTOR);
  CHECK(r[6].message == "Unable to replicate the partition 2 time(s): The target replication factor of 2 cannot be "
                        "reached because only 1 broker(s) are registered.");
  CHECK(r[7].error == ErrorCode::INVALID_CONFIG);
  CHECK_THAT(r[7].message, Catch::Contains("retention.ms"));
  CHECK(r[8].error == ErrorCode::INVALID_CONFIG);
  CHECK(r[9].error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  CHECK(r[10].error == ErrorCode::INVALID_REQUEST);
  CHECK(r[10].message == "Creation of internal topic __cluster_metadata is prohibited.");
  CHECK(r[11].error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  CHECK(r[11].message == "Topic 'metrics_a' collides with existing topic: metrics.a");
  for (size_t i = 0; i < r.size(); ++i)
    if (r[i].error != ErrorCode::NONE) CHECK(r[i].topic_id.is_zero());

  std::vector<std::string> names;
  for (const TopicInfo* ti : n.ctl->image()->topics()) names.push_back(ti->name);
  CHECK(names == std::vector<std::string>{"metrics.a", "taken", "twice"});
}

TEST_CASE("validate_only checks everything and writes nothing, not even after a restart") {
  TempDir t;
  int64_t offset = 0;
  {
    Node n(t.path);
    REQUIRE(n.opened.ok());
    offset = n.ctl->image()->offset();
    auto dry = n.ctl->create_topics({spec("dry", 3, 1, {{"cleanup.policy", "compact"}}), spec("bad", 0)}, true);
    CHECK(dry[0].error == ErrorCode::NONE);
    CHECK(dry[0].num_partitions == 3);
    CHECK(dry[0].configs.at("cleanup.policy") == "compact");
    CHECK(dry[1].error == ErrorCode::INVALID_PARTITIONS);
    CHECK(n.ctl->image()->topic("dry") == nullptr);
    CHECK(n.ctl->image()->offset() == offset);
  }
  Node again(t.path);
  REQUIRE(again.opened.ok());
  CHECK(again.ctl->image()->topic("dry") == nullptr);
  CHECK(again.ctl->image()->topic_count() == 0);
}

TEST_CASE("manual replica assignments are checked like Kafka checks them") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto with = [](std::string name, std::map<int32_t, std::vector<int32_t>> a, int32_t np = -1, int16_t rf = -1) {
    CreateTopicSpec s = spec(std::move(name), np, rf);
    s.assignments = std::move(a);
    return s;
  };
  auto r = n.ctl->create_topics({with("ok", {{0, {1}}, {1, {1}}}),
                                 with("rf-set", {{0, {1}}}, -1, 1),
                                 with("np-set", {{0, {1}}}, 1, -1),
                                 with("empty", {{0, {}}}),
                                 with("stranger", {{0, {1, 2}}}),
                                 with("dup", {{0, {1, 1}}}),
                                 with("gap", {{0, {1}}, {2, {1}}})},
                                false);
  CHECK(r[0].error == ErrorCode::NONE);
  CHECK(r[0].num_partitions == 2);
  CHECK(r[0].replication_factor == 1);
  CHECK(r[1].error == ErrorCode::INVALID_REQUEST);
  CHECK(r[2].error == ErrorCode::INVALID_REQUEST);
  CHECK(r[3].error == ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(r[3].message == "The manual partition assignment includes an empty replica list.");
  CHECK(r[4].error == ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(r[4].message == "The manual partition assignment includes broker 2, but no such broker is registered.");
  CHECK(r[5].error == ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(r[5].message == "The manual partition assignment includes the broker 1 more than once.");
  CHECK(r[6].error == ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  CHECK(r[6].message == "partitions should be a consecutive 0-based integer sequence");
  CHECK(n.ctl->image()->topic("ok")->partitions.size() == 2);
}

TEST_CASE("a request that would need more than 10000 metadata records is refused whole") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto offset = n.ctl->image()->offset();
  auto r = n.ctl->create_topics({spec("small", 1), spec("huge", 2147483647)}, false);
  for (const auto& x : r) {
    CHECK(x.error == ErrorCode::POLICY_VIOLATION);
    CHECK(x.message == "Unable to perform excessively large batch operation.");
  }
  CHECK(n.ctl->image()->topic("small") == nullptr);
  CHECK(n.ctl->image()->offset() == offset);
  // Just under the cap is fine: one TopicRecord plus 9999 PartitionRecords.
  auto ok = n.ctl->create_topics({spec("big", 9999)}, false);
  CHECK(ok[0].error == ErrorCode::NONE);
  CHECK(n.ctl->image()->topic("big")->partitions.size() == 9999);
}

TEST_CASE("delete topics by name and by id") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto r = n.ctl->create_topics({spec("x"), spec("y"), spec("z")}, false);
  Uuid unknown = Uuid::random();
  auto d = n.ctl->delete_topics({"x", "missing"}, {r[1].topic_id, unknown});
  REQUIRE(d.size() == 4);
  CHECK(d[0].error == ErrorCode::NONE);
  CHECK(d[0].name == "x");
  CHECK(d[0].topic_id == r[0].topic_id);
  CHECK(d[1].error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  CHECK(d[1].message == "This server does not host this topic-partition.");
  CHECK(d[2].error == ErrorCode::NONE);
  CHECK(d[2].name == "y");
  CHECK(d[3].error == ErrorCode::UNKNOWN_TOPIC_ID);
  CHECK(d[3].topic_id == unknown);
  CHECK(d[3].name.empty());
  std::vector<std::string> left;
  for (const TopicInfo* ti : n.ctl->image()->topics()) left.push_back(ti->name);
  CHECK(left == std::vector<std::string>{"z"});
}

TEST_CASE("delete topics refuses duplicates and ambiguous requests as Kafka does") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  auto r = n.ctl->create_topics({spec("a"), spec("b"), spec("c"), spec("d")}, false);
  const Uuid a = r[0].topic_id, b = r[1].topic_id, c = r[2].topic_id;
  auto d = n.ctl->delete_topics({"a", "a", "c"}, {b, b, c, Uuid{}});
  // Names first, each once; then the ids that still have an answer of their own.
  REQUIRE(d.size() == 4);
  CHECK(d[0].name == "a");
  CHECK(d[0].error == ErrorCode::INVALID_REQUEST);
  CHECK(d[0].message == "Duplicate topic name.");
  CHECK(d[1].name == "c");
  CHECK(d[1].error == ErrorCode::INVALID_REQUEST);
  CHECK(d[1].message == "The provided topic name maps to an ID that was already supplied.");
  CHECK(d[2].topic_id == b);
  CHECK(d[2].error == ErrorCode::INVALID_REQUEST);
  CHECK(d[2].message == "Duplicate topic id.");
  CHECK(d[3].topic_id.is_zero());
  CHECK(d[3].error == ErrorCode::INVALID_REQUEST);
  CHECK(d[3].message == "Neither topic name nor id were specified.");
  // Nothing was deleted.
  auto img = n.ctl->image();
  CHECK(img->topic(a));
  CHECK(img->topic(b));
  CHECK(img->topic(c));
  CHECK(img->topic("d"));
}

TEST_CASE("with delete.topic.enable false every deletion answers TOPIC_DELETION_DISABLED") {
  TempDir t;
  Node n(t.path, "delete.topic.enable: false\n");
  REQUIRE(n.opened.ok());
  auto r = n.ctl->create_topics({spec("keep")}, false);
  auto d = n.ctl->delete_topics({"keep", "missing"}, {r[0].topic_id});
  REQUIRE(d.size() == 3);
  for (const auto& x : d) CHECK(x.error == ErrorCode::TOPIC_DELETION_DISABLED);
  CHECK(n.ctl->image()->topic("keep"));
}

TEST_CASE("internal topics are created through the controller but never deleted or given partitions") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  // The broker's own creation (clients are refused before forwarding, server/handlers).
  auto r = n.ctl->create_topics({spec("__consumer_offsets", 3, 1, {{"cleanup.policy", "compact"}})}, false);
  REQUIRE(r[0].error == ErrorCode::NONE);
  CHECK(n.ctl->image()->topic("__consumer_offsets")->internal);
  // The groups' offsets would go with it, or move to other partitions.
  CHECK(n.ctl->delete_topics({"__consumer_offsets"}, {})[0].error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  auto by_id = n.ctl->delete_topics({}, {r[0].topic_id});
  CHECK(by_id[0].error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  CHECK(by_id[0].name == "__consumer_offsets");
  CHECK(n.ctl->create_partitions("__consumer_offsets", 6, std::nullopt, false).code() ==
        ErrorCode::INVALID_TOPIC_EXCEPTION);
  CHECK(n.ctl->image()->topic("__consumer_offsets")->partitions.size() == 3);
}

TEST_CASE("a restart replays the metadata log into the same image") {
  TempDir t;
  Uuid keep_id;
  std::string cluster;
  int64_t offset = 0, epoch = 0;
  {
    Node n(t.path);
    REQUIRE(n.opened.ok());
    auto r = n.ctl->create_topics({spec("keep", 3, 1, {{"retention.ms", "1234"}}), spec("drop")}, false);
    keep_id = r[0].topic_id;
    REQUIRE(n.ctl->delete_topics({"drop"}, {})[0].error == ErrorCode::NONE);
    REQUIRE(n.ctl->create_topics({spec("drop", 2)}, false)[0].error == ErrorCode::NONE);
    cluster = n.ctl->image()->cluster_id();
    offset = n.ctl->image()->offset();
    epoch = n.ctl->image()->broker(1)->epoch;
  }
  Node again(t.path);
  REQUIRE(again.opened.ok());
  auto img = again.ctl->image();
  CHECK(img->cluster_id() == cluster);
  REQUIRE(img->topic("keep"));
  CHECK(img->topic("keep")->id == keep_id);
  CHECK(img->topic("keep")->partitions.size() == 3);
  CHECK(img->topic("keep")->configs.at("retention.ms") == "1234");
  REQUIRE(img->topic("drop"));
  CHECK(img->topic("drop")->partitions.size() == 2);
  // A new process is a new incarnation: registered again, after everything replayed.
  CHECK(img->offset() > offset);
  CHECK(img->broker(1)->epoch > epoch);
  CHECK(img->broker(1)->incarnation_id == again.incarnation);
  CHECK_FALSE(img->broker(1)->fenced);
  // What the old incarnation led was given back to this one once it was unfenced.
  for (const auto& p : img->topic("keep")->partitions) CHECK(p.leader == 1);
}

TEST_CASE("a broker that restarts with other endpoints registers again with a new epoch") {
  TempDir t;
  int64_t epoch = 0;
  {
    Node n(t.path, "", 9092);
    REQUIRE(n.opened.ok());
    epoch = n.ctl->image()->broker(1)->epoch;
  }
  Node again(t.path, "broker.rack: r1\n", 9093);
  REQUIRE(again.opened.ok());
  const BrokerInfo* me = again.ctl->image()->broker(1);
  REQUIRE(me);
  CHECK(me->endpoints.at(0).port == 9093);
  CHECK(me->rack == std::optional<std::string>("r1"));
  CHECK(me->epoch > epoch);
  CHECK_FALSE(me->fenced);
}

TEST_CASE("the cluster id persists in meta.properties of every log dir") {
  TempDir t1, t2;
  std::string cluster;
  auto cfg = [&] {
    return config::BrokerConfig::from_yaml("node.id: 1\nlog.dirs: " + t1.path.string() + "," + t2.path.string() +
                                           "\nlisteners: PLAINTEXT://127.0.0.1:9092\n");
  };
  {
    Node n(cfg());
    REQUIRE(n.opened.ok());
    cluster = n.ctl->image()->cluster_id();
  }
  auto p1 = read_meta_properties(t1.path.string());
  auto p2 = read_meta_properties(t2.path.string());
  REQUIRE(p1.ok());
  REQUIRE(p2.ok());
  CHECK(p1->cluster_id == cluster);
  CHECK(p2->cluster_id == cluster);
  CHECK(p1->directory_id != p2->directory_id);
  CHECK_THAT(read_file(t1.path / "meta.properties"), Catch::Contains("version=1"));
  {
    Node again(cfg());
    REQUIRE(again.opened.ok());
    CHECK(again.ctl->image()->cluster_id() == cluster);
  }
  // A directory that belongs to another cluster stops the start.
  MetaProperties other = p2.value();
  other.cluster_id = Uuid::random().to_string();
  REQUIRE(write_meta_properties(t2.path.string(), other).ok());
  Node mixed(cfg());
  CHECK(mixed.opened.code() == ErrorCode::INCONSISTENT_CLUSTER_ID);
  CHECK(mixed.ctl == nullptr);
}

TEST_CASE("a log dir of another node.id is refused") {
  TempDir t;
  { REQUIRE(Node(t.path).opened.ok()); }
  Node other(config::BrokerConfig::from_yaml("node.id: 2\nlog.dirs: " + t.path.string() +
                                             "\nlisteners: PLAINTEXT://127.0.0.1:9092\n"));
  CHECK(other.opened.code() == ErrorCode::INCONSISTENT_CLUSTER_ID);
  CHECK_THAT(other.opened.error().message, Catch::Contains("node.id 1"));
}

TEST_CASE("a metadata log with an undecodable record stops the start, naming the offset") {
  TempDir t;
  int64_t at = 0;
  { REQUIRE(Node(t.path).opened.ok()); }
  {
    storage::LogManagerOptions o;
    o.log_dirs = {t.path};
    auto logs = storage::LogManager::open(o);
    REQUIRE(logs.ok());
    auto log = logs.value()->get_or_create(TopicPartition{"__cluster_metadata", 0}, storage::LogConfig{});
    REQUIRE(log.ok());
    at = log.value()->log_end_offset().value();
    RecordBatchBuilder b;
    b.add(std::nullopt, std::string_view("\x01\x63\x00", 3), 0);  // record type 99
    auto bytes = b.build();
    REQUIRE(log.value()->append(bytes, 0).ok());
    logs.value()->shutdown();
  }
  Node broken(t.path);
  CHECK(broken.opened.code() == ErrorCode::CORRUPT_MESSAGE);
  CHECK_THAT(broken.opened.error().message, Catch::Contains("offset " + std::to_string(at)));
}

TEST_CASE("listeners see every change in order, with the images before and after") {
  TempDir t;
  Node n(t.path);
  REQUIRE(n.opened.ok());
  std::vector<std::pair<size_t, size_t>> seen;
  std::vector<int64_t> offsets;
  n.ctl->subscribe([&](const MetadataDelta& d) {
    seen.emplace_back(d.before().topic_count(), d.after().topic_count());
    offsets.push_back(d.after().offset());
  });
  n.ctl->create_topics({spec("one")}, false);
  n.ctl->create_topics({spec("two"), spec("three")}, false);
  n.ctl->create_topics({spec("one")}, false);  // refused: no change, no call
  n.ctl->create_topics({spec("four")}, true);  // validate_only: no call
  n.ctl->delete_topics({"one"}, {});
  CHECK(seen == std::vector<std::pair<size_t, size_t>>{{0, 0}, {0, 1}, {1, 3}, {3, 2}});
  REQUIRE(offsets.size() == 4);
  CHECK(std::is_sorted(offsets.begin(), offsets.end()));
  CHECK(offsets.back() == n.ctl->image()->offset());
}

TEST_CASE("producer id blocks never overlap, even across a restart") {
  TempDir t;
  int64_t first = -1, second = -1;
  {
    Node n(t.path);
    REQUIRE(n.opened.ok());
    auto a = n.ctl->allocate_producer_ids(1);
    auto b = n.ctl->allocate_producer_ids(1, n.ctl->image()->broker(1)->epoch);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    first = a->first;
    second = b->first;
    CHECK(a->size == Controller::kProducerIdBlockSize);
    CHECK(second == first + a->size);
    CHECK(n.ctl->allocate_producer_ids(7).code() == ErrorCode::BROKER_ID_NOT_REGISTERED);
    CHECK(n.ctl->allocate_producer_ids(1, 12345).code() == ErrorCode::STALE_BROKER_EPOCH);
  }
  Node again(t.path);
  REQUIRE(again.opened.ok());
  auto c = again.ctl->allocate_producer_ids(1);
  REQUIRE(c.ok());
  CHECK(c->first == second + Controller::kProducerIdBlockSize);
}

TEST_CASE("replicas spread over the registered brokers, leaders only on unfenced ones") {
  TempDir t;
  // Brokers 2 and 3 registered by "other voters" before this node starts; 3 is fenced.
  seed_metadata_log(t.path, {register_broker(2, 0, false), register_broker(3, 1, true)});
  Node n(t.path);
  REQUIRE(n.opened.ok());
  REQUIRE(n.ctl->image()->brokers().size() == 3);

  auto r = n.ctl->create_topics({spec("rf2", 6, 2), spec("rf3", 4, 3), spec("rf4", 1, 4)}, false);
  REQUIRE(r[0].error == ErrorCode::NONE);
  REQUIRE(r[1].error == ErrorCode::NONE);
  CHECK(r[2].error == ErrorCode::INVALID_REPLICATION_FACTOR);
  auto img = n.ctl->image();
  std::map<int32_t, int> leaders;
  for (const auto& p : img->topic("rf2")->partitions) {
    REQUIRE(p.replicas.size() == 2);
    CHECK(p.replicas[0] != p.replicas[1]);
    CHECK(p.leader == p.replicas[0]);
    CHECK(p.leader != 3);
    // Two unfenced brokers exist, so followers are never the fenced one.
    CHECK(std::find(p.replicas.begin(), p.replicas.end(), 3) == p.replicas.end());
    CHECK(p.isr == p.replicas);
    ++leaders[p.leader];
  }
  CHECK(leaders == std::map<int32_t, int>{{1, 3}, {2, 3}});
  for (const auto& p : img->topic("rf3")->partitions) {
    CHECK(std::set<int32_t>(p.replicas.begin(), p.replicas.end()) == std::set<int32_t>{1, 2, 3});
    CHECK(p.leader != 3);
    CHECK(std::set<int32_t>(p.isr.begin(), p.isr.end()) == std::set<int32_t>{1, 2});  // fenced: not in sync
  }
}

TEST_CASE("after a metadata log failure the controller refuses every change until restart") {
  TempDir t;
  auto cfg = broker_config(t.path);
  auto log = std::make_unique<MemoryLog>();
  MemoryLog* mem = log.get();
  auto ctl = Controller::open(cfg, std::move(log), "test-cluster-id-000000");
  REQUIRE(ctl.ok());
  Controller& c = *ctl.value();
  mem->controller = &c;
  c.set_active(true);
  REQUIRE(mem->append({register_broker(1, 0, false)}).ok());  // one unfenced broker to place on
  REQUIRE(c.create_topics({spec("before")}, false)[0].error == ErrorCode::NONE);
  auto offset = c.image()->offset();

  mem->fail_appends = true;
  auto r = c.create_topics({spec("lost")}, false);
  CHECK(r[0].error == ErrorCode::KAFKA_STORAGE_ERROR);
  CHECK(r[0].topic_id.is_zero());
  CHECK(c.image()->topic("lost") == nullptr);
  CHECK(c.image()->offset() == offset);

  mem->fail_appends = false;  // the disk "came back": still refused, the log state is unknown
  CHECK(c.create_topics({spec("later")}, false)[0].error == ErrorCode::KAFKA_STORAGE_ERROR);
  CHECK(c.delete_topics({"before"}, {})[0].error == ErrorCode::KAFKA_STORAGE_ERROR);
  CHECK(c.image()->topic("before"));
  CHECK(c.image()->topic("later") == nullptr);
}

TEST_CASE("a metadata log a lone broker wrote before it became a quorum of one loads as it is") {
  TempDir t;
  // What LocalMetadataLog wrote on a first start and one CreateTopics: metadata.version, the
  // broker's registration and unfencing, then a topic with an override and two partitions.
  metadata::FeatureLevelRecord feature;
  feature.name = "metadata.version";
  feature.feature_level = 7;
  metadata::UnfenceBrokerRecord unfence;
  unfence.id = 1;
  unfence.epoch = 1;
  const Uuid id = Uuid::random();
  write_old_layout_log(t.path, {{feature, register_broker(1, 1, true), unfence},
                                {topic_record("old", id), topic_config("old", "retention.ms", "5000"),
                                 partition_record(id, 0, {1}), partition_record(id, 1, {1})}});
  int64_t offset = 0;
  {
    Node n(t.path);
    REQUIRE(n.opened.ok());
    auto img = n.ctl->image();
    const TopicInfo* old = img->topic("old");
    REQUIRE(old);
    CHECK(old->id == id);
    CHECK(old->configs == std::map<std::string, std::string>{{"retention.ms", "5000"}});
    REQUIRE(old->partitions.size() == 2);
    for (const auto& p : old->partitions) {
      CHECK(p.replicas == std::vector<int32_t>{1});
      CHECK(p.leader == 1);  // led again by the new incarnation
    }
    CHECK(img->broker(1)->incarnation_id == n.incarnation);
    CHECK(img->broker(1)->epoch > 6);  // registered after the old records
    REQUIRE(n.ctl->create_topics({spec("new", 1)}, false)[0].error == ErrorCode::NONE);
    offset = n.ctl->image()->offset();
  }
  // Now written the quorum's way (leader markers, quorum-state): a second start still has both.
  Node again(t.path);
  REQUIRE(again.opened.ok());
  auto img = again.ctl->image();
  CHECK(img->offset() > offset);
  REQUIRE(img->topic("old"));
  CHECK(img->topic("old")->id == id);
  CHECK(img->topic("new"));
  CHECK(fs::exists(t.path / "__cluster_metadata-0" / "quorum-state"));
}
