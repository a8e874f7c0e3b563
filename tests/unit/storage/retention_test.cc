// Retention: whole old segments go by retention.bytes and retention.ms.
#include <catch2/catch.hpp>

#include "storage/log.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

TEST_CASE("retention by bytes deletes the oldest segments and moves the log start") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 400;
  c.retention_bytes = 1000;
  auto log = open_log(dir, c);
  append_batches(*log, 40, 2, 1000);
  int before = log->segment_count();
  auto files_before = files_with_extension(dir, ".log").size();
  int deleted = log->apply_retention(5000);
  REQUIRE(deleted > 0);
  REQUIRE(log->segment_count() == before - deleted);
  REQUIRE(files_with_extension(dir, ".log").size() == files_before - deleted);
  REQUIRE(files_with_extension(dir, ".index").size() == files_before - deleted);
  // What is left is at least retention.bytes minus one segment, and deleting one more
  // segment would go below retention.bytes.
  REQUIRE(log->size_bytes() >= 1000);
  REQUIRE(log->size_bytes() < 1000 + 400);
  Offset start = log->log_start_offset();
  REQUIRE(start > Offset(0));
  auto first_file = files_with_extension(dir, ".log").front().filename().string();
  REQUIRE(std::stoll(first_file.substr(0, 20)) == start.value());
  REQUIRE(log->read(Offset(0), 100, Offset(80), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  REQUIRE(read_offsets(*log, start.value(), 80).front() == start.value());
  REQUIRE(log->apply_retention(5000) == 0);  // nothing more to do
  // No .deleted leftovers.
  REQUIRE(files_with_extension(dir, ".deleted").empty());
}

TEST_CASE("retention by time deletes expired segments, rolling an expired active segment first") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 400;
  c.retention_ms = 100;
  auto log = open_log(t.path / "t-0", c);
  append_batches(*log, 20, 2, 1000);   // timestamps 1000..1020
  append_batches(*log, 20, 2, 50000);  // timestamps 50000..50020
  // At 10000 the first batches are expired, the newer ones are not.
  int deleted = log->apply_retention(10000);
  REQUIRE(deleted > 0);
  Offset start = log->log_start_offset();
  REQUIRE(start > Offset(0));
  REQUIRE(start <= Offset(40));
  REQUIRE(read_offsets(*log, start.value(), 80).front() == start.value());
  // Later everything has expired: the active segment rolls and goes too; the log is empty
  // but keeps its offsets.
  log->apply_retention(50020 + 1000);
  REQUIRE(log->log_start_offset() == Offset(80));
  REQUIRE(log->log_end_offset() == Offset(80));
  REQUIRE(log->size_bytes() == 0);
  auto b = make_batch(1, 60000);
  REQUIRE(log->append(b, 0)->first_offset == Offset(80));
}

TEST_CASE("retention.ms of -1 keeps everything and retention never deletes the active segment") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 400;
  c.retention_ms = -1;
  auto log = open_log(t.path / "t-0", c);
  append_batches(*log, 20, 2, 1000);
  REQUIRE(log->apply_retention(INT64_MAX / 2) == 0);
  c.retention_bytes = 0;
  log->set_config(c);
  REQUIRE(log->apply_retention(0) > 0);
  REQUIRE(log->segment_count() == 1);
  REQUIRE(log->log_end_offset() == Offset(40));
  REQUIRE(log->size_bytes() > 0);  // the active segment stays
}

TEST_CASE("a retention deletion survives a reopen: the log starts at the first remaining segment") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 400;
  c.retention_bytes = 500;
  Offset start;
  {
    auto log = open_log(dir, c);
    append_batches(*log, 30, 2, 1000);
    REQUIRE(log->apply_retention(0) > 0);
    start = log->log_start_offset();
  }
  auto log = open_log(dir, c, true);
  REQUIRE(log->log_start_offset() == start);
  REQUIRE(log->log_end_offset() == Offset(60));
}
