// The framing of metadata records on the log: what another KRaft reader would parse.
#include <catch2/catch.hpp>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

std::vector<MetadataRecord> one_of_each() {
  Uuid topic = Uuid::random();
  metadata::PartitionChangeRecord change;
  change.topic_id = topic;
  change.partition_id = 3;
  change.isr = std::vector<int32_t>{1, 2};
  change.leader = 2;
  metadata::FenceBrokerRecord fence;
  fence.id = 4;
  fence.epoch = 77;
  metadata::UnfenceBrokerRecord unfence;
  unfence.id = 4;
  unfence.epoch = 78;
  metadata::UnregisterBrokerRecord unregister;
  unregister.broker_id = 5;
  unregister.broker_epoch = 9;
  metadata::RemoveTopicRecord remove;
  remove.topic_id = topic;
  metadata::FeatureLevelRecord feature;
  feature.name = "metadata.version";
  feature.feature_level = 7;
  metadata::ProducerIdsRecord pids;
  pids.broker_id = 1;
  pids.broker_epoch = 3;
  pids.next_producer_id = 2000;
  metadata::BrokerRegistrationChangeRecord reg_change;
  reg_change.broker_id = 4;
  reg_change.broker_epoch = 78;
  reg_change.fenced = 1;
  reg_change.in_controlled_shutdown = 1;
  auto reg = register_broker(4, 78, true, 19092);
  reg.rack = "rack-a";
  return {reg,
          unregister,
          topic_record("orders", topic),
          partition_record(topic, 0, {4, 5}),
          topic_config("orders", "retention.ms", "60000"),
          topic_config("orders", "cleanup.policy", std::nullopt),
          change,
          fence,
          unfence,
          remove,
          feature,
          pids,
          reg_change,
          metadata::NoOpRecord{}};
}

}  // namespace

TEST_CASE("every metadata record survives encoding and decoding unchanged") {
  for (const auto& record : one_of_each()) {
    INFO(record_name(record));
    auto bytes = encode_record(record);
    auto back = decode_record(bytes);
    REQUIRE(back.ok());
    CHECK(back.value() == record);
  }
}

TEST_CASE("records carry KRaft's frame: version 1, the upstream type id, the record version") {
  std::map<std::string_view, int16_t> upstream = {
      {"RegisterBrokerRecord", 0}, {"UnregisterBrokerRecord", 1}, {"TopicRecord", 2},
      {"PartitionRecord", 3},      {"ConfigRecord", 4},           {"PartitionChangeRecord", 5},
      {"FenceBrokerRecord", 7},    {"UnfenceBrokerRecord", 8},    {"RemoveTopicRecord", 9},
      {"FeatureLevelRecord", 12},  {"ProducerIdsRecord", 15},     {"BrokerRegistrationChangeRecord", 17},
      {"NoOpRecord", 20}};
  for (const auto& record : one_of_each()) {
    INFO(record_name(record));
    REQUIRE(upstream.count(record_name(record)));
    CHECK(record_type(record) == upstream.at(record_name(record)));
    auto bytes = encode_record(record);
    REQUIRE(bytes.size() >= 3);
    CHECK(bytes[0] == 1);
    CHECK(bytes[1] == record_type(record));
    CHECK(bytes[2] == record_write_version(record));
  }
  // TopicRecord v0 byte for byte: frame, type, version, compact string, uuid, no tags.
  Uuid id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<uint8_t>(i);
  auto bytes = encode_record(topic_record("ab", id));
  std::vector<uint8_t> expected = {1, 2, 0, 3, 'a', 'b'};
  for (int i = 0; i < 16; ++i) expected.push_back(static_cast<uint8_t>(i));
  expected.push_back(0);
  CHECK(bytes == expected);
}

TEST_CASE("damaged record values are refused, never guessed at") {
  auto good = encode_record(topic_record("orders", Uuid::random()));

  SECTION("truncated") {
    for (size_t n = 0; n < good.size(); ++n)
      CHECK(decode_record(std::span<const uint8_t>(good.data(), n)).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("trailing bytes") {
    auto longer = good;
    longer.push_back(0);
    CHECK(decode_record(longer).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("unknown frame version") {
    auto bad = good;
    bad[0] = 2;
    CHECK(decode_record(bad).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("unknown record type") {
    auto bad = good;
    bad[1] = 99;
    CHECK(decode_record(bad).code() == ErrorCode::CORRUPT_MESSAGE);
  }
  SECTION("a record version newer than the definition") {
    auto bad = good;
    bad[2] = 5;
    auto r = decode_record(bad);
    CHECK(r.code() == ErrorCode::CORRUPT_MESSAGE);
    CHECK_THAT(r.error().message, Catch::Contains("TopicRecord version 5"));
  }
}
