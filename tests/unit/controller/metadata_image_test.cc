// MetadataImage::apply: how each metadata record changes what brokers see.
#include <catch2/catch.hpp>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

void apply_all(MetadataImage& img, const std::vector<MetadataRecord>& records) {
  for (const auto& r : records) REQUIRE(img.apply(r).ok());
}

}  // namespace

TEST_CASE("a topic record and its partition records make a topic with leaders and ISR") {
  MetadataImage img;
  Uuid id = Uuid::random();
  apply_all(img, {topic_record("orders", id), partition_record(id, 0, {1, 2}), partition_record(id, 1, {2, 1})});
  const TopicInfo* t = img.topic("orders");
  REQUIRE(t);
  CHECK(img.topic(id) == t);
  CHECK(t->id == id);
  CHECK_FALSE(t->internal);
  REQUIRE(t->partitions.size() == 2);
  CHECK(t->partitions[1].partition == 1);
  CHECK(t->partitions[1].leader == 2);
  CHECK(t->partitions[1].replicas == std::vector<int32_t>{2, 1});
  CHECK(t->partitions[1].isr == std::vector<int32_t>{2, 1});
  CHECK(img.partition("orders", 1) == &t->partitions[1]);
  CHECK(img.partition("orders", 2) == nullptr);
  CHECK(img.topic("other") == nullptr);
}

TEST_CASE("topics are listed by name and the offsets topic is internal") {
  MetadataImage img;
  apply_all(img, {topic_record("zeta", Uuid::random()), topic_record("__consumer_offsets", Uuid::random()),
                  topic_record("alpha", Uuid::random()), topic_record("__transaction_state", Uuid::random())});
  std::vector<std::string> names;
  for (const TopicInfo* t : img.topics()) names.push_back(t->name);
  CHECK(names == std::vector<std::string>{"__consumer_offsets", "__transaction_state", "alpha", "zeta"});
  CHECK(img.topic("__consumer_offsets")->internal);
  CHECK(img.topic("__transaction_state")->internal);
  CHECK_FALSE(img.topic("alpha")->internal);
}

TEST_CASE("removing a topic drops it with its configs; a new topic of that name starts from the defaults") {
  MetadataImage img;
  Uuid first = Uuid::random();
  apply_all(img, {topic_record("t", first), topic_config("t", "retention.ms", "1000"), partition_record(first, 0, {1})});
  REQUIRE(img.topic("t")->configs.at("retention.ms") == "1000");
  metadata::RemoveTopicRecord rm;
  rm.topic_id = first;
  REQUIRE(img.apply(rm).ok());
  CHECK(img.topic("t") == nullptr);
  CHECK(img.topic(first) == nullptr);
  CHECK(img.topics().empty());

  Uuid second = Uuid::random();
  apply_all(img, {topic_record("t", second), partition_record(second, 0, {1})});
  CHECK(img.topic("t")->id == second);
  CHECK(img.topic("t")->configs.empty());
}

TEST_CASE("config records set and clear topic overrides, even ahead of the topic record") {
  MetadataImage img;
  Uuid id = Uuid::random();
  apply_all(img, {topic_config("t", "cleanup.policy", "compact"), topic_record("t", id),
                  topic_config("t", "retention.ms", "5")});
  CHECK(img.topic("t")->configs == std::map<std::string, std::string>{{"cleanup.policy", "compact"},
                                                                       {"retention.ms", "5"}});
  REQUIRE(img.apply(topic_config("t", "cleanup.policy", std::nullopt)).ok());
  CHECK(img.topic("t")->configs == std::map<std::string, std::string>{{"retention.ms", "5"}});

  metadata::ConfigRecord broker;
  broker.resource_type = static_cast<int8_t>(ConfigResourceType::kBroker);
  broker.resource_name = "";
  broker.name = "log.retention.ms";
  broker.value = "100";
  REQUIRE(img.apply(broker).ok());
  REQUIRE(img.broker_configs(""));
  CHECK(img.broker_configs("")->at("log.retention.ms") == "100");
  CHECK(img.broker_configs("1") == nullptr);
  CHECK(img.topic("t")->configs.count("log.retention.ms") == 0);
}

TEST_CASE("broker registration, fencing and unfencing") {
  MetadataImage img;
  REQUIRE(img.apply(register_broker(1, 10, true, 9092)).ok());
  const BrokerInfo* b = img.broker(1);
  REQUIRE(b);
  CHECK(b->fenced);
  CHECK(b->epoch == 10);
  REQUIRE(b->endpoints.size() == 1);
  CHECK(b->endpoints[0] == Endpoint{"PLAINTEXT", "host-1", 9092});

  metadata::UnfenceBrokerRecord unfence;
  unfence.id = 1;
  unfence.epoch = 10;
  REQUIRE(img.apply(unfence).ok());
  CHECK_FALSE(img.broker(1)->fenced);

  metadata::FenceBrokerRecord fence;
  fence.id = 1;
  fence.epoch = 10;
  REQUIRE(img.apply(fence).ok());
  CHECK(img.broker(1)->fenced);

  // A later registration (a restart with new endpoints) replaces the old one.
  REQUIRE(img.apply(register_broker(1, 42, false, 9093)).ok());
  CHECK(img.broker(1)->epoch == 42);
  CHECK(img.broker(1)->endpoints[0].port == 9093);
  CHECK_FALSE(img.broker(1)->fenced);

  REQUIRE(img.apply(register_broker(3, 50, false)).ok());
  std::vector<int32_t> ids;
  for (const BrokerInfo* x : img.brokers()) ids.push_back(x->id);
  CHECK(ids == std::vector<int32_t>{1, 3});

  metadata::UnregisterBrokerRecord gone;
  gone.broker_id = 3;
  gone.broker_epoch = 50;
  REQUIRE(img.apply(gone).ok());
  CHECK(img.broker(3) == nullptr);
}

TEST_CASE("fencing a broker with a stale epoch or an unknown id is refused and changes nothing") {
  MetadataImage img;
  REQUIRE(img.apply(register_broker(1, 10, false)).ok());
  metadata::FenceBrokerRecord stale;
  stale.id = 1;
  stale.epoch = 9;
  CHECK_FALSE(img.apply(stale).ok());
  CHECK_FALSE(img.broker(1)->fenced);
  metadata::UnfenceBrokerRecord unknown;
  unknown.id = 7;
  unknown.epoch = 10;
  CHECK_FALSE(img.apply(unknown).ok());
  CHECK(img.broker(7) == nullptr);
}

TEST_CASE("a registration change record fences, unfences and marks controlled shutdown") {
  MetadataImage img;
  REQUIRE(img.apply(register_broker(2, 5, true)).ok());
  metadata::BrokerRegistrationChangeRecord c;
  c.broker_id = 2;
  c.broker_epoch = 5;
  c.fenced = -1;
  REQUIRE(img.apply(c).ok());
  CHECK_FALSE(img.broker(2)->fenced);
  c.fenced = 0;
  c.in_controlled_shutdown = 1;
  REQUIRE(img.apply(c).ok());
  CHECK_FALSE(img.broker(2)->fenced);
  CHECK(img.broker(2)->in_controlled_shutdown);
  c.fenced = 3;
  CHECK_FALSE(img.apply(c).ok());
}

TEST_CASE("a partition change keeps unchanged fields and bumps the leader and partition epochs") {
  MetadataImage img;
  Uuid id = Uuid::random();
  apply_all(img, {topic_record("t", id), partition_record(id, 0, {1, 2, 3})});

  metadata::PartitionChangeRecord shrink;  // ISR shrinks, leader stays
  shrink.topic_id = id;
  shrink.partition_id = 0;
  shrink.isr = std::vector<int32_t>{1, 2};
  REQUIRE(img.apply(shrink).ok());
  const PartitionInfo* p = img.partition("t", 0);
  CHECK(p->isr == std::vector<int32_t>{1, 2});
  CHECK(p->replicas == std::vector<int32_t>{1, 2, 3});
  CHECK(p->leader == 1);
  CHECK(p->leader_epoch == 0);
  CHECK(p->partition_epoch == 1);

  metadata::PartitionChangeRecord elect;  // new leader
  elect.topic_id = id;
  elect.partition_id = 0;
  elect.leader = 2;
  REQUIRE(img.apply(elect).ok());
  p = img.partition("t", 0);
  CHECK(p->leader == 2);
  CHECK(p->leader_epoch == 1);
  CHECK(p->partition_epoch == 2);
  CHECK(p->isr == std::vector<int32_t>{1, 2});

  metadata::PartitionChangeRecord offline;  // -1: no leader at all
  offline.topic_id = id;
  offline.partition_id = 0;
  offline.leader = -1;
  offline.isr = std::vector<int32_t>{};
  REQUIRE(img.apply(offline).ok());
  CHECK(img.partition("t", 0)->leader == -1);
  CHECK(img.partition("t", 0)->isr.empty());
  CHECK(img.partition("t", 0)->leader_epoch == 2);
}

TEST_CASE("records that contradict the image are refused") {
  MetadataImage img;
  Uuid id = Uuid::random();
  REQUIRE(img.apply(topic_record("t", id)).ok());
  CHECK_FALSE(img.apply(partition_record(Uuid::random(), 0, {1})).ok());  // unknown topic
  CHECK_FALSE(img.apply(partition_record(id, 1, {1})).ok());              // would leave partition 0 missing
  CHECK_FALSE(img.apply(partition_record(id, -1, {1})).ok());
  CHECK(img.topic("t")->partitions.empty());
  CHECK_FALSE(img.apply(topic_record("t", Uuid::random())).ok());  // second topic of that name
  CHECK_FALSE(img.apply(topic_record("u", id)).ok());              // id already used
  CHECK(img.topic("u") == nullptr);
  metadata::RemoveTopicRecord rm;
  rm.topic_id = Uuid::random();
  CHECK_FALSE(img.apply(rm).ok());
  metadata::PartitionChangeRecord change;
  change.topic_id = id;
  change.partition_id = 0;
  CHECK_FALSE(img.apply(change).ok());  // no such partition
}

TEST_CASE("a published image does not change when records are applied to its copy") {
  MetadataImage before;
  Uuid id = Uuid::random();
  apply_all(before, {topic_record("t", id), partition_record(id, 0, {1})});
  const TopicInfo* old_topic = before.topic("t");

  MetadataImage after = before;
  metadata::PartitionChangeRecord change;
  change.topic_id = id;
  change.partition_id = 0;
  change.leader = -1;
  REQUIRE(after.apply(change).ok());
  REQUIRE(after.apply(partition_record(id, 1, {1})).ok());
  REQUIRE(after.apply(topic_config("t", "retention.ms", "1")).ok());

  CHECK(before.topic("t") == old_topic);
  CHECK(before.topic("t")->partitions.size() == 1);
  CHECK(before.partition("t", 0)->leader == 1);
  CHECK(before.topic("t")->configs.empty());
  CHECK(after.topic("t")->partitions.size() == 2);
  CHECK(after.partition("t", 0)->leader == -1);
}

TEST_CASE("feature levels and producer id blocks are tracked") {
  MetadataImage img;
  CHECK(img.features().empty());
  CHECK(img.next_producer_id() == 0);
  metadata::FeatureLevelRecord mv;
  mv.name = "metadata.version";
  mv.feature_level = 7;
  REQUIRE(img.apply(mv).ok());
  CHECK(img.features().at("metadata.version") == 7);
  mv.feature_level = 0;  // level 0 removes a feature
  REQUIRE(img.apply(mv).ok());
  CHECK(img.features().empty());

  metadata::ProducerIdsRecord ids;
  ids.broker_id = 1;
  ids.next_producer_id = 1000;
  REQUIRE(img.apply(ids).ok());
  CHECK(img.next_producer_id() == 1000);
  ids.next_producer_id = 1000;  // never backwards or twice: ids would be handed out again
  CHECK_FALSE(img.apply(ids).ok());
  CHECK(img.next_producer_id() == 1000);

  REQUIRE(img.apply(metadata::NoOpRecord{}).ok());
}

namespace {

// Everything a broker reads from an image, as text, so two images can be compared whole.
std::string describe(const MetadataImage& img) {
  std::string out;
  auto ints = [](const std::vector<int32_t>& v) {
    std::string s;
    for (int32_t x : v) s += std::to_string(x) + ",";
    return s;
  };
  for (const auto& [name, level] : img.features()) out += "feature " + name + "=" + std::to_string(level) + "\n";
  for (const BrokerInfo* b : img.brokers()) {
    out += "broker " + std::to_string(b->id) + " epoch " + std::to_string(b->epoch) + " inc " +
           b->incarnation_id.to_string() + " fenced " + std::to_string(b->fenced) + " shutdown " +
           std::to_string(b->in_controlled_shutdown) + " rack " + b->rack.value_or("-");
    for (const auto& e : b->endpoints) out += " " + e.listener + "://" + e.host + ":" + std::to_string(e.port);
    out += "\n";
    if (const auto* c = img.broker_configs(std::to_string(b->id)))
      for (const auto& [k, v] : *c) out += "  config " + k + "=" + v + "\n";
  }
  if (const auto* c = img.broker_configs(""))
    for (const auto& [k, v] : *c) out += "cluster config " + k + "=" + v + "\n";
  for (const TopicInfo* t : img.topics()) {
    out += "topic " + t->name + " " + t->id.to_string() + " internal " + std::to_string(t->internal) + "\n";
    for (const auto& [k, v] : t->configs) out += "  config " + k + "=" + v + "\n";
    for (const auto& p : t->partitions)
      out += "  p" + std::to_string(p.partition) + " replicas " + ints(p.replicas) + " isr " + ints(p.isr) +
             " adding " + ints(p.adding_replicas) + " removing " + ints(p.removing_replicas) + " leader " +
             std::to_string(p.leader) + " le " + std::to_string(p.leader_epoch) + " pe " +
             std::to_string(p.partition_epoch) + "\n";
  }
  out += "next producer id " + std::to_string(img.next_producer_id()) + "\n";
  return out;
}

}  // namespace

TEST_CASE("an image's records rebuild the same image (a metadata snapshot)") {
  MetadataImage img;
  metadata::FeatureLevelRecord mv;
  mv.name = "metadata.version";
  mv.feature_level = 7;
  Uuid orders = Uuid::random(), offsets = Uuid::random();
  auto b2 = register_broker(2, 20, false, 9093);
  b2.rack = "rack-b";
  apply_all(img, {mv, register_broker(1, 10, false), b2, register_broker(3, 30, true, 9094),
                  topic_record("orders", orders), topic_config("orders", "retention.ms", "1000"),
                  topic_config("orders", "cleanup.policy", "compact"), partition_record(orders, 0, {1, 2, 3}),
                  partition_record(orders, 1, {2, 3, 1}), topic_record("__consumer_offsets", offsets),
                  partition_record(offsets, 0, {3, 1})});
  // State only records of the log's history produce: partition changes, a reassignment in
  // flight, controlled shutdown, broker and cluster configs, producer ids, and a topic
  // config that waits for its topic.
  metadata::PartitionChangeRecord change;
  change.topic_id = orders;
  change.partition_id = 1;
  change.isr = std::vector<int32_t>{2, 1};
  change.leader = 1;
  change.adding_replicas = std::vector<int32_t>{4};
  REQUIRE(img.apply(change).ok());
  change.leader = -2;
  REQUIRE(img.apply(change).ok());
  metadata::BrokerRegistrationChangeRecord shutdown;
  shutdown.broker_id = 2;
  shutdown.broker_epoch = 20;
  shutdown.in_controlled_shutdown = 1;
  REQUIRE(img.apply(shutdown).ok());
  metadata::ConfigRecord broker_cfg;
  broker_cfg.resource_type = static_cast<int8_t>(ConfigResourceType::kBroker);
  broker_cfg.resource_name = "1";
  broker_cfg.name = "log.retention.ms";
  broker_cfg.value = "5000";
  REQUIRE(img.apply(broker_cfg).ok());
  broker_cfg.resource_name = "";
  broker_cfg.name = "num.partitions";
  broker_cfg.value = "6";
  REQUIRE(img.apply(broker_cfg).ok());
  REQUIRE(img.apply(topic_config("later", "retention.ms", "7")).ok());
  metadata::ProducerIdsRecord ids;
  ids.next_producer_id = 3000;
  REQUIRE(img.apply(ids).ok());

  MetadataImage rebuilt;
  apply_all(rebuilt, img.to_records());
  CHECK(describe(rebuilt) == describe(img));
  CHECK(rebuilt.partition("orders", 1)->leader_epoch == img.partition("orders", 1)->leader_epoch);
  CHECK(rebuilt.partition("orders", 1)->partition_epoch == 2 + img.partition("orders", 0)->partition_epoch);
  // The waiting config reaches its topic when it comes.
  Uuid later = Uuid::random();
  REQUIRE(rebuilt.apply(topic_record("later", later)).ok());
  CHECK(rebuilt.topic("later")->configs.at("retention.ms") == "7");
  // And an empty image has nothing to say.
  CHECK(MetadataImage().to_records().empty());
}
