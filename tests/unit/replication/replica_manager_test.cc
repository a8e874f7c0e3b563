// The replication contract as clients see it, through ReplicaManager: append_records with its
// acks=all wait and every way that wait ends (the high watermark passes, the timeout, the
// replica stops leading, the partition goes), fetch_records with the read bound of each
// isolation and its long poll (woken by appends and high watermark moves, ended by the
// timeout or the partition's end), and ListOffsets' bound. Timeouts fire from a hand-driven
// loop (runtime::ManualLoop).
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <optional>

#include "replica_test_util.h"
#include "replication/replica_manager.h"
#include "runtime/manual_loop.h"
#include "storage/log_manager.h"

using namespace kb;
using namespace kb::replication;
using namespace kb::replication::test;

namespace {

const TopicPartition kTp{"t", 0};

// Broker 1 hosting replicas of t-0 (and others) with a hand-driven purgatory loop.
struct Broker1 {
  TempDir dir;
  std::unique_ptr<storage::LogManager> logs;
  runtime::ManualLoop loop;  // the purgatories' timeouts; outlives rm
  std::unique_ptr<ReplicaManager> rm;

  Broker1() {
    storage::LogManagerOptions o;
    o.log_dirs = {dir.path};
    auto opened = storage::LogManager::open(o);
    REQUIRE(opened.ok());
    logs = std::move(opened.value());
    rm = std::make_unique<ReplicaManager>(*logs, 1, &loop);
  }
  ~Broker1() {
    rm.reset();
    logs->shutdown();
  }

  // t-<partition> led here with the given ISR (replicas 1, 2, 3).
  std::shared_ptr<Partition> lead(std::vector<int32_t> isr = {1}, int32_t epoch = 1, int32_t partition = 0,
                                  const storage::LogConfig& config = {}) {
    auto p = rm->become_leader(TopicPartition{"t", partition}, Uuid{}, PartitionState{1, epoch, 0, {1, 2, 3}, isr},
                               config, 0);
    REQUIRE(p.ok());
    return p.value();
  }

  // Appends `batch` with `acks`; the results once answered (nullopt while waiting).
  std::shared_ptr<std::optional<std::vector<AppendResult>>> append(std::vector<uint8_t>& batch, int16_t acks,
                                                                   int64_t timeout_ms = 1000,
                                                                   const TopicPartition& tp = kTp) {
    auto out = std::make_shared<std::optional<std::vector<AppendResult>>>();
    rm->append_records({AppendEntry{tp, batch, std::nullopt}}, acks, timeout_ms, AppendOrigin::Client,
                       [out](std::vector<AppendResult> r) { *out = std::move(r); });
    return out;
  }

  std::shared_ptr<std::optional<std::vector<FetchPartitionResult>>> fetch(FetchParams params) {
    auto out = std::make_shared<std::optional<std::vector<FetchPartitionResult>>>();
    rm->fetch_records(std::move(params), [out](std::vector<FetchPartitionResult> r) { *out = std::move(r); });
    return out;
  }
};

FetchParams consumer_fetch(int64_t offset, FetchIsolation isolation = FetchIsolation::HighWatermark,
                           int64_t max_wait_ms = 0, int32_t min_bytes = 1) {
  FetchParams f;
  f.isolation = isolation;
  f.max_wait_ms = max_wait_ms;
  f.min_bytes = min_bytes;
  f.partitions.push_back({kTp, Offset(offset), -1, -1, 1 << 20});
  return f;
}

FetchParams follower_fetch(int32_t replica, int64_t offset, int64_t max_wait_ms = 0, int32_t min_bytes = 1) {
  FetchParams f;
  f.replica_id = replica;
  f.isolation = FetchIsolation::LogEnd;
  f.max_wait_ms = max_wait_ms;
  f.min_bytes = min_bytes;
  f.partitions.push_back({kTp, Offset(offset), 1, -1, 1 << 20});
  return f;
}

int64_t records_in(const FetchPartitionResult& r) { return r.slice ? r.records : 0; }

std::vector<uint8_t> txn_batch(int64_t pid, int n) {
  RecordBatchBuilder b;
  b.producer(pid, 0, 0).transactional();
  for (int i = 0; i < n; ++i) b.add("k", "t" + std::to_string(i), 1000 + i);
  return b.build();
}

}  // namespace

TEST_CASE("acks=all is answered once the followers' fetches move the high watermark past the records") {
  Broker1 b;
  auto p = b.lead({1, 2, 3});
  auto batch = batch_of(4);
  auto answer = b.append(batch, -1);
  CHECK_FALSE(answer->has_value());
  CHECK(b.rm->waiting_produces() == 1);
  CHECK(b.fetch(follower_fetch(2, 4))->has_value());  // 2 has them, 3 not yet
  CHECK_FALSE(answer->has_value());
  CHECK(b.fetch(follower_fetch(3, 4))->has_value());
  REQUIRE(answer->has_value());
  const AppendResult& r = (**answer)[0];
  CHECK(r.error == ErrorCode::NONE);
  CHECK(r.info->first_offset == Offset(0));
  CHECK(b.rm->waiting_produces() == 0);
  CHECK(b.loop.pending_timers() == 0);  // its timeout was cancelled
}

TEST_CASE("acks=all that the ISR does not follow times out with REQUEST_TIMED_OUT, its offsets kept") {
  Broker1 b;
  b.lead({1, 2});
  auto batch = batch_of(2);
  auto answer = b.append(batch, -1, 500);
  b.loop.advance(499);
  CHECK_FALSE(answer->has_value());
  b.loop.advance(1);
  REQUIRE(answer->has_value());
  CHECK((**answer)[0].error == ErrorCode::REQUEST_TIMED_OUT);
  CHECK((**answer)[0].info->first_offset == Offset(0));
  CHECK(b.rm->waiting_produces() == 0);
}

TEST_CASE("acks=all waiting on a replica that becomes follower answers NOT_LEADER_OR_FOLLOWER at once") {
  Broker1 b;
  b.lead({1, 2});
  auto batch = batch_of(2);
  auto answer = b.append(batch, -1);
  REQUIRE(b.rm->become_follower(kTp, Uuid{}, PartitionState{2, 2, 1, {1, 2, 3}, {1, 2}}, {}).ok());
  REQUIRE(answer->has_value());
  CHECK((**answer)[0].error == ErrorCode::NOT_LEADER_OR_FOLLOWER);
  CHECK(b.loop.pending_timers() == 0);
}

TEST_CASE("acks=all waiting on a partition that is deleted answers the missing-partition error at once") {
  Broker1 b;
  b.lead({1, 2});
  auto batch = batch_of(2);
  auto answer = b.append(batch, -1);
  REQUIRE(b.rm->remove(kTp, true).ok());
  REQUIRE(answer->has_value());
  CHECK((**answer)[0].error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);

  // The broker knows better from its metadata (the partition is led elsewhere now).
  b.rm->set_missing_partition_error([](const TopicPartition&) { return ErrorCode::NOT_LEADER_OR_FOLLOWER; });
  b.lead({1, 2});
  auto again = b.append(batch, -1);
  REQUIRE(b.rm->remove(kTp, false).ok());
  REQUIRE(again->has_value());
  CHECK((**again)[0].error == ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

TEST_CASE("acks=all below min.insync.replicas is refused; an ISR that shrinks while waiting answers after append") {
  Broker1 b;
  auto p = b.lead({1});
  p->set_min_insync_replicas(2);
  auto batch = batch_of(1);
  auto refused = b.append(batch, -1);
  REQUIRE(refused->has_value());
  CHECK((**refused)[0].error == ErrorCode::NOT_ENOUGH_REPLICAS);
  CHECK_FALSE((**refused)[0].info);  // nothing written
  CHECK(p->log_end_offset() == Offset(0));

  b.rm->update_state(*p, PartitionState{1, 1, 1, {1, 2, 3}, {1, 2}}, 0);
  auto batch2 = batch_of(1);
  auto answer = b.append(batch2, -1);
  CHECK_FALSE(answer->has_value());
  b.rm->update_state(*p, PartitionState{1, 1, 2, {1, 2, 3}, {1}}, 0);  // 2 leaves: HW = LEO
  REQUIRE(answer->has_value());
  CHECK((**answer)[0].error == ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
}

TEST_CASE("acks=1 and acks=0 answer at once; other acks, unknown partitions and control batches are refused") {
  Broker1 b;
  b.lead({1, 2});
  auto batch = batch_of(3);
  auto one = b.append(batch, 1);
  REQUIRE(one->has_value());
  CHECK((**one)[0].error == ErrorCode::NONE);
  auto zero = b.append(batch, 0);
  REQUIRE(zero->has_value());
  CHECK((**zero)[0].info->first_offset == Offset(3));
  auto bad = b.append(batch, 2);
  CHECK((**bad)[0].error == ErrorCode::INVALID_REQUIRED_ACKS);
  auto unknown = b.append(batch, 1, 1000, TopicPartition{"nope", 0});
  CHECK((**unknown)[0].error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);

  RecordBatchBuilder control;
  control.producer(5, 0, -1).transactional().control();
  control.add("k", "v", 1000);
  auto marker = control.build();
  auto refused = b.append(marker, 1);
  CHECK((**refused)[0].error == ErrorCode::INVALID_RECORD);
  auto corrupt = batch_of(1);
  corrupt.back() ^= 0xff;  // a record byte: the CRC no longer matches
  CHECK((**b.append(corrupt, 1))[0].error == ErrorCode::CORRUPT_MESSAGE);
  CHECK(b.rm->topic_stats().at("t")->failed_produce == 3);  // acks=2, control, corrupt ("nope" has none)
  CHECK(b.rm->topic_stats().at("t")->records_in == 6);
}

TEST_CASE("clients may not write internal topics nor transactional batches without a producer id") {
  Broker1 b;
  const TopicPartition offsets{"__consumer_offsets", 0};
  REQUIRE(b.rm->become_leader(offsets, Uuid{}, PartitionState{1, 1, 0, {1}, {1}}, {}, 0).ok());
  auto batch = batch_of(1);
  auto client = b.append(batch, 1, 1000, offsets);
  CHECK((**client)[0].error == ErrorCode::INVALID_TOPIC_EXCEPTION);
  CHECK(b.rm->get(offsets)->log_end_offset() == Offset(0));
  // The group coordinator's own appends go in.
  std::optional<std::vector<AppendResult>> coordinator;
  b.rm->append_records({AppendEntry{offsets, batch, std::nullopt}}, 1, 1000, AppendOrigin::Coordinator,
                       [&](auto r) { coordinator = std::move(r); });
  CHECK(coordinator->front().error == ErrorCode::NONE);

  b.lead();
  RecordBatchBuilder orphan;  // the transactional bit, producer id -1
  orphan.transactional();
  orphan.add("k", "v", 1000);
  auto bytes = orphan.build();
  CHECK((**b.append(bytes, 1))[0].error == ErrorCode::INVALID_RECORD);
  CHECK(b.rm->get(kTp)->log_end_offset() == Offset(0));
}

TEST_CASE("with transaction verification on, a transactional batch opens a transaction only with its guard") {
  Broker1 b;
  b.lead();
  b.rm->set_transaction_verification(true);
  auto first = txn_batch(7, 1);
  CHECK((**b.append(first, 1))[0].error == ErrorCode::INVALID_TXN_STATE);
  CHECK(b.rm->start_transaction_verification(TopicPartition{"nope", 0}, 7).code() ==
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  const uint64_t guard = b.rm->start_transaction_verification(kTp, 7).value();
  std::optional<std::vector<AppendResult>> out;
  AppendEntry entry{kTp, first, std::nullopt};
  entry.verification_guard = guard;
  b.rm->append_records({entry}, 1, 1000, AppendOrigin::Client, [&](auto r) { out = std::move(r); });
  CHECK(out->front().error == ErrorCode::NONE);
  CHECK(b.rm->get(kTp)->ongoing_txn_count() == 1);
  CHECK(b.rm->start_transaction_verification(kTp, 7).value() == 0);  // open: nothing to verify
}

TEST_CASE("a conditional append goes in only at its expected log end, else OFFSET_OUT_OF_RANGE with the end") {
  Broker1 b;
  b.lead();
  auto conditional = [&](int64_t expected_end) {
    auto batch = batch_of(2);
    std::optional<std::vector<AppendResult>> out;
    b.rm->append_records({AppendEntry{kTp, batch, std::nullopt, expected_end}}, 1, 1000, AppendOrigin::Client,
                         [&out](std::vector<AppendResult> r) { out = std::move(r); });
    REQUIRE(out.has_value());
    return out->front();
  };
  auto first = conditional(0);
  CHECK(first.error == ErrorCode::NONE);
  CHECK(first.info->first_offset == Offset(0));
  auto stale = conditional(0);  // the log ends at 2 now: nothing is written
  CHECK(stale.error == ErrorCode::OFFSET_OUT_OF_RANGE);
  CHECK(stale.log_end_offset == Offset(2));
  CHECK_FALSE(stale.info.has_value());
  auto next = conditional(2);
  CHECK(next.error == ErrorCode::NONE);
  CHECK(next.info->first_offset == Offset(2));
}

TEST_CASE("a consumer reads to the high watermark, read_committed to the last stable offset, a follower to the log end") {
  Broker1 b;
  auto p = b.lead({1, 2});
  auto plain = batch_of(3);  // 0..2
  b.append(plain, 1);
  auto txn = txn_batch(7, 2);  // 3..4, open
  b.append(txn, 1);
  auto more = batch_of(1);  // 5
  b.append(more, 1);

  auto follower = b.fetch(follower_fetch(2, 0));
  REQUIRE(follower->has_value());
  CHECK(records_in((**follower)[0]) == 6);  // the log end: nothing committed yet
  CHECK((**follower)[0].high_watermark == Offset(0));

  auto consumer = b.fetch(consumer_fetch(0));
  CHECK((**consumer)[0].error == ErrorCode::NONE);
  CHECK(records_in((**consumer)[0]) == 0);  // HW 0

  b.fetch(follower_fetch(2, 6));  // 2 has everything: HW 6
  REQUIRE(p->high_watermark() == Offset(6));
  consumer = b.fetch(consumer_fetch(0));
  CHECK(records_in((**consumer)[0]) == 6);
  CHECK((**consumer)[0].last_stable_offset == Offset(3));
  CHECK_FALSE((**consumer)[0].aborted);
  auto committed = b.fetch(consumer_fetch(0, FetchIsolation::TxnCommitted));
  CHECK(records_in((**committed)[0]) == 3);  // stops before the open transaction
  CHECK((**committed)[0].aborted->empty());

  // The transaction aborts: read_committed sees everything, with the aborted range to drop.
  std::vector<AppendEntry> entries{{kTp, {}, AppendEntry::TxnMarker{7, 0, 0, false}}};
  std::optional<std::vector<AppendResult>> marker;
  b.rm->append_records(entries, 1, 1000, AppendOrigin::Coordinator, [&](auto r) { marker = std::move(r); });
  REQUIRE(marker);
  CHECK((*marker)[0].error == ErrorCode::NONE);
  b.fetch(follower_fetch(2, 7));
  committed = b.fetch(consumer_fetch(0, FetchIsolation::TxnCommitted));
  CHECK((**committed)[0].last_stable_offset == Offset(7));
  REQUIRE((**committed)[0].aborted->size() == 1);
  CHECK((**committed)[0].aborted->at(0).producer_id == 7);
  CHECK((**committed)[0].aborted->at(0).first_offset == 3);
  CHECK(b.rm->fetch_offset_for_timestamp(kTp, ReplicaManager::kLatestTimestamp, FetchIsolation::TxnCommitted, -1)
            .offset == 7);
}

TEST_CASE("ListOffsets never names an offset past the read bound") {
  Broker1 b;
  b.lead({1, 2});
  auto batch = batch_of(4);
  b.append(batch, 1);
  CHECK(b.rm->fetch_offset_for_timestamp(kTp, ReplicaManager::kLatestTimestamp, FetchIsolation::HighWatermark, -1)
            .offset == 0);
  CHECK(b.rm->fetch_offset_for_timestamp(kTp, 1000, FetchIsolation::HighWatermark, -1).offset == -1);
  b.fetch(follower_fetch(2, 4));
  CHECK(b.rm->fetch_offset_for_timestamp(kTp, 1000, FetchIsolation::HighWatermark, -1).offset == 0);
  CHECK(b.rm->fetch_offset_for_timestamp(kTp, ReplicaManager::kLatestTimestamp, FetchIsolation::HighWatermark, 0)
            .error == ErrorCode::FENCED_LEADER_EPOCH);
}

TEST_CASE("a long-polling consumer is woken by an append, not by its timeout") {
  Broker1 b;
  b.lead({1});
  auto waiting = b.fetch(consumer_fetch(0, FetchIsolation::HighWatermark, 500));
  CHECK_FALSE(waiting->has_value());
  CHECK(b.rm->waiting_fetches() == 1);
  auto batch = batch_of(2);
  b.append(batch, 1);
  REQUIRE(waiting->has_value());
  CHECK(records_in((**waiting)[0]) == 2);
  CHECK(b.rm->waiting_fetches() == 0);
  CHECK(b.loop.pending_timers() == 0);
}

TEST_CASE("a long poll without enough data answers at max.wait.ms with what there is") {
  Broker1 b;
  b.lead({1});
  auto batch = batch_of(1);
  b.append(batch, 1);
  auto waiting = b.fetch(consumer_fetch(0, FetchIsolation::HighWatermark, 300, 1 << 20));
  CHECK_FALSE(waiting->has_value());
  b.append(batch, 1);  // still below min.bytes
  CHECK_FALSE(waiting->has_value());
  b.loop.advance(300);
  REQUIRE(waiting->has_value());
  CHECK(records_in((**waiting)[0]) == 2);
  CHECK(b.rm->waiting_fetches() == 0);
}

TEST_CASE("a long poll ends when its partition is deleted or its replica stops leading") {
  Broker1 b;
  b.lead({1}, 1, 0);
  b.lead({1}, 1, 1);
  auto on_deleted = b.fetch(consumer_fetch(0, FetchIsolation::HighWatermark, 500));
  REQUIRE(b.rm->remove(kTp, true).ok());
  REQUIRE(on_deleted->has_value());
  CHECK((**on_deleted)[0].error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);

  FetchParams f = consumer_fetch(0, FetchIsolation::HighWatermark, 500);
  f.partitions[0].tp = TopicPartition{"t", 1};
  auto on_moved = b.fetch(f);
  CHECK_FALSE(on_moved->has_value());
  REQUIRE(b.rm->become_follower(TopicPartition{"t", 1}, Uuid{}, PartitionState{3, 2, 1, {1, 2, 3}, {1, 3}}, {}).ok());
  REQUIRE(on_moved->has_value());
  CHECK((**on_moved)[0].error == ErrorCode::NOT_LEADER_OR_FOLLOWER);
  CHECK((**on_moved)[0].leader_id == 3);  // where the consumer goes now
  CHECK((**on_moved)[0].leader_epoch == 2);
  CHECK(b.loop.pending_timers() == 0);
}

TEST_CASE("a waiting follower fetch answers when the high watermark moves, so followers learn it at once") {
  Broker1 b;
  b.lead({1, 2, 3});
  auto batch = batch_of(3);
  b.append(batch, 1);
  b.fetch(follower_fetch(2, 3));
  auto waiting = b.fetch(follower_fetch(2, 3, 500));  // up to date: waits
  CHECK_FALSE(waiting->has_value());
  b.fetch(follower_fetch(3, 3));  // 3 catches up: HW 3
  REQUIRE(waiting->has_value());
  CHECK((**waiting)[0].high_watermark == Offset(3));
}

TEST_CASE("a topic's traffic counters are shared by its replicas and go with the last one") {
  Broker1 b;
  b.lead({1}, 1, 0);
  b.lead({1}, 1, 1);
  auto batch = batch_of(2);
  b.append(batch, 1, 1000, TopicPartition{"t", 0});
  b.append(batch, 1, 1000, TopicPartition{"t", 1});
  auto stats = b.rm->topic_stats();
  REQUIRE(stats.count("t"));
  CHECK(stats.at("t")->records_in == 4);
  CHECK(stats.at("t")->bytes_in == 2 * batch.size());
  REQUIRE(b.rm->remove(TopicPartition{"t", 0}, true).ok());
  CHECK(b.rm->topic_stats().count("t"));
  REQUIRE(b.rm->remove(TopicPartition{"t", 1}, true).ok());
  CHECK_FALSE(b.rm->topic_stats().count("t"));
}

TEST_CASE("shutdown completes waiting fetches and produces") {
  Broker1 b;
  b.lead({1, 2});
  auto batch = batch_of(1);
  auto produce = b.append(batch, -1);
  auto fetch = b.fetch(consumer_fetch(0, FetchIsolation::HighWatermark, 500));
  b.rm->complete_delayed_operations();
  REQUIRE(produce->has_value());
  CHECK((**produce)[0].error == ErrorCode::REQUEST_TIMED_OUT);
  REQUIRE(fetch->has_value());
  CHECK((**fetch)[0].error == ErrorCode::NONE);
}

TEST_CASE("on its own purgatory thread, an acks=all produce the ISR does not follow times out") {
  TempDir dir;
  storage::LogManagerOptions o;
  o.log_dirs = {dir.path};
  auto logs = storage::LogManager::open(o);
  REQUIRE(logs.ok());
  {
    ReplicaManager rm(*logs.value(), 1);  // no loop given: kb-purgatory of its own
    REQUIRE(rm.become_leader(kTp, Uuid{}, PartitionState{1, 1, 0, {1, 2}, {1, 2}}, {}, 0).ok());
    auto batch = batch_of(1);
    std::promise<ErrorCode> answered;
    rm.append_records({AppendEntry{kTp, batch, std::nullopt}}, -1, 1, AppendOrigin::Client,
                      [&](std::vector<AppendResult> r) { answered.set_value(r[0].error); });
    auto f = answered.get_future();
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    CHECK(f.get() == ErrorCode::REQUEST_TIMED_OUT);
  }
  logs.value()->shutdown();
}
