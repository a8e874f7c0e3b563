// Idempotent producers on a partition replica: the leader's sequence and epoch checks, retried
// batches answered with their first offsets, and the producer state as followers keep it,
// as a restart rebuilds it (log scan or snapshot), as truncation trims it and as expiration
// empties it. On real logs; clocks are the batches' timestamps and an explicit "now".
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <limits>

#include "replica_test_util.h"
#include "replication/producer_state.h"

using namespace kb;
using namespace kb::replication;
using namespace kb::replication::test;

namespace {

PartitionState led_by(int32_t leader, int32_t epoch, std::vector<int32_t> isr = {1, 2}) {
  return PartitionState{leader, epoch, 0, {1, 2}, std::move(isr)};
}

PartitionState alone(int32_t epoch = 1) { return PartitionState{1, epoch, 0, {1}, {1}}; }

// `n` records of producer `pid` at `epoch`, sequences from `seq`, timestamps from `ts`.
std::vector<uint8_t> idempotent_batch(int64_t pid, int16_t epoch, int32_t seq, int n, int64_t ts = 1000) {
  RecordBatchBuilder b;
  b.producer(pid, epoch, seq);
  for (int i = 0; i < n; ++i) {
    std::string value = "v";
    value += std::to_string(seq + i);
    b.add("k", value, ts + i);
  }
  return b.build();
}

struct Sent {
  ErrorCode error = ErrorCode::NONE;
  int64_t first = -1, last = -1;
  bool duplicate = false;
};

Sent send(Partition& p, int64_t pid, int16_t epoch, int32_t seq, int n, int64_t ts = 1000) {
  auto bytes = idempotent_batch(pid, epoch, seq, n, ts);
  Sent s;
  auto r = p.append_as_leader(bytes, &s.duplicate);
  s.error = r.code();
  if (r.ok()) {
    s.first = r->first_offset.value();
    s.last = r->last_offset.value();
  }
  return s;
}

BatchHeader header(int64_t pid, int16_t epoch, int32_t seq, int n, int64_t base_offset = 0, int64_t ts = 1000) {
  BatchHeader h;
  h.producer_id = pid;
  h.producer_epoch = epoch;
  h.base_sequence = seq;
  h.last_offset_delta = n - 1;
  h.records_count = n;
  h.base_offset = base_offset;
  h.max_timestamp = ts;
  return h;
}


}  // namespace

TEST_CASE("in-order batches of an idempotent producer are appended and remembered") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  auto a = send(*p, 7, 0, 0, 3);
  auto b = send(*p, 7, 0, 3, 2);
  REQUIRE(a.error == ErrorCode::NONE);
  REQUIRE(b.error == ErrorCode::NONE);
  CHECK_FALSE(b.duplicate);
  CHECK(b.first == 3);
  CHECK(b.last == 4);
  auto st = p->producer_state(7);
  REQUIRE(st);
  CHECK(st->epoch == 0);
  CHECK(st->last_seq() == 4);
  CHECK(st->last_offset() == 4);
  CHECK(p->producer_count() == 1);
  // Batches without a producer id leave the state alone.
  produce(*p, 2);
  CHECK(p->producer_count() == 1);
}

TEST_CASE("a sequence gap is refused with OUT_OF_ORDER_SEQUENCE_NUMBER and nothing is written") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  REQUIRE(send(*p, 7, 0, 0, 3).error == ErrorCode::NONE);
  CHECK(send(*p, 7, 0, 5, 1).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  CHECK(send(*p, 7, 0, 2, 1).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);  // overlaps, not a retry
  CHECK(p->log_end_offset().value() == 3);
  CHECK(p->producer_state(7)->last_seq() == 2);
  // The producer goes on where it left off.
  CHECK(send(*p, 7, 0, 3, 1).error == ErrorCode::NONE);
}

TEST_CASE("a retry of any of the last 5 batches is answered with its original offsets, older ones are out of order") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  std::vector<Sent> first;
  int32_t seq = 0;
  for (int i = 0; i < 6; ++i) {
    produce(*p, 1);  // someone else's record between them: offsets and sequences differ
    first.push_back(send(*p, 7, 0, seq, 2));
    REQUIRE(first.back().error == ErrorCode::NONE);
    seq += 2;
  }
  const int64_t end = p->log_end_offset().value();
  for (int i = 1; i < 6; ++i) {
    INFO("batch " << i);
    auto again = send(*p, 7, 0, 2 * i, 2);
    CHECK(again.error == ErrorCode::NONE);
    CHECK(again.duplicate);
    CHECK(again.first == first[static_cast<size_t>(i)].first);
    CHECK(again.last == first[static_cast<size_t>(i)].last);
  }
  CHECK(p->log_end_offset().value() == end);
  // The first batch is no longer retained: Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER.
  auto oldest = send(*p, 7, 0, 0, 2);
  CHECK(oldest.error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  CHECK_FALSE(oldest.duplicate);
  CHECK(p->log_end_offset().value() == end);
}

TEST_CASE("a new epoch starts at sequence 0 and fences the old one") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  REQUIRE(send(*p, 7, 0, 0, 5).error == ErrorCode::NONE);
  CHECK(send(*p, 7, 1, 3, 1).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  auto bumped = send(*p, 7, 1, 0, 2);
  REQUIRE(bumped.error == ErrorCode::NONE);
  CHECK(p->producer_state(7)->epoch == 1);
  CHECK(p->producer_state(7)->last_seq() == 1);
  // The old epoch's batches are no duplicates any more, and the old epoch may not write.
  auto stale = send(*p, 7, 0, 5, 1);
  CHECK(stale.error == ErrorCode::INVALID_PRODUCER_EPOCH);
  CHECK(send(*p, 7, 0, 0, 5).error == ErrorCode::INVALID_PRODUCER_EPOCH);
  CHECK(p->log_end_offset().value() == 7);
}

TEST_CASE("a producer the replica does not know may start at any sequence") {
  // Kafka since KIP-360: its state may have expired or gone with its records.
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  CHECK(send(*p, 9, 3, 42, 2).error == ErrorCode::NONE);
  CHECK(send(*p, 9, 3, 45, 1).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  CHECK(send(*p, 9, 3, 44, 1).error == ErrorCode::NONE);
}

TEST_CASE("sequences wrap from INT32_MAX to 0") {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  CHECK(last_sequence(kMax - 1, 1) == kMax);
  CHECK(last_sequence(kMax, 2) == 1);
  CHECK(last_sequence(5, 0) == 5);

  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  REQUIRE(send(*p, 7, 0, kMax - 3, 2).error == ErrorCode::NONE);  // kMax-3 .. kMax-2
  REQUIRE(send(*p, 7, 0, kMax - 1, 4).error == ErrorCode::NONE);  // kMax-1, kMax, 0, 1
  CHECK(p->producer_state(7)->last_seq() == 1);
  auto retry = send(*p, 7, 0, kMax - 1, 4);
  CHECK(retry.duplicate);
  CHECK(retry.first == 2);
  CHECK(send(*p, 7, 0, 3, 1).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  CHECK(send(*p, 7, 0, 2, 1).error == ErrorCode::NONE);
}

TEST_CASE("batches of one request are checked in order against each other") {
  ProducerStateManager m("t-0");
  m.update(header(7, 0, 0, 2));  // sequences 0..1 at offsets 0..1
  std::vector<BatchHeader> ok = {header(7, 0, 2, 3), header(7, 0, 5, 1), header(8, 0, 0, 1)};
  CHECK(m.check(ok).error == ErrorCode::NONE);
  std::vector<BatchHeader> gap = {header(7, 0, 2, 2), header(7, 0, 5, 1)};  // the second should start at 4
  CHECK(m.check(gap).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  std::vector<BatchHeader> no_sequence = {header(7, 0, -1, 1)};
  CHECK(m.check(no_sequence).error == ErrorCode::INVALID_RECORD);
  // check() decides; only update() changes the state.
  CHECK(m.producer_count() == 1);
  CHECK(m.find(7)->last_seq() == 1);
}

TEST_CASE("the producer state rebuilt from the log after a reopen is the same") {
  TempDir dir;
  std::map<int64_t, ProducerStateEntry> before;
  {
    auto p = replica(dir.path / "1", 1, alone());
    for (int32_t s = 0; s < 14; s += 2) REQUIRE(send(*p, 7, 0, s, 2).error == ErrorCode::NONE);
    REQUIRE(send(*p, 8, 2, 0, 1).error == ErrorCode::NONE);
    produce(*p, 3);
    REQUIRE(send(*p, 8, 3, 0, 4).error == ErrorCode::NONE);
    for (int64_t pid : {7, 8}) before[pid] = *p->producer_state(pid);
  }
  auto p = replica(dir.path / "1", 1, alone());
  CHECK(p->producer_count() == 2);
  for (int64_t pid : {7, 8}) {
    INFO("producer " << pid);
    REQUIRE(p->producer_state(pid));
    CHECK(*p->producer_state(pid) == before[pid]);
  }
  CHECK(before[7].batches.size() == ProducerStateManager::kBatchesToRetain);
  // A retry after the restart is still recognised.
  auto retry = send(*p, 7, 0, 10, 2);
  CHECK(retry.duplicate);
  CHECK(retry.first == 10);
}

TEST_CASE("a clean-shutdown snapshot gives the state back without the batches before it") {
  TempDir dir;
  const auto pdir = dir.path / "1";
  {
    auto p = replica(pdir, 1, alone());
    REQUIRE(send(*p, 7, 0, 0, 2).error == ErrorCode::NONE);
    REQUIRE(send(*p, 7, 0, 2, 2).error == ErrorCode::NONE);
    REQUIRE(p->write_producer_snapshot().ok());
  }
  CHECK(std::filesystem::exists(pdir / "00000000000000000004.snapshot"));
  {
    // Kafka's snapshot keeps the last batch per producer; batches after it come from the log.
    auto p = replica(pdir, 1, alone());
    auto st = p->producer_state(7);
    REQUIRE(st);
    CHECK(st->batches.size() == 1);
    CHECK(st->batches.back() == ProducerBatchMetadata{2, 3, 2, 3, 1001});
    CHECK(send(*p, 7, 0, 2, 2).duplicate);
    REQUIRE(send(*p, 7, 0, 4, 1).error == ErrorCode::NONE);
  }
  // Reopened without a new snapshot: the old one plus a scan of what follows it.
  auto p = replica(pdir, 1, alone());
  CHECK(p->producer_state(7)->last_seq() == 4);
  CHECK(p->producer_state(7)->batches.size() == 2);

  // A snapshot beyond the log end (a log cut since) is not believed, and is deleted.
  auto encoded = ProducerStateManager::encode_snapshot({{99, ProducerStateEntry{0, {{0, 0, 50, 50, 1}}}}});
  auto far = pdir / ProducerStateManager::snapshot_file_name(100);
  {
    std::ofstream out(far, std::ios::binary);
    out.write(reinterpret_cast<const char*>(encoded.data()), static_cast<std::streamsize>(encoded.size()));
  }
  p.reset();
  p = replica(pdir, 1, alone());
  CHECK_FALSE(p->producer_state(99));
  CHECK(p->producer_state(7));
  CHECK_FALSE(std::filesystem::exists(far));
}

TEST_CASE("a producer's append that rolls the log snapshots the state at the new segment's base offset") {
  TempDir dir;
  const auto pdir = dir.path / "1";
  storage::LogConfig small;
  small.segment_bytes = 300;  // a few batches per segment
  auto p = replica(pdir, 1, alone(), 0, small);
  std::vector<int64_t> rolls;
  int32_t seq = 0;
  while (rolls.size() < 3) {
    const int segments = p->log().segment_count();
    const int64_t end = p->log_end_offset().value();
    REQUIRE(send(*p, 7, 0, seq, 2).error == ErrorCode::NONE);
    seq += 2;
    if (p->log().segment_count() > segments) rolls.push_back(end);
  }
  // Only the newest is kept; it holds the state before the batch that opened the segment.
  std::vector<std::filesystem::path> snaps;
  for (const auto& e : std::filesystem::directory_iterator(pdir))
    if (e.path().extension() == ProducerStateManager::kSnapshotSuffix) snaps.push_back(e.path());
  REQUIRE(snaps.size() == 1);
  CHECK(snaps.front().filename() == ProducerStateManager::snapshot_file_name(rolls.back()));
  std::ifstream in(snaps.front(), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto state = ProducerStateManager::decode_snapshot(bytes);
  REQUIRE(state);
  REQUIRE(state->count(7));
  CHECK(state->at(7).batches.back().last_offset == rolls.back() - 1);
  // Reopened: the snapshot plus the batches after it give the whole state back.
  p.reset();
  p = replica(pdir, 1, alone(), 0, small);
  CHECK(p->producer_state(7)->last_seq() == seq - 1);
}

TEST_CASE("snapshots round-trip in Kafka's format and damaged ones are refused") {
  std::map<int64_t, ProducerStateEntry> state;
  state[5] = ProducerStateEntry{3, {{10, 14, 100, 104, 777}}};
  state[6] = ProducerStateEntry{0, {{std::numeric_limits<int32_t>::max(), 1, 7, 9, 5}}};
  auto bytes = ProducerStateManager::encode_snapshot(state);
  // version, CRC, count, then 46 bytes per producer.
  CHECK(bytes.size() == 2 + 4 + 4 + 2 * 46);
  CHECK(bytes[0] == 0);
  CHECK(bytes[1] == 1);
  auto decoded = ProducerStateManager::decode_snapshot(bytes);
  REQUIRE(decoded);
  CHECK(*decoded == state);
  bytes[20] ^= 1;
  CHECK_FALSE(ProducerStateManager::decode_snapshot(bytes));
}

TEST_CASE("a follower keeps the producer state, so a new leader answers retries with their offsets") {
  TempDir dir;
  auto leader = replica(dir.path / "1", 1, led_by(1, 1));
  auto follower = replica(dir.path / "2", 2, led_by(1, 1));
  produce(*leader, 2);
  REQUIRE(send(*leader, 7, 0, 0, 3).error == ErrorCode::NONE);
  auto b = send(*leader, 7, 0, 3, 3);
  REQUIRE(b.error == ErrorCode::NONE);
  catch_up(*leader, *follower);
  CHECK(*follower->producer_state(7) == *leader->producer_state(7));

  // The leader dies before answering; the producer retries at the new leader.
  REQUIRE(follower->become_leader(led_by(2, 2, {2}), 0));
  auto retry = send(*follower, 7, 0, 3, 3);
  CHECK(retry.error == ErrorCode::NONE);
  CHECK(retry.duplicate);
  CHECK(retry.first == b.first);
  CHECK(retry.last == b.last);
  CHECK(send(*follower, 7, 0, 7, 1).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  CHECK(send(*follower, 7, 0, 6, 1).error == ErrorCode::NONE);
}

TEST_CASE("truncation trims the producer state, and rebuilds it when it cut every retained batch") {
  TempDir dir;
  auto leader = replica(dir.path / "1", 1, led_by(1, 1));
  auto follower = replica(dir.path / "2", 2, led_by(1, 1));
  // Producer 7: batches of 2 records at offsets 0, 2, .., 12 (seq = offset).
  for (int32_t s = 0; s < 14; s += 2) REQUIRE(send(*leader, 7, 0, s, 2).error == ErrorCode::NONE);
  produce(*leader, 1);  // offset 14, no producer id
  catch_up(*leader, *follower);
  REQUIRE(follower->become_follower(led_by(1, 2)));

  REQUIRE(follower->truncate_to(Offset(12)).ok());
  auto st = follower->producer_state(7);
  REQUIRE(st);
  CHECK(st->last_seq() == 11);
  CHECK(st->last_offset() == 11);
  CHECK(st->batches.size() == 4);

  // Cutting at 4 drops all of 7's retained batches (4..11): the older ones come from the log.
  REQUIRE(follower->truncate_to(Offset(4)).ok());
  st = follower->producer_state(7);
  REQUIRE(st);
  CHECK(st->last_seq() == 3);
  CHECK(st->batches.size() == 2);

  REQUIRE(follower->truncate_fully_and_start_at(Offset(20)).ok());
  CHECK(follower->producer_count() == 0);
}

TEST_CASE("moving the log start keeps the producer state") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  REQUIRE(send(*p, 7, 0, 0, 2).error == ErrorCode::NONE);
  produce(*p, 3);
  REQUIRE(p->log().advance_log_start(Offset(5)).ok());
  CHECK(p->producer_state(7));
  CHECK(send(*p, 7, 0, 0, 2).duplicate);
  CHECK(send(*p, 7, 0, 3, 1).error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
}

TEST_CASE("producers idle for producer.id.expiration.ms are forgotten") {
  TempDir dir;
  auto p = replica(dir.path / "1", 1, alone());
  REQUIRE(send(*p, 7, 0, 0, 1, 1'000).error == ErrorCode::NONE);
  REQUIRE(send(*p, 8, 0, 0, 1, 50'000).error == ErrorCode::NONE);
  const int64_t expiration = 60'000;
  CHECK(p->remove_expired_producers(60'999, expiration) == 0);  // 7's last batch is 59.999 s old
  CHECK(p->remove_expired_producers(61'000, expiration) == 1);
  CHECK_FALSE(p->producer_state(7));
  CHECK(p->producer_state(8));
  // Forgotten: the producer is unknown now and may go on at any sequence.
  CHECK(send(*p, 7, 0, 9, 1, 70'000).error == ErrorCode::NONE);
  CHECK(p->remove_expired_producers(200'000, expiration) == 2);
  CHECK(p->producer_count() == 0);
}
