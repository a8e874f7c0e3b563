// __consumer_offsets as the broker stores it (a real log under a lone replica): batches
// written compressed with offsets.topic.compression.codec, compressed batches from elsewhere,
// and batches that cannot be read, as the group coordinator loads them after a restart.
#include <fstream>

#include <catch2/catch.hpp>

#include "coordinator/group/group_coordinator.h"
#include "coordinator/group/group_records.h"
#include "coordinator/group/internal_batches.h"
#include "protocol/wire.h"
#include "tests/unit/coordinator/lone_replica.h"

using namespace kb;
using namespace kb::coordinator;
using namespace kb::coordinator::test;

namespace {

GroupRecord offset_commit(const std::string& group, const std::string& topic, int32_t partition, int64_t offset) {
  rec::OffsetCommitKey k;
  k.group = group;
  k.topic = topic;
  k.partition = partition;
  rec::OffsetCommitValue v;
  v.offset = offset;
  v.commit_timestamp = 1;
  return {encode_key(k), encode_value(v)};
}

std::vector<uint8_t> batch_of(const std::vector<GroupRecord>& records, int codec = 0) {
  InternalBatchBuilder b(codec);
  for (const auto& r : records) b.add(r.key, r.value, 1);
  return b.build();
}

// The group coordinator over the lone __consumer_offsets-0 (one partition: every group).
struct Offsets {
  LoneOffsetsReplica r;
  GroupCoordinator coord;

  explicit Offsets(int codec = 0) : r(codec), coord(GroupConfig{}, r.loop, *r.log) { reload(); }

  // The partition moves away and back: its groups are loaded from the log again.
  void reload() {
    coord.resigned(0);
    coord.became_leader(0, 1);
    r.loop.run();
  }

  ErrorCode commit(const std::string& topic, int32_t partition, int64_t offset) {
    msg::OffsetCommitRequest req;
    req.group_id = "g";
    req.generation_id_or_member_epoch = -1;
    req.topics.push_back({topic, {{partition, offset, -1, -1, std::string()}}});
    std::optional<msg::OffsetCommitResponse> out;
    coord.commit_offsets(req, {}, ClientInfo{"c", "/h", 8}, [&](msg::OffsetCommitResponse resp) { out = resp; });
    r.loop.run();
    REQUIRE(out);
    return static_cast<ErrorCode>(out->topics.at(0).partitions.at(0).error_code);
  }

  int64_t committed(const std::string& topic, int32_t partition) {
    std::optional<FetchedOffsets> out;
    coord.fetch_offsets("g", std::map<std::string, std::vector<int32_t>>{{topic, {partition}}}, false,
                        [&](FetchedOffsets f) { out = std::move(f); });
    r.loop.run();
    REQUIRE(out);
    REQUIRE(out->error == ErrorCode::NONE);
    return out->partitions.at(0).offset;
  }

  // A batch written by someone other than the coordinator (a client's Produce before internal
  // topics were protected, another broker version).
  void append_raw(std::vector<uint8_t> batch) { REQUIRE(r.partition->append_as_leader(batch).ok()); }

  std::vector<int> codecs_in_log() {
    std::vector<int> out;
    auto& log = r.partition->log();
    REQUIRE(log.for_each_batch(log.log_start_offset(), log.log_end_offset(),
                               [&](std::span<const uint8_t>, const BatchHeader& h) -> Status {
                                 out.push_back(h.compression());
                                 return {};
                               })
                .ok());
    return out;
  }

  // Flips a byte inside the records of the batch at `offset`, on disk: its CRC no longer holds.
  void damage_on_disk(int64_t offset) {
    auto& log = r.partition->log();
    auto read = log.read(Offset(offset), 1, log.log_end_offset(), true);
    REQUIRE(read.ok());
    REQUIRE(read->slice);
    auto file = r.dir.path / (std::string(ReplicaGroupLog::kTopic) + "-0") / "00000000000000000000.log";
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f);
    const auto at = static_cast<std::streamoff>(read->slice->position + static_cast<int64_t>(batch::kHeaderSize) + 3);
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(at);
    f.write(&c, 1);
  }
};

}  // namespace

TEST_CASE("offsets.topic.compression.codec: offsets are written compressed and load back after a restart") {
  const int codec = GENERATE(1, 2, 3, 4);
  INFO("codec " << codec);
  Offsets o(codec);
  REQUIRE(o.commit("t", 0, 42) == ErrorCode::NONE);
  REQUIRE(o.commit("t", 1, 7) == ErrorCode::NONE);
  CHECK(o.codecs_in_log() == std::vector<int>{codec, codec});
  o.reload();
  CHECK(o.committed("t", 0) == 42);
  CHECK(o.committed("t", 1) == 7);
  CHECK(o.coord.skipped_records() == 0);
}

TEST_CASE("a gzip batch produced to __consumer_offsets loads with the rest of the partition") {
  Offsets o;
  REQUIRE(o.commit("t", 0, 1) == ErrorCode::NONE);
  o.append_raw(batch_of({offset_commit("g", "t", 0, 500), offset_commit("g", "t", 1, 600)}, 1));
  o.reload();
  CHECK(o.committed("t", 0) == 500);
  CHECK(o.committed("t", 1) == 600);
  CHECK(o.coord.skipped_records() == 0);
}

TEST_CASE("records and batches that cannot be read are skipped and counted; the partition still loads") {
  Offsets o;
  REQUIRE(o.commit("t", 0, 5) == ErrorCode::NONE);  // offset 0
  // Offset 1: a key of no __consumer_offsets format.
  o.append_raw(batch_of({{"not a group record key", "v"}}));
  // Offset 2: gzip whose stream is broken (its CRC, computed after the damage, holds).
  auto broken = batch_of({offset_commit("g", "t", 1, 99)}, 1);
  for (size_t i = batch::kHeaderSize + 12; i < broken.size() - 8; ++i) broken[i] = 0xff;
  wire::store_be32(broken.data() + batch::kCrc, compute_batch_crc(broken));
  o.append_raw(broken);
  // Offsets 3-4: a batch damaged on disk after it was written.
  o.append_raw(batch_of({offset_commit("g", "t", 2, 77), offset_commit("g", "t", 3, 78)}));
  o.damage_on_disk(3);
  REQUIRE(o.commit("t", 0, 6) == ErrorCode::NONE);  // offset 5

  o.reload();
  // Everything readable loaded, the rest counted: 1 record, 1 batch of 1, 1 batch of 2.
  CHECK(o.coord.skipped_records() == 4);
  CHECK(o.committed("t", 0) == 6);
  CHECK(o.committed("t", 1) == -1);
  CHECK(o.committed("t", 2) == -1);
  // This broker coordinates the partition's groups: commits go on.
  CHECK(o.commit("t", 1, 10) == ErrorCode::NONE);
  CHECK(o.committed("t", 1) == 10);
  // A second load counts again (the metric is a total of records skipped by loads).
  o.reload();
  CHECK(o.coord.skipped_records() == 8);
}

TEST_CASE("replay hands a compressed transactional batch's records over with their producer") {
  LoneOffsetsReplica r(4);
  REQUIRE(r.append({{"a", "v"}, {"b", "v"}}, TxnProducer{42, 0}).ok());
  REQUIRE(r.partition->append_txn_marker(42, 0, 0, true, 0).ok());
  std::vector<std::pair<std::string, int64_t>> seen;
  std::vector<TxnMarker> markers;
  SkippedRecords skipped;
  auto& log = r.partition->log();
  REQUIRE(replay_batches(
              log, log.log_start_offset(), log.log_end_offset(),
              [&](const StoredGroupRecord& s) {
                seen.emplace_back(std::string(s.key.value_or("")), s.txn_producer_id);
                markers.push_back(s.marker);
              },
              skipped)
              .ok());
  CHECK(skipped.count == 0);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::pair<std::string, int64_t>{"a", 42});
  CHECK(seen[1] == std::pair<std::string, int64_t>{"b", 42});
  CHECK(seen[2].second == 42);
  CHECK(markers == std::vector<TxnMarker>{TxnMarker::None, TxnMarker::None, TxnMarker::Commit});
}
