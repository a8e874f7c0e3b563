// Log compaction: the newest record per key survives at its offset, tombstones and
// transaction markers go after delete.retention.ms, aborted transactions go, the active
// segment and young records stay, and an interrupted swap is finished on open.
#include "storage/cleaner.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <thread>

#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "storage/files.h"
#include "storage/log.h"
#include "storage/segment.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;  // the injected clock's start

struct Rec {
  int64_t offset;
  std::optional<std::string> key, value;
  int64_t timestamp;
};
struct StoredBatch {
  BatchHeader h;
  std::vector<Rec> recs;
};

// Every batch of the log, records decoded (compressed ones too), CRCs checked.
std::vector<StoredBatch> read_all(const Log& log) {
  std::vector<StoredBatch> out;
  auto st = log.for_each_batch(log.log_start_offset(), log.log_end_offset(),
                               [&](std::span<const uint8_t> b, const BatchHeader& h) {
                                 std::vector<uint8_t> plain(b.begin(), b.end());
                                 if (h.compression() != 0) {
                                   auto r = recompress_batch(b, 0);
                                   REQUIRE(r.ok());
                                   plain = std::move(r.value());
                                 }
                                 StoredBatch sb{h, {}};
                                 auto walked = for_each_record(plain, [&](const RecordView& r) {
                                   Rec rec{r.offset, std::nullopt, std::nullopt, r.timestamp};
                                   if (r.key) rec.key = std::string(*r.key);
                                   if (r.value) rec.value = std::string(*r.value);
                                   sb.recs.push_back(rec);
                                 });
                                 REQUIRE(walked.ok());
                                 out.push_back(std::move(sb));
                                 return Status{};
                               });
  INFO((st.ok() ? std::string() : st.error().message));
  REQUIRE(st.ok());
  return out;
}

std::vector<Rec> records_of(const Log& log) {
  std::vector<Rec> out;
  for (const auto& b : read_all(log)) out.insert(out.end(), b.recs.begin(), b.recs.end());
  return out;
}

std::vector<int64_t> offsets_of(const Log& log) {
  std::vector<int64_t> out;
  for (const auto& r : records_of(log)) out.push_back(r.offset);
  return out;
}

int64_t put(Log& log, std::optional<std::string_view> key, std::optional<std::string_view> value,
            int64_t ts) {
  auto b = RecordBatchBuilder().add(key, value, ts).build();
  auto r = log.append(b, 0);
  REQUIRE(r.ok());
  return r->first_offset.value();
}

int64_t put_batch(Log& log, std::vector<uint8_t> b) {
  auto r = log.append(b, 0);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return r->first_offset.value();
}

// A transaction marker (control batch): key = version 0, type (0 ABORT, 1 COMMIT); value =
// version 0, coordinator epoch.
std::vector<uint8_t> marker(int64_t pid, bool commit, int64_t ts) {
  uint8_t key[4], value[6];
  wire::store_be16(key, 0);
  wire::store_be16(key + 2, commit ? 1 : 0);
  wire::store_be16(value, 0);
  wire::store_be32(value + 2, 0);
  return RecordBatchBuilder()
      .producer(pid, 0, -1)
      .transactional()
      .control()
      .add(std::string_view(reinterpret_cast<const char*>(key), 4),
           std::string_view(reinterpret_cast<const char*>(value), 6), ts)
      .build();
}

std::vector<uint8_t> txn_data(int64_t pid, int32_t seq, const std::string& key, const std::string& value,
                              int64_t ts) {
  return RecordBatchBuilder().producer(pid, 0, seq).transactional().add(key, value, ts).build();
}

LogConfig compact_config() {
  LogConfig c;
  c.compact = true;
  c.segment_bytes = 1;  // every batch rolls a new segment: the tests place segment ends exactly
  c.delete_retention_ms = 1000;
  return c;
}

LogCleaner::Target target(const std::string& topic, const fs::path& log_dir, std::shared_ptr<Log> log) {
  LogCleaner::Target t;
  t.tp.topic = topic;
  t.tp.partition = 0;
  t.log_dir = log_dir;
  t.log = std::move(log);
  return t;
}

struct Clock {
  int64_t now = T0;
  std::function<int64_t()> fn() {
    return [this] { return now; };
  }
};

std::map<std::string, std::pair<int64_t, std::optional<std::string>>> latest_by_key(
    const std::vector<Rec>& recs) {
  std::map<std::string, std::pair<int64_t, std::optional<std::string>>> m;
  for (const auto& r : recs)
    if (r.key) m[*r.key] = {r.offset, r.value};
  return m;
}

}  // namespace

TEST_CASE("compaction keeps the newest value of each key at its offset") {
  TempDir t;
  Clock clock;
  auto log = open_log(t.path / "c-0", compact_config());
  put(*log, "k0", "a", T0);  // 0
  put(*log, "k1", "a", T0);  // 1
  put(*log, "k0", "b", T0);  // 2
  put(*log, "k2", "a", T0);  // 3
  put(*log, "k1", "b", T0);  // 4
  put(*log, "k0", "c", T0);  // 5
  put(*log, "k0", "d", T0);  // 6: the active segment
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  REQUIRE(st.ok());
  CHECK(st->end == 6);
  CHECK(st->records_removed == 3);
  auto recs = records_of(*log);
  REQUIRE(offsets_of(*log) == std::vector<int64_t>{3, 4, 5, 6});
  CHECK(recs[0].key == "k2");
  CHECK(recs[1].value == "b");
  CHECK(recs[2].value == "c");
  CHECK(recs[3].value == "d");
  CHECK(log->log_start_offset() == Offset(0));
  CHECK(log->log_end_offset() == Offset(7));
  // A consumer at offset 0 gets the first record left.
  CHECK(read_offsets(*log, 0, 7).front() == 3);
  // Appends go on at the same log end, and a reopened log (clean or recovered) is the same.
  CHECK(put(*log, "k3", "a", T0) == 7);
  log->close();
  for (bool recover : {false, true}) {
    auto again = open_log(t.path / "c-0", compact_config(), recover);
    CHECK(offsets_of(*again) == std::vector<int64_t>{3, 4, 5, 6, 7});
    CHECK(again->log_end_offset() == Offset(8));
    again->close();
  }
  CHECK(files_with_extension(t.path / "c-0", ".cleaned").empty());
  CHECK(files_with_extension(t.path / "c-0", ".swap").empty());
}

TEST_CASE(
    "a second pass with newer records removes the values they replace; clean records are not remapped") {
  TempDir t;
  Clock clock;
  auto log = open_log(t.path / "c-0", compact_config());
  for (int i = 0; i < 10; ++i) put(*log, "k" + std::to_string(i % 3), "v" + std::to_string(i), T0);  // 0..9
  Cleaner cleaner(1 << 20, clock.fn());
  auto first = cleaner.clean(*log, 0);
  REQUIRE(first.ok());
  CHECK(first->end == 9);
  CHECK(offsets_of(*log) == std::vector<int64_t>{6, 7, 8, 9});
  put(*log, "k1", "new", T0);  // 10; 9 becomes sealed
  put(*log, "k9", "x", T0);    // 11, active
  auto second = cleaner.clean(*log, first->end);
  REQUIRE(second.ok());
  CHECK(second->end == 11);
  auto latest = latest_by_key(records_of(*log));
  CHECK(offsets_of(*log) == std::vector<int64_t>{8, 9, 10, 11});
  CHECK(latest["k1"].second == "new");
}

TEST_CASE("tombstones stay until delete.retention.ms after the pass that first saw them") {
  TempDir t;
  Clock clock;
  auto log = open_log(t.path / "c-0", compact_config());
  put(*log, "k0", "a", T0 - 10);          // 0
  put(*log, "k0", std::nullopt, T0 - 5);  // 1: tombstone
  put(*log, "k1", "a", T0);               // 2
  put(*log, "k2", "a", T0);               // 3: active
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  REQUIRE(st.ok());
  CHECK(offsets_of(*log) == std::vector<int64_t>{1, 2, 3});
  // The tombstone's batch now carries its delete horizon (Kafka's attribute bit 6 and base
  // timestamp); the record keeps its own timestamp.
  auto batches = read_all(*log);
  REQUIRE(batches[0].h.base_offset == 1);
  CHECK((batches[0].h.attributes & batch::kDeleteHorizonMask) != 0);
  CHECK(batches[0].h.base_timestamp == T0 + 1000);
  CHECK(batches[0].recs[0].timestamp == T0 - 5);
  CHECK(!batches[0].recs[0].value);
  CHECK(st->next_delete_horizon == T0 + 1000);

  clock.now = T0 + 999;
  REQUIRE(cleaner.clean(*log, st->end).ok());
  CHECK(offsets_of(*log) == std::vector<int64_t>{1, 2, 3});

  clock.now = T0 + 1000;
  auto later = cleaner.clean(*log, st->end);
  REQUIRE(later.ok());
  CHECK(offsets_of(*log) == std::vector<int64_t>{2, 3});
  CHECK(later->next_delete_horizon == -1);
}

TEST_CASE("compressed batches are filtered and compressed again with their codec") {
  for (int codec : {1, 2, 3, 4}) {
    DYNAMIC_SECTION("codec " << codec) {
      TempDir t;
      Clock clock;
      auto log = open_log(t.path / "c-0", compact_config());
      auto a =
          RecordBatchBuilder().add("k0", "a0", T0).add("k1", "a1", T0 + 1).add("k2", "a2", T0 + 2).build();
      auto b = RecordBatchBuilder().add("k0", "b0", T0 + 3).add("k1", std::nullopt, T0 + 4).build();
      put_batch(*log, recompress_batch(a, codec).value());  // 0..2
      put_batch(*log, recompress_batch(b, codec).value());  // 3..4
      put(*log, "k9", "x", T0);                             // 5: active
      Cleaner cleaner(1 << 20, clock.fn());
      REQUIRE(cleaner.clean(*log, 0).ok());
      auto batches = read_all(*log);
      REQUIRE(batches.size() == 3);
      // The first batch keeps only k2, at offset 2, but still spans 0..2.
      CHECK(batches[0].h.compression() == codec);
      CHECK(batches[0].h.base_offset == 0);
      CHECK(batches[0].h.last_offset() == 2);
      CHECK(batches[0].h.records_count == 1);
      REQUIRE(batches[0].recs.size() == 1);
      CHECK(batches[0].recs[0].offset == 2);
      CHECK(batches[0].recs[0].value == "a2");
      CHECK(batches[0].recs[0].timestamp == T0 + 2);
      CHECK(batches[0].h.max_timestamp == T0 + 2);
      CHECK(batches[1].h.compression() == codec);
      CHECK(batches[1].recs.size() == 2);  // b0 and the tombstone (horizon set now)
      CHECK(batches[1].recs[1].timestamp == T0 + 4);
      CHECK(offsets_of(*log) == std::vector<int64_t>{2, 3, 4, 5});
    }
  }
}

TEST_CASE("the active segment is never cleaned") {
  TempDir t;
  Clock clock;
  LogConfig c = compact_config();
  c.segment_bytes = 1 << 20;  // one segment: the active one
  auto log = open_log(t.path / "c-0", c);
  for (int i = 0; i < 5; ++i) put(*log, "k", std::to_string(i), T0);
  auto before = read_bytes(*log->read(Offset(0), 1 << 20, Offset(5), true)->slice);
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  REQUIRE(st.ok());
  CHECK(st->segments_rewritten == 0);
  CHECK(st->end == 0);
  CHECK(read_bytes(*log->read(Offset(0), 1 << 20, Offset(5), true)->slice) == before);
}

TEST_CASE("segments holding records younger than min.compaction.lag.ms are not cleaned") {
  TempDir t;
  Clock clock;
  LogConfig c = compact_config();
  c.min_compaction_lag_ms = 10000;
  auto log = open_log(t.path / "c-0", c);
  put(*log, "k0", "old0", T0 - 20000);  // 0
  put(*log, "k0", "old1", T0 - 20000);  // 1
  put(*log, "k0", "new0", T0 - 5000);   // 2: too young
  put(*log, "k0", "new1", T0 - 5000);   // 3
  put(*log, "k1", "x", T0);             // 4: active
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  REQUIRE(st.ok());
  CHECK(st->end == 2);
  CHECK(offsets_of(*log) == std::vector<int64_t>{1, 2, 3, 4});
  // Once old enough they are cleaned too.
  clock.now = T0 + 10000;
  auto next = cleaner.clean(*log, st->end);
  REQUIRE(next.ok());
  CHECK(offsets_of(*log) == std::vector<int64_t>{3, 4});
}

TEST_CASE(
    "data of aborted transactions is dropped; markers stay until their transaction is empty and "
    "delete.retention.ms passed") {
  TempDir t;
  Clock clock;
  auto log = open_log(t.path / "c-0", compact_config());
  put_batch(*log, txn_data(7, 0, "a", "aborted0", T0));   // 0
  put_batch(*log, txn_data(7, 1, "b", "aborted1", T0));   // 1
  put_batch(*log, marker(7, false, T0));                  // 2: ABORT
  put_batch(*log, txn_data(8, 0, "c", "committed", T0));  // 3
  put_batch(*log, marker(8, true, T0));                   // 4: COMMIT
  put(*log, "d", "plain", T0);                            // 5
  put(*log, "z", "active", T0);                           // 6: active
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  REQUIRE(st.ok());
  auto batches = read_all(*log);
  // Offset 1 was producer 7's last data batch: its header stays, empty, for the producer state.
  REQUIRE(batches.size() == 6);
  CHECK(batches[0].h.base_offset == 1);
  CHECK(batches[0].h.records_count == 0);
  CHECK(batches[0].h.producer_id == 7);
  CHECK(batches[0].h.base_sequence == 1);
  CHECK(batches[0].h.last_offset() == 1);
  CHECK(batches[0].h.is_transactional());
  // The ABORT marker of the now empty transaction stays for now, with a delete horizon.
  CHECK(batches[1].h.base_offset == 2);
  CHECK(batches[1].h.is_control());
  CHECK((batches[1].h.attributes & batch::kDeleteHorizonMask) != 0);
  // Committed data and its marker stay (the marker without a horizon: data remains).
  CHECK(batches[2].recs[0].value == "committed");
  CHECK(batches[3].h.is_control());
  CHECK((batches[3].h.attributes & batch::kDeleteHorizonMask) == 0);
  for (const auto& r : records_of(*log)) CHECK(r.value != "aborted0");

  // After delete.retention.ms the ABORT marker goes; the COMMIT marker stays with its data.
  clock.now = T0 + 1000;
  REQUIRE(cleaner.clean(*log, st->end).ok());
  batches = read_all(*log);
  REQUIRE(batches.size() == 5);
  CHECK(batches[1].h.base_offset == 3);
  CHECK(batches[2].h.base_offset == 4);

  // A newer value of "c" empties the committed transaction: its marker gets a horizon and
  // goes one delete.retention.ms later.
  put(*log, "c", "newer", T0);   // 7 (6 is sealed now)
  put(*log, "y", "active", T0);  // 8
  auto p2 = cleaner.clean(*log, st->end);
  REQUIRE(p2.ok());
  batches = read_all(*log);
  bool marker_with_horizon = false;
  for (const auto& b : batches)
    if (b.h.base_offset == 4) marker_with_horizon = (b.h.attributes & batch::kDeleteHorizonMask) != 0;
  CHECK(marker_with_horizon);
  clock.now = T0 + 3000;
  REQUIRE(cleaner.clean(*log, p2->end).ok());
  for (const auto& b : read_all(*log)) CHECK(b.h.base_offset != 4);
}

TEST_CASE("a cleaned segment keeps its aborted-transaction index until the ABORT marker goes") {
  TempDir t;
  Clock clock;
  auto log = open_log(t.path / "c-0", compact_config());
  put_batch(*log, txn_data(7, 0, "a", "aborted0", T0));  // 0
  put_batch(*log, marker(7, false, T0));                 // 1: ABORT, in its own segment
  REQUIRE(log->append_aborted_txn({7, 0, 1, 2}).ok());
  put(*log, "d", "plain", T0);   // 2
  put(*log, "z", "active", T0);  // 3: active
  const fs::path index = t.path / "c-0" / "00000000000000000001.txnindex";
  REQUIRE(fs::exists(index));
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  REQUIRE(st.ok());
  // The marker stays (with a delete horizon) and so does its entry, swapped in with the copy.
  CHECK(log->collect_aborted_txns(Offset(0), Offset(4)) == std::vector<AbortedTxn>{{7, 0, 1, 2}});
  CHECK(fs::exists(index));
  for (const auto& e : fs::directory_iterator(t.path / "c-0"))
    CHECK_FALSE(e.path().string().ends_with(".cleaned"));
  // The marker goes after delete.retention.ms, and its entry with it (a consumer told of it
  // would wait for the marker and drop the producer's later records), also after a reopen.
  clock.now = T0 + 1000;
  REQUIRE(cleaner.clean(*log, st->end).ok());
  for (const auto& b : read_all(*log)) CHECK(b.h.base_offset != 1);
  CHECK(log->collect_aborted_txns(Offset(0), Offset(4)).empty());
  log.reset();
  log = open_log(t.path / "c-0", compact_config());
  CHECK(log->collect_aborted_txns(Offset(0), Offset(4)).empty());
}

TEST_CASE("nothing from the first offset of an open transaction on is cleaned") {
  TempDir t;
  Clock clock;
  auto log = open_log(t.path / "c-0", compact_config());
  put(*log, "k", "a", T0);                           // 0
  put_batch(*log, txn_data(9, 0, "x", "open", T0));  // 1: no marker yet
  put(*log, "k", "b", T0);                           // 2
  put(*log, "k", "c", T0);                           // 3: active
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  REQUIRE(st.ok());
  CHECK(st->end == 1);
  CHECK(offsets_of(*log) == std::vector<int64_t>{0, 1, 2, 3});
}

TEST_CASE("a swap interrupted by a crash is completed on open, an unstarted one discarded") {
  TempDir t;
  Clock clock;
  fs::path a = t.path / "c-0", b = t.path / "copy" / "c-0";
  {
    auto log = open_log(a, compact_config());
    for (int i = 0; i < 6; ++i) put(*log, "k" + std::to_string(i % 2), "v" + std::to_string(i), T0);
    log->close();
  }
  fs::create_directories(b.parent_path());
  fs::copy(a, b, fs::copy_options::recursive);
  std::vector<int64_t> cleaned_offsets;
  {
    auto log = open_log(b, compact_config());
    Cleaner cleaner(1 << 20, clock.fn());
    REQUIRE(cleaner.clean(*log, 0).ok());
    cleaned_offsets = offsets_of(*log);
    log->close();
  }
  REQUIRE(cleaned_offsets == std::vector<int64_t>{3, 4, 5});
  auto name = [](int64_t base, const char* ext) { return segment_file_name(base, ext); };

  SECTION("a .swap left behind: the copy replaces the old segment") {
    // Segment 0 mid-swap: its index already renamed over, the .log still a .swap; segment 1
    // before any rename over the old files.
    fs::copy_file(b / name(0, ".log"), a / (name(0, ".log") + ".swap"));
    fs::copy_file(b / name(0, ".index"), a / name(0, ".index"), fs::copy_options::overwrite_existing);
    for (const char* ext : {".log", ".index", ".timeindex"})
      fs::copy_file(b / name(1, ext), a / (name(1, ext) + ".swap"));
    auto log = open_log(a, compact_config(), true);
    auto offs = offsets_of(*log);
    CHECK(std::find(offs.begin(), offs.end(), 0) == offs.end());
    CHECK(std::find(offs.begin(), offs.end(), 1) == offs.end());
    CHECK(offs.back() == 5);
    CHECK(files_with_extension(a, ".swap").empty());
  }
  SECTION("only .cleaned files and index .swap files: the old segment stays") {
    for (const char* ext : {".log", ".timeindex"})
      fs::copy_file(b / name(0, ext), a / (name(0, ext) + ".cleaned"));
    fs::copy_file(b / name(0, ".index"), a / (name(0, ".index") + ".swap"));
    auto log = open_log(a, compact_config(), true);
    CHECK(offsets_of(*log) == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
    CHECK(files_with_extension(a, ".swap").empty());
    CHECK(files_with_extension(a, ".cleaned").empty());
  }
}

TEST_CASE("the cleaner checkpoint is Kafka's offset checkpoint file and survives a restart") {
  TempDir t;
  std::map<TopicPartition, int64_t> points{{{"a", 0}, 5}, {{"b-c", 12}, 0}};
  REQUIRE(write_file_atomically(t.path / kCleanerCheckpointFile, format_offset_checkpoint(points)).ok());
  auto read = read_offset_checkpoint(t.path / kCleanerCheckpointFile);
  REQUIRE(read.ok());
  CHECK(*read == points);
  std::ifstream f(t.path / kCleanerCheckpointFile);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(text == "0\n2\na 0 5\nb-c 12 0\n");

  // The LogCleaner writes where each log's dirty section starts, and reads it back.
  Clock clock;
  std::shared_ptr<Log> log = open_log(t.path / "c-0", compact_config());
  for (int i = 0; i < 4; ++i) put(*log, "k", std::to_string(i), T0);
  TopicPartition tp{"c", 0};
  auto targets = [&] { return std::vector<LogCleaner::Target>{target("c", t.path, log)}; };
  {
    LogCleaner cleaner(CleanerOptions{.clock = clock.fn()}, targets);
    CHECK(cleaner.clean_filthiest());
    CHECK(cleaner.checkpoint_of(tp, t.path) == 3);
    CHECK(cleaner.runs() == 1);
    // Nothing dirty left: no second pass.
    CHECK_FALSE(cleaner.clean_filthiest());
  }
  LogCleaner restarted(CleanerOptions{.clock = clock.fn()}, targets);
  CHECK(restarted.checkpoint_of(tp, t.path) == 3);
  CHECK(read_offset_checkpoint(t.path / kCleanerCheckpointFile)->at(tp) == 3);
  restarted.forget(tp, t.path);
  CHECK(!restarted.checkpoint_of(tp, t.path));
}

TEST_CASE(
    "the log cleaner picks only compacted logs over min.cleanable.dirty.ratio, and comes back for "
    "expired tombstones") {
  TempDir t;
  Clock clock;
  LogConfig del;
  del.segment_bytes = 1;
  std::shared_ptr<Log> plain = open_log(t.path / "d-0", del);
  LogConfig c = compact_config();
  c.min_cleanable_dirty_ratio = 0.9;
  std::shared_ptr<Log> compacted = open_log(t.path / "c-0", c);
  for (int i = 0; i < 4; ++i) {
    put(*plain, "k", std::to_string(i), T0);
    put(*compacted, "k", std::to_string(i), T0);
  }
  auto targets = [&] {
    return std::vector<LogCleaner::Target>{target("d", t.path, plain), target("c", t.path, compacted)};
  };
  LogCleaner cleaner(CleanerOptions{.clock = clock.fn()}, targets);
  REQUIRE(cleaner.clean_filthiest());  // all dirty: ratio 1
  CHECK(offsets_of(*compacted) == std::vector<int64_t>{2, 3});
  CHECK(offsets_of(*plain) == std::vector<int64_t>{0, 1, 2, 3});
  // Two dirty segments against one clean one: 0.67 < 0.9.
  put(*compacted, "k", std::nullopt, T0);  // 4: tombstone; 3 is dirty now
  put(*compacted, "j", "x", T0);           // 5
  CHECK(offsets_of(*compacted) == std::vector<int64_t>{2, 3, 4, 5});
  CHECK_FALSE(cleaner.clean_filthiest());
  compacted->set_config([&] {
    LogConfig lower = c;
    lower.min_cleanable_dirty_ratio = 0.1;
    return lower;
  }());
  REQUIRE(cleaner.clean_filthiest());
  CHECK(offsets_of(*compacted) == std::vector<int64_t>{4, 5});  // the tombstone waits
  CHECK_FALSE(cleaner.clean_filthiest());
  clock.now = T0 + 1000;  // its delete horizon: a pass without any dirty data removes it
  REQUIRE(cleaner.clean_filthiest());
  CHECK(offsets_of(*compacted) == std::vector<int64_t>{5});
}

TEST_CASE("the cleaner's workers clean by themselves, and a new log.cleaner.backoff.ms wakes a sleeping one") {
  TempDir t;
  Clock clock;
  LogConfig c = compact_config();
  c.min_cleanable_dirty_ratio = 0.1;
  std::shared_ptr<Log> log = open_log(t.path / "c-0", c);
  for (int i = 0; i < 4; ++i) put(*log, "k", std::to_string(i), T0);
  auto targets = [&] { return std::vector<LogCleaner::Target>{target("c", t.path, log)}; };
  // Waits (a bounded time, never asserting on it) for the workers to get the log to `want`.
  auto cleaned_to = [&](const std::vector<int64_t>& want) {
    for (int i = 0; i < 3000 && offsets_of(*log) != want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return offsets_of(*log) == want;
  };
  CleanerOptions o;
  o.threads = 2;
  o.backoff_ms = 3'600'000;  // a worker that found nothing sleeps for the rest of the test
  o.clock = clock.fn();
  LogCleaner cleaner(o, targets);
  cleaner.start();
  REQUIRE(cleaned_to({2, 3}));
  put(*log, "k", "4", T0);
  put(*log, "k", "5", T0);
  cleaner.reconfigure(2, 10);  // the sleepers wake, clean, and then sleep 10 ms
  REQUIRE(cleaned_to({4, 5}));
  cleaner.reconfigure(1, 10);  // a new count: the workers restart and go on
  put(*log, "k", "6", T0);
  put(*log, "k", "7", T0);
  REQUIRE(cleaned_to({6, 7}));
  cleaner.stop();
  put(*log, "k", "8", T0);
  put(*log, "k", "9", T0);
  cleaner.reconfigure(2, 10);  // nothing after stop()
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(offsets_of(*log) == std::vector<int64_t>{6, 7, 8, 9});
}

TEST_CASE("reads running during cleaning always see whole batches and the newest values") {
  TempDir t;
  Clock clock;
  LogConfig c = compact_config();
  c.segment_bytes = 600;
  std::shared_ptr<Log> log = open_log(t.path / "c-0", c);
  for (int i = 0; i < 600; ++i) put(*log, "k" + std::to_string(i % 10), "v" + std::to_string(i), T0);
  const int64_t end = log->log_end_offset().value();
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, failures{0};
  std::thread reader([&] {
    while (!done.load() || reads.load() < 20) {
      // A consumer reading the whole log in small fetches.
      int64_t next = 0, last = -1;
      std::map<std::string, std::string> seen;
      while (next < end) {
        auto r = log->read(Offset(next), 300, Offset(end), true);
        if (!r.ok() || !r->slice) {
          failures++;
          break;
        }
        auto bytes = read_bytes(*r->slice);
        size_t pos = 0;
        while (pos < bytes.size()) {
          auto h = read_batch_header(std::span<const uint8_t>(bytes).subspan(pos));
          auto one = std::span<const uint8_t>(bytes).subspan(pos, static_cast<size_t>(h->total_size()));
          if (compute_batch_crc(one) != h->crc) failures++;
          (void)for_each_record(one, [&](const RecordView& rv) {
            if (rv.offset <= last) failures++;
            last = rv.offset;
            seen[std::string(*rv.key)] = std::string(*rv.value);
          });
          next = h->last_offset() + 1;
          pos += static_cast<size_t>(h->total_size());
        }
      }
      for (int k = 0; k < 10; ++k)
        if (seen["k" + std::to_string(k)] != "v" + std::to_string(590 + k)) failures++;
      reads++;
    }
  });
  Cleaner cleaner(1 << 20, clock.fn());
  auto st = cleaner.clean(*log, 0);
  done = true;
  reader.join();
  REQUIRE(st.ok());
  CHECK(st->segments_rewritten > 5);
  CHECK(failures.load() == 0);
  CHECK(records_of(*log).size() < 60);
}

TEST_CASE("a segment deleted by retention while it was being cleaned is not swapped back") {
  TempDir t;
  Clock clock;
  LogConfig c = compact_config();
  c.retention_ms = 1000;
  auto log = open_log(t.path / "c-0", c);
  put(*log, "k", "a", T0 - 100000);  // 0
  put(*log, "k", "b", T0);           // 1
  put(*log, "k", "c", T0);           // 2: active
  auto view = log->cleaner_view();
  REQUIRE(view->sealed.size() == 2);
  REQUIRE(log->apply_retention(T0) == 1);  // segment 0 goes
  // A Cleaner that had taken the old view now tries to swap: refused.
  Segment fake(t.path / "c-0", 0, ".cleaned");
  CHECK_FALSE(log->replace_cleaned_segment(view->sealed[0].segment, view->sealed[0].size, fake).ok());
  CHECK(log->log_start_offset() == Offset(1));
  CHECK(offsets_of(*log) == std::vector<int64_t>{1, 2});
}
