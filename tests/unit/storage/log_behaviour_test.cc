// Partition log and log manager behaviour as a broker user sees it: offsets, reads and their
// limits, timestamps, restarts, crash recovery, index rebuilds and retention.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/log.h"
#include "storage/log_manager.h"
#include "tests/unit/storage/storage_test_util.h"

using namespace kb;
using namespace kb::storage;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

// The scratch directory every storage-backed test uses.
using ScratchDir = kb::storage::test::TempDir;

// Batch number `n` with `records` records: values "b<n>-r<i>", timestamps ts + i.
Bytes numbered_batch(int n, int records, int64_t ts) {
  RecordBatchBuilder b;
  for (int i = 0; i < records; ++i)
    b.add("k" + std::to_string(n), "b" + std::to_string(n) + "-r" + std::to_string(i), ts + i,
          {{"n", std::to_string(n)}});
  return b.build();
}

std::unique_ptr<Log> must_open(const fs::path& dir, const LogConfig& c = {}, bool recover = false) {
  auto l = Log::open(dir, c, recover);
  INFO((l.ok() ? std::string() : l.error().message));
  REQUIRE(l.ok());
  return std::move(l.value());
}

AppendInfo must_append(Log& log, Bytes b, int32_t epoch = 0) {
  auto r = log.append(b, epoch);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return r.value();
}

Bytes slice_bytes(const FileSlice& s) {
  Bytes out(static_cast<size_t>(s.size));
  REQUIRE(::pread(s.fd, out.data(), out.size(), s.position) == static_cast<ssize_t>(out.size()));
  return out;
}

struct Rec {
  int64_t offset;
  int64_t timestamp;
  std::string value;
};

// Every record of the bytes of a read, each batch checked (framing, CRC, records).
std::vector<Rec> records_in(const Bytes& bytes) {
  std::vector<Rec> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    auto h = read_batch_header(std::span<const uint8_t>(bytes).subspan(pos));
    REQUIRE(h.ok());
    REQUIRE(pos + static_cast<size_t>(h->total_size()) <= bytes.size());
    auto one = std::span<const uint8_t>(bytes).subspan(pos, static_cast<size_t>(h->total_size()));
    REQUIRE(validate_batches(one, 1 << 30).ok());
    REQUIRE(for_each_record(one, [&](const RecordView& r) {
              out.push_back({r.offset, r.timestamp, std::string(r.value.value_or(""))});
            }).ok());
    pos += static_cast<size_t>(h->total_size());
  }
  return out;
}

// One read: whole batches of one segment at most (a read is a single file range).
std::vector<Rec> read_once(const Log& log, int64_t from, int64_t to = INT64_MAX, int32_t max_bytes = 1 << 30) {
  auto r = log.read(Offset(from), max_bytes, Offset(to), true);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  if (!r->slice) return {};
  return records_in(slice_bytes(*r->slice));
}

// Reads like a consumer: from `from`, each read continuing after the last record returned.
std::vector<Rec> read_all(const Log& log, int64_t from, int64_t to = INT64_MAX) {
  std::vector<Rec> out;
  for (int64_t next = from;;) {
    auto part = read_once(log, next, to);
    if (part.empty()) return out;
    for (auto& r : part)
      if (out.empty() || r.offset >= next) out.push_back(r);  // the first batch may start before `from`
    REQUIRE(part.back().offset + 1 > next);  // progress
    next = part.back().offset + 1;
    if (next >= log.log_end_offset().value()) return out;
  }
}

std::vector<int64_t> offsets_of(const std::vector<Rec>& v) {
  std::vector<int64_t> o;
  for (auto& r : v) o.push_back(r.offset);
  return o;
}

std::vector<int64_t> range(int64_t from, int64_t to) {  // [from, to)
  std::vector<int64_t> v;
  for (int64_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

std::vector<fs::path> with_ext(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void flip_byte(const fs::path& file, int64_t pos) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekg(pos);
  char c = 0;
  f.get(c);
  f.seekp(pos);
  f.put(static_cast<char>(c ^ 0x5a));
}

LogConfig small_segments(int64_t bytes = 1024) {
  LogConfig c;
  c.segment_bytes = bytes;
  c.index_interval_bytes = 128;
  return c;
}

}  // namespace

TEST_CASE("log: appends across many segment rolls read back in order with contiguous offsets") {
  ScratchDir t;
  auto log = must_open(t.path / "orders-0", small_segments());
  REQUIRE(log->log_end_offset() == Offset(0));
  for (int n = 0; n < 60; ++n) {
    auto info = must_append(*log, numbered_batch(n, 3, 1000 + n * 10), 5);
    REQUIRE(info.first_offset == Offset(3 * n));
    REQUIRE(info.last_offset == Offset(3 * n + 2));
    REQUIRE(info.records == 3);
  }
  REQUIRE(log->log_end_offset() == Offset(180));
  REQUIRE(log->log_start_offset() == Offset(0));
  REQUIRE(log->segment_count() > 5);
  REQUIRE(static_cast<int>(with_ext(t.path / "orders-0", ".log").size()) == log->segment_count());

  auto all = read_all(*log, 0);
  REQUIRE(offsets_of(all) == range(0, 180));
  for (int n = 0; n < 60; ++n)
    for (int i = 0; i < 3; ++i) {
      REQUIRE(all[size_t(3 * n + i)].value == "b" + std::to_string(n) + "-r" + std::to_string(i));
      REQUIRE(all[size_t(3 * n + i)].timestamp == 1000 + n * 10 + i);
    }
  // Stored batches carry the leader epoch given at append.
  auto r = log->read(Offset(0), 1 << 20, Offset(180), true);
  REQUIRE(r.ok());
  Bytes first = slice_bytes(*r->slice);
  REQUIRE(read_batch_header(first)->partition_leader_epoch == 5);
  // Segment files are named after their base offsets.
  for (const auto& p : with_ext(t.path / "orders-0", ".log")) REQUIRE(p.stem().string().size() == 20);
  REQUIRE(fs::exists(t.path / "orders-0" / "00000000000000000000.log"));
}

TEST_CASE("log: several batches in one append get consecutive offsets") {
  ScratchDir t;
  auto log = must_open(t.path / "multi-0");
  Bytes a = numbered_batch(0, 2, 10), b = numbered_batch(1, 4, 20);
  Bytes both = a;
  both.insert(both.end(), b.begin(), b.end());
  auto info = must_append(*log, both);
  REQUIRE(info.first_offset == Offset(0));
  REQUIRE(info.last_offset == Offset(5));
  REQUIRE(info.records == 6);
  REQUIRE(offsets_of(read_all(*log, 0)) == range(0, 6));
}

TEST_CASE("log: reading from the middle of a batch returns that whole batch") {
  ScratchDir t;
  auto log = must_open(t.path / "mid-0", small_segments());
  for (int n = 0; n < 20; ++n) must_append(*log, numbered_batch(n, 5, 100 * n));
  for (int64_t start : {1, 7, 13, 42, 99}) {
    INFO("start " << start);
    auto recs = read_all(*log, start);
    REQUIRE_FALSE(recs.empty());
    REQUIRE(recs.front().offset == start / 5 * 5);  // the batch's base offset
    REQUIRE(recs.back().offset == 99);
  }
}

TEST_CASE("log: reads honour max_bytes, max_offset and min_one_batch") {
  ScratchDir t;
  auto log = must_open(t.path / "lim-0");
  std::vector<size_t> sizes;
  for (int n = 0; n < 10; ++n) {
    Bytes b = numbered_batch(n, 3, n);
    sizes.push_back(b.size());
    must_append(*log, b);
  }
  const auto one = static_cast<int32_t>(sizes[0]);

  SECTION("max_bytes of exactly two batches returns two batches") {
    auto r = log->read(Offset(0), one * 2, Offset(30), true);
    REQUIRE(r.ok());
    REQUIRE(r->slice);
    REQUIRE(r->slice->size == one * 2);
    REQUIRE(r->records == 6);
    REQUIRE(offsets_of(records_in(slice_bytes(*r->slice))) == range(0, 6));
  }
  SECTION("max_bytes smaller than one batch still returns it with min_one_batch") {
    auto r = log->read(Offset(3), 10, Offset(30), true);
    REQUIRE(r.ok());
    REQUIRE(r->slice);
    REQUIRE(offsets_of(records_in(slice_bytes(*r->slice))) == range(3, 6));
  }
  SECTION("max_bytes smaller than one batch returns nothing without min_one_batch") {
    auto r = log->read(Offset(3), 10, Offset(30), false);
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->slice);
    REQUIRE(r->records == 0);
  }
  SECTION("max_offset stops before batches that start at or after it") {
    REQUIRE(offsets_of(read_all(*log, 0, 7)) == range(0, 9));  // batch 6..8 starts below 7
    REQUIRE(offsets_of(read_all(*log, 0, 6)) == range(0, 6));
    REQUIRE(read_all(*log, 6, 6).empty());
  }
  SECTION("the read reports log start and end") {
    auto r = log->read(Offset(0), 1 << 20, Offset(30), true);
    REQUIRE(r.ok());
    REQUIRE(r->log_start_offset == Offset(0));
    REQUIRE(r->log_end_offset == Offset(30));
  }
}

TEST_CASE("log: offsets outside [log start, log end] are OFFSET_OUT_OF_RANGE") {
  ScratchDir t;
  LogConfig c = small_segments(300);
  auto log = must_open(t.path / "oor-0", c);
  for (int n = 0; n < 10; ++n) must_append(*log, numbered_batch(n, 2, 1000));
  REQUIRE(log->read(Offset(21), 1 << 20, Offset(100), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  REQUIRE(log->read(Offset(1000), 1 << 20, Offset(2000), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  REQUIRE(log->read(Offset(-1), 1 << 20, Offset(100), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  // The log end itself is in range and empty: a consumer at the end waits for data.
  auto at_end = log->read(Offset(20), 1 << 20, Offset(100), true);
  REQUIRE(at_end.ok());
  REQUIRE_FALSE(at_end->slice);

  // After retention moved the log start, offsets below it are out of range.
  c.retention_bytes = 300;
  log->set_config(c);
  REQUIRE(log->apply_retention(2000) > 0);
  const int64_t start = log->log_start_offset().value();
  REQUIRE(start > 0);
  REQUIRE(log->read(Offset(start - 1), 1 << 20, Offset(100), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  REQUIRE(read_all(*log, start).front().offset == start);
}

TEST_CASE("log: offset_for_timestamp finds the first record at or after a timestamp") {
  ScratchDir t;
  auto log = must_open(t.path / "ts-0", small_segments(600));
  // Batch n holds timestamps 1000*n + {0, 1, 2}; offsets 3n..3n+2.
  for (int n = 0; n < 30; ++n) must_append(*log, numbered_batch(n, 3, 1000 * n));
  REQUIRE(log->segment_count() > 2);

  auto exact = log->offset_for_timestamp(5001);
  REQUIRE(exact);
  REQUIRE(exact->offset == Offset(16));
  REQUIRE(exact->timestamp == 5001);

  auto between = log->offset_for_timestamp(5003);  // first record with ts >= 5003 is 6000
  REQUIRE(between);
  REQUIRE(between->offset == Offset(18));
  REQUIRE(between->timestamp == 6000);

  auto first = log->offset_for_timestamp(-5);
  REQUIRE(first);
  REQUIRE(first->offset == Offset(0));

  auto late = log->offset_for_timestamp(29002);
  REQUIRE(late);
  REQUIRE(late->offset == Offset(89));

  REQUIRE_FALSE(log->offset_for_timestamp(29003));

  auto mx = log->max_timestamp();
  REQUIRE(mx);
  REQUIRE(mx->timestamp == 29002);
  REQUIRE(mx->offset == Offset(89));
}

TEST_CASE("log: timestamps out of order still give the first offset reaching the target") {
  ScratchDir t;
  auto log = must_open(t.path / "ooo-0");
  RecordBatchBuilder b;
  b.add("a", "1", 500).add("b", "2", 100).add("c", "3", 900).add("d", "4", 300);
  must_append(*log, b.build());
  auto r = log->offset_for_timestamp(400);
  REQUIRE(r);
  REQUIRE(r->offset == Offset(0));
  auto r2 = log->offset_for_timestamp(600);
  REQUIRE(r2);
  REQUIRE(r2->offset == Offset(2));
  REQUIRE(r2->timestamp == 900);
  auto mx = log->max_timestamp();
  REQUIRE(mx);
  REQUIRE(mx->offset == Offset(2));
}

TEST_CASE("log: a closed and reopened log keeps every record and appends after them") {
  ScratchDir t;
  fs::path dir = t.path / "reopen-0";
  {
    auto log = must_open(dir, small_segments());
    for (int n = 0; n < 40; ++n) must_append(*log, numbered_batch(n, 2, 100 + n));
    REQUIRE(log->flush_and_close().ok());
  }
  for (bool recover : {false, true}) {
    INFO("recover " << recover);
    auto log = must_open(dir, small_segments(), recover);
    REQUIRE(log->log_start_offset() == Offset(0));
    REQUIRE(log->log_end_offset() == Offset(80 + (recover ? 2 : 0)));
    auto all = read_all(*log, 0);
    REQUIRE(offsets_of(all) == range(0, log->log_end_offset().value()));
    REQUIRE(all[79].value == "b39-r1");
    auto ts = log->offset_for_timestamp(120);
    REQUIRE(ts);
    REQUIRE(ts->offset == Offset(39));  // batch 19 holds ts 119 (offset 38) and 120 (offset 39)
    auto info = must_append(*log, numbered_batch(99, 2, 5000));
    REQUIRE(info.first_offset == Offset(recover ? 82 : 80));
    log->close();
  }
}

TEST_CASE("log: a torn tail is cut back to the last whole batch on recovery") {
  ScratchDir t;
  fs::path dir = t.path / "torn-0";
  {
    auto log = must_open(dir, small_segments());
    for (int n = 0; n < 30; ++n) must_append(*log, numbered_batch(n, 4, 10 * n));
    log->close();
  }
  auto logs = with_ext(dir, ".log");
  REQUIRE(logs.size() > 2);
  const fs::path last = logs.back();
  const auto full = fs::file_size(last);
  fs::resize_file(last, full - 3);

  auto log = must_open(dir, small_segments(), true);
  REQUIRE(log->log_end_offset() == Offset(116));  // batch 29 (offsets 116..119) was torn
  REQUIRE(fs::file_size(last) < full - 3);        // the partial batch is gone from the file
  REQUIRE(offsets_of(read_all(*log, 0)) == range(0, 116));
  auto info = must_append(*log, numbered_batch(77, 4, 999));
  REQUIRE(info.first_offset == Offset(116));
  auto tail = read_all(*log, 116);
  REQUIRE(offsets_of(tail) == range(116, 120));
  REQUIRE(tail.front().value == "b77-r0");
}

TEST_CASE("log: a tail torn inside the newest segment's first batch leaves that segment empty") {
  ScratchDir t;
  fs::path dir = t.path / "torn-first-0";
  {
    auto log = must_open(dir, small_segments());
    for (int n = 0; n < 30; ++n) must_append(*log, numbered_batch(n, 4, 10 * n));
    log->close();
  }
  auto logs = with_ext(dir, ".log");
  REQUIRE(logs.size() > 2);
  const int64_t last_base = std::stoll(logs.back().stem().string());
  fs::resize_file(logs.back(), 30);  // inside the first batch's header
  auto log = must_open(dir, small_segments(), true);
  REQUIRE(log->log_end_offset() == Offset(last_base));
  REQUIRE(offsets_of(read_all(*log, 0)) == range(0, last_base));
  REQUIRE(must_append(*log, numbered_batch(5, 1, 1)).first_offset == Offset(last_base));
  REQUIRE(offsets_of(read_all(*log, 0)) == range(0, last_base + 1));
}

TEST_CASE("log: a corrupt byte in an older segment makes recovery fail naming that file") {
  ScratchDir t;
  fs::path dir = t.path / "rot-0";
  {
    auto log = must_open(dir, small_segments());
    for (int n = 0; n < 30; ++n) must_append(*log, numbered_batch(n, 4, 10 * n));
    log->close();
  }
  auto logs = with_ext(dir, ".log");
  REQUIRE(logs.size() > 2);
  const fs::path victim = logs[1];
  flip_byte(victim, 70);  // inside the first batch's records
  auto r = Log::open(dir, small_segments(), true);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  REQUIRE(r.error().message.find(victim.filename().string()) != std::string::npos);
}

TEST_CASE("log: deleted index files are rebuilt and lookups still work") {
  ScratchDir t;
  fs::path dir = t.path / "idx-0";
  {
    auto log = must_open(dir, small_segments());
    for (int n = 0; n < 40; ++n) must_append(*log, numbered_batch(n, 3, 1000 * n));
    REQUIRE(log->flush_and_close().ok());
  }
  REQUIRE_FALSE(with_ext(dir, ".index").empty());
  for (const auto& p : with_ext(dir, ".index")) fs::remove(p);
  for (const auto& p : with_ext(dir, ".timeindex")) fs::remove(p);
  {
    auto log = must_open(dir, small_segments());
    REQUIRE(log->log_end_offset() == Offset(120));
    for (int64_t start : {0, 31, 64, 119}) {
      auto recs = read_all(*log, start);
      REQUIRE(recs.front().offset == start / 3 * 3);
      REQUIRE(recs.back().offset == 119);
    }
    auto ts = log->offset_for_timestamp(17001);
    REQUIRE(ts);
    REQUIRE(ts->offset == Offset(52));
    REQUIRE(log->flush_and_close().ok());
  }
  // The sealed segments have their indexes on disk again.
  auto logs = with_ext(dir, ".log");
  for (size_t i = 0; i + 1 < logs.size(); ++i) {
    fs::path idx = logs[i];
    idx.replace_extension(".index");
    INFO(idx);
    REQUIRE(fs::exists(idx));
  }
}

TEST_CASE("log: retention by bytes deletes the oldest segments and moves the log start") {
  ScratchDir t;
  LogConfig c = small_segments(500);
  auto log = must_open(t.path / "rb-0", c);
  for (int n = 0; n < 40; ++n) must_append(*log, numbered_batch(n, 2, 1'000'000 + n));
  const int before = log->segment_count();
  REQUIRE(before > 5);
  REQUIRE(log->apply_retention(1'000'100) == 0);  // unlimited by default

  c.retention_bytes = 1200;
  log->set_config(c);
  const int deleted = log->apply_retention(1'000'100);
  REQUIRE(deleted > 0);
  REQUIRE(log->segment_count() == before - deleted);
  REQUIRE(log->size_bytes() >= 1200);
  REQUIRE(log->size_bytes() < 1200 + 500);
  const int64_t start = log->log_start_offset().value();
  REQUIRE(start > 0);
  REQUIRE(log->log_end_offset() == Offset(80));
  REQUIRE(offsets_of(read_all(*log, start)) == range(start, 80));
  REQUIRE_FALSE(fs::exists(t.path / "rb-0" / "00000000000000000000.log"));
  auto first = with_ext(t.path / "rb-0", ".log").front();
  REQUIRE(std::stoll(first.stem().string()) == start);
  // Appends keep going after the end.
  REQUIRE(must_append(*log, numbered_batch(50, 1, 2'000'000)).first_offset == Offset(80));
}

TEST_CASE("log: retention by time deletes segments whose newest record is too old") {
  ScratchDir t;
  LogConfig c = small_segments(400);
  c.retention_ms = -1;
  auto log = must_open(t.path / "rt-0", c);
  // Old records (timestamps around 1000), then new ones (around 1'000'000).
  for (int n = 0; n < 15; ++n) must_append(*log, numbered_batch(n, 2, 1000 + n));
  const int64_t first_new = log->log_end_offset().value();
  log->maybe_roll(INT64_MAX / 2);  // older than segment.ms: seals the old data in its own segments
  for (int n = 15; n < 30; ++n) must_append(*log, numbered_batch(n, 2, 1'000'000 + n));
  const int before = log->segment_count();

  REQUIRE(log->apply_retention(2'000'000) == 0);  // retention.ms -1 keeps everything
  c.retention_ms = 100'000;
  log->set_config(c);
  const int deleted = log->apply_retention(1'050'000);
  REQUIRE(deleted > 0);
  REQUIRE(log->segment_count() == before - deleted);
  REQUIRE(log->log_start_offset().value() == first_new);
  auto recs = read_all(*log, log->log_start_offset().value());
  REQUIRE(recs.back().offset == 59);
  REQUIRE(recs.front().offset == log->log_start_offset().value());
  REQUIRE(log->read(Offset(0), 1 << 20, Offset(100), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);

  // Once everything is older than retention.ms the active segment goes too: the log is empty
  // but keeps its end offset.
  REQUIRE(log->apply_retention(1'000'000'000) > 0);
  REQUIRE(log->log_start_offset() == Offset(60));
  REQUIRE(log->log_end_offset() == Offset(60));
  REQUIRE(must_append(*log, numbered_batch(99, 1, 1'000'000'001)).first_offset == Offset(60));
}

TEST_CASE("log: a deleted log is gone from disk") {
  ScratchDir t;
  fs::path dir = t.path / "gone-0";
  auto log = must_open(dir);
  must_append(*log, numbered_batch(0, 1, 1));
  REQUIRE(log->remove().ok());
  REQUIRE_FALSE(fs::exists(dir));
}

// ---------------------------------------------------------------------------------------------
// LogManager

namespace {

std::unique_ptr<LogManager> must_open_manager(const fs::path& dir) {
  LogManagerOptions o;
  o.log_dirs = {dir};
  auto m = LogManager::open(o);
  INFO((m.ok() ? std::string() : m.error().message));
  REQUIRE(m.ok());
  return std::move(m.value());
}

}  // namespace

TEST_CASE("log manager: a clean shutdown skips recovery and restart finds the partitions") {
  ScratchDir t;
  {
    auto m = must_open_manager(t.path);
    REQUIRE_FALSE(m->recovered_after_crash());  // an empty directory is no crash
    REQUIRE(m->existing_partitions().empty());
    for (int p = 0; p < 3; ++p) {
      auto log = m->get_or_create({"events", p}, LogConfig{});
      REQUIRE(log.ok());
      must_append(**log, numbered_batch(p, p + 1, 10));
    }
    auto other = m->get_or_create({"other.topic_x", 0}, LogConfig{});
    REQUIRE(other.ok());
    m->shutdown();
  }
  REQUIRE(fs::exists(t.path / ".kafka_cleanshutdown"));
  auto m = must_open_manager(t.path);
  REQUIRE_FALSE(m->recovered_after_crash());
  auto parts = m->existing_partitions();
  std::sort(parts.begin(), parts.end());
  REQUIRE(parts == std::vector<TopicPartition>{{"events", 0}, {"events", 1}, {"events", 2}, {"other.topic_x", 0}});
  for (int p = 0; p < 3; ++p) {
    auto log = m->get_or_create({"events", p}, LogConfig{});
    REQUIRE(log.ok());
    REQUIRE((*log)->log_end_offset() == Offset(p + 1));
    REQUIRE(m->get({"events", p}) == *log);
  }
  REQUIRE(m->get({"events", 7}) == nullptr);
  m->shutdown();
}

TEST_CASE("log manager: a missing clean-shutdown marker triggers recovery of torn tails") {
  ScratchDir t;
  fs::path seg;
  {
    auto m = must_open_manager(t.path);
    auto log = m->get_or_create({"crashy", 0}, LogConfig{});
    REQUIRE(log.ok());
    for (int n = 0; n < 5; ++n) must_append(**log, numbered_batch(n, 2, 100));
    m->shutdown();
  }
  // Simulate a crash: no marker, and a half-written last batch.
  REQUIRE(fs::remove(t.path / ".kafka_cleanshutdown"));
  seg = t.path / "crashy-0" / "00000000000000000000.log";
  fs::resize_file(seg, fs::file_size(seg) - 5);
  {
    auto m = must_open_manager(t.path);
    REQUIRE(m->recovered_after_crash());
    auto log = m->get_or_create({"crashy", 0}, LogConfig{});
    REQUIRE(log.ok());
    REQUIRE((*log)->log_end_offset() == Offset(8));
    REQUIRE(must_append(**log, numbered_batch(9, 2, 100)).first_offset == Offset(8));
    m->shutdown();
  }
  // The next clean start trusts the logs again.
  auto m = must_open_manager(t.path);
  REQUIRE_FALSE(m->recovered_after_crash());
  auto log = m->get_or_create({"crashy", 0}, LogConfig{});
  REQUIRE(log.ok());
  REQUIRE((*log)->log_end_offset() == Offset(10));
  m->shutdown();
}

TEST_CASE("log manager: the marker is consumed at open so a crash while running is detected") {
  ScratchDir t;
  {
    auto m = must_open_manager(t.path);
    REQUIRE(m->get_or_create({"a", 0}, LogConfig{}).ok());
    m->shutdown();
  }
  REQUIRE(fs::exists(t.path / ".kafka_cleanshutdown"));
  auto m = must_open_manager(t.path);
  REQUIRE_FALSE(fs::exists(t.path / ".kafka_cleanshutdown"));
  m->shutdown();
  REQUIRE(fs::exists(t.path / ".kafka_cleanshutdown"));
}

TEST_CASE("log manager: removing a partition deletes its directory") {
  ScratchDir t;
  auto m = must_open_manager(t.path);
  auto log = m->get_or_create({"doomed", 1}, LogConfig{});
  REQUIRE(log.ok());
  must_append(**log, numbered_batch(0, 1, 1));
  REQUIRE(fs::exists(t.path / "doomed-1"));
  REQUIRE(m->remove({"doomed", 1}).ok());
  REQUIRE_FALSE(fs::exists(t.path / "doomed-1"));
  REQUIRE(m->get({"doomed", 1}) == nullptr);
  m->shutdown();
  auto again = must_open_manager(t.path);
  REQUIRE(again->existing_partitions().empty());
  again->shutdown();
}
