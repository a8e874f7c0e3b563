// Opening a log after a clean shutdown or a crash: torn tails, corruption, index rebuilds,
// recovery points.
#include <catch2/catch.hpp>

#include "storage/log.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

TEST_CASE("a torn tail is truncated on recovery and appends continue at the right offset") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  {
    auto log = open_log(dir);
    append_batches(*log, 10, 2, 0);
  }
  fs::path seg = dir / "00000000000000000000.log";
  auto full = fs::file_size(seg);
  for (int cut : {5, 60, 70}) {  // inside the last batch's records, header, or length
    INFO("cut " << cut);
    TempDir copy;
    fs::copy(dir, copy.path / "t-0");
    fs::resize_file(copy.path / "t-0" / seg.filename(), full - cut);
    auto log = open_log(copy.path / "t-0", {}, true);
    REQUIRE(log->log_end_offset() == Offset(18));
    REQUIRE(fs::file_size(copy.path / "t-0" / seg.filename()) < full - cut);
    auto b = make_batch(2, 100);
    auto info = log->append(b, 0);
    REQUIRE(info.ok());
    REQUIRE(info->first_offset == Offset(18));
    auto offs = read_offsets(*log, 0, 20);
    REQUIRE(offs.size() == 20);
    REQUIRE(offs.back() == 19);
  }
}

TEST_CASE("garbage after the last whole batch (a crash mid-write) is truncated on recovery") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  {
    auto log = open_log(dir);
    append_batches(*log, 4, 3, 0);
  }
  fs::path seg = dir / "00000000000000000000.log";
  auto size = fs::file_size(seg);
  {
    std::ofstream f(seg, std::ios::app | std::ios::binary);
    std::string zeros(4096, '\0');  // pages allocated but never written
    f << zeros;
  }
  auto log = open_log(dir, {}, true);
  REQUIRE(log->log_end_offset() == Offset(12));
  REQUIRE(fs::file_size(seg) == size);
}

TEST_CASE("a corrupt batch in a non-last segment stops recovery and names the file and byte") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 300;
  {
    auto log = open_log(dir, c);
    append_batches(*log, 20, 3, 0);
    REQUIRE(log->segment_count() > 2);
  }
  fs::path first = dir / "00000000000000000000.log";
  overwrite_byte(first, 70, '\x7f');
  auto reopened = Log::open(dir, c, true);
  REQUIRE_FALSE(reopened.ok());
  REQUIRE(reopened.code() == ErrorCode::KAFKA_STORAGE_ERROR);
  REQUIRE(reopened.error().message.find(first.string()) != std::string::npos);
  REQUIRE(reopened.error().message.find("at byte 0") != std::string::npos);
  // Nothing was truncated: the data stays for an operator to look at.
  REQUIRE(fs::file_size(first) > 200);
}

TEST_CASE("a corrupt batch followed by valid batches in the last segment is an error, not a truncation") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  {
    auto log = open_log(dir);
    append_batches(*log, 5, 2, 0);
  }
  fs::path seg = dir / "00000000000000000000.log";
  auto size = fs::file_size(seg);
  auto batch_size = static_cast<int64_t>(make_batch(2, 0).size());
  overwrite_byte(seg, 2 * batch_size + 70, '\x55');  // inside the third batch's records
  auto reopened = Log::open(dir, {}, true);
  REQUIRE_FALSE(reopened.ok());
  REQUIRE(reopened.error().message.find(seg.string()) != std::string::npos);
  REQUIRE(reopened.error().message.find("at byte " + std::to_string(2 * batch_size)) != std::string::npos);
  REQUIRE(fs::file_size(seg) == size);
}

TEST_CASE("deleted or damaged index files are rebuilt and reads find the same batches") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 500;
  c.index_interval_bytes = 100;
  {
    auto log = open_log(dir, c);
    append_batches(*log, 30, 2, 1000);
  }
  auto indexes = files_with_extension(dir, ".index");
  auto times = files_with_extension(dir, ".timeindex");
  REQUIRE(indexes.size() > 3);
  fs::remove(indexes[0]);
  fs::remove(times[1]);
  fs::resize_file(indexes[2], fs::file_size(indexes[2]) + 3);  // not whole entries
  fs::resize_file(indexes[3], fs::file_size(indexes[3]) + 64);  // zero entries appended
  auto log = open_log(dir, c);  // a clean open: only the damaged ones are rebuilt
  REQUIRE(log->log_end_offset() == Offset(60));
  REQUIRE(fs::exists(indexes[0]));
  REQUIRE(fs::file_size(indexes[2]) % 8 == 0);
  for (int64_t start = 0; start < 60; start += 7) REQUIRE(read_offsets(*log, start, 60).front() == start - start % 2);
  REQUIRE(log->offset_for_timestamp(1000 + 21)->offset == Offset(41));  // batch 20 holds 1020, 1021
  REQUIRE(log->max_timestamp()->timestamp == 1000 + 29 + 1);
}

TEST_CASE("a clean reopen keeps offsets, timestamps and index lookups") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 700;
  c.index_interval_bytes = 150;
  std::vector<uint8_t> before_bytes;
  {
    auto log = open_log(dir, c);
    append_batches(*log, 40, 3, 5000, 10);
    before_bytes = read_bytes(*log->read(Offset(0), 1 << 30, Offset(120), true)->slice);
    log->close();
  }
  // Closed logs leave trimmed indexes: whole entries only.
  for (const auto& f : files_with_extension(dir, ".index")) REQUIRE(fs::file_size(f) % 8 == 0);
  for (const auto& f : files_with_extension(dir, ".timeindex")) REQUIRE(fs::file_size(f) % 12 == 0);
  auto log = open_log(dir, c);
  REQUIRE(log->log_end_offset() == Offset(120));
  REQUIRE(log->recovery_point() == Offset(120));
  REQUIRE(log->max_timestamp()->timestamp == 5000 + 390 + 2);
  REQUIRE(log->max_timestamp()->offset == Offset(119));
  REQUIRE(log->offset_for_timestamp(5000 + 200)->offset == Offset(60));
  auto after = read_bytes(*log->read(Offset(0), 1 << 30, Offset(120), true)->slice);
  REQUIRE(offsets_in(after).size() <= 120);
  REQUIRE(std::equal(after.begin(), after.end(), before_bytes.begin()));
  auto b = make_batch(1, 9999);
  REQUIRE(log->append(b, 0)->first_offset == Offset(120));
}

TEST_CASE("recovery trusts segments below the recovery point and scans the rest") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 300;
  int64_t rp = 0;
  {
    auto log = open_log(dir, c);
    append_batches(*log, 20, 3, 0);
    REQUIRE(log->flush_rolled_segments().ok());
    rp = log->recovery_point().value();
    REQUIRE(rp > 0);
  }
  // Damage the first segment (below the recovery point) where only a CRC check would notice.
  fs::path first = dir / "00000000000000000000.log";
  overwrite_byte(first, 70, '\x7f');
  LogOpenOptions o;
  o.recover = true;
  o.recovery_point = rp;
  auto trusted = Log::open(dir, c, o);
  REQUIRE(trusted.ok());  // not scanned: its data was fsynced before the crash
  REQUIRE((*trusted)->log_end_offset() == Offset(60));
  (*trusted)->close();
  o.recovery_point = 0;  // unknown: every segment is checked
  REQUIRE_FALSE(Log::open(dir, c, o).ok());
}

TEST_CASE("leftovers of an interrupted deletion are removed when the log opens") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  {
    auto log = open_log(dir);
    append_batches(*log, 2, 2, 0);
  }
  std::ofstream(dir / "00000000000000000000.log.deleted") << "x";
  std::ofstream(dir / "00000000000000000077.index") << "12345678";  // an index without its segment
  std::ofstream(dir / "leader-epoch-checkpoint") << "0\n0\n";        // not ours to touch
  auto log = open_log(dir, {}, true);
  REQUIRE_FALSE(fs::exists(dir / "00000000000000000000.log.deleted"));
  REQUIRE_FALSE(fs::exists(dir / "00000000000000000077.index"));
  REQUIRE(fs::exists(dir / "leader-epoch-checkpoint"));
  REQUIRE(log->log_end_offset() == Offset(4));
}

TEST_CASE("an empty directory opens as an empty log at offset 0") {
  TempDir t;
  auto log = open_log(t.path / "new-topic-3", {}, true);
  REQUIRE(log->log_start_offset() == Offset(0));
  REQUIRE(log->log_end_offset() == Offset(0));
  REQUIRE(log->segment_count() == 1);
  REQUIRE(fs::exists(t.path / "new-topic-3" / "00000000000000000000.log"));
}
