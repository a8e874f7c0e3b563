// DeleteRecords' side of the log: moving the log start offset, deleting the segments wholly
// below it, and keeping it across restarts through the LogManager's checkpoint.
#include <catch2/catch.hpp>

#include "storage/log.h"
#include "storage/log_manager.h"
#include "tests/unit/storage/storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

TEST_CASE("advancing the log start hides the records below and deletes whole segments only") {
  TempDir dir;
  LogConfig c;
  c.segment_bytes = 1024;
  auto log = open_log(dir.path, c);
  append_batches(*log, 20, 5, 1000);
  int segments = log->segment_count();
  REQUIRE(segments >= 3);
  auto start = log->advance_log_start(Offset(42));
  REQUIRE(start.ok());
  CHECK(start->value() == 42);
  CHECK(log->log_start_offset().value() == 42);
  CHECK(log->segment_count() < segments);
  CHECK(log->read(Offset(41), 1 << 20, Offset(100), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  auto from = read_offsets(*log, 42, 100);
  REQUIRE(!from.empty());
  CHECK(from.front() <= 42);  // the batch holding 42 is returned whole; consumers skip below
  CHECK(log->advance_log_start(Offset(10))->value() == 42);  // never backwards
  CHECK(log->advance_log_start(Offset(101)).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  CHECK(log->advance_log_start(Offset(100))->value() == 100);  // everything: the log is empty to readers
  CHECK(log->segment_count() == 1);
  auto b = make_batch(1, 5000);
  CHECK(log->append(b, 0)->first_offset.value() == 100);
}

TEST_CASE("the log start offset survives a restart through log-start-offset-checkpoint") {
  TempDir dir;
  LogManagerOptions o;
  o.log_dirs = {dir.path};
  TopicPartition tp{"t", 0};
  {
    auto m = LogManager::open(o);
    REQUIRE(m.ok());
    auto log = (*m)->get_or_create(tp, LogConfig{});
    REQUIRE(log.ok());
    append_batches(**log, 10, 5, 1000);
    REQUIRE((*log)->advance_log_start(Offset(23)).ok());
    REQUIRE((*m)->checkpoint_recovery_points().ok());
    // No clean shutdown: the checkpoint alone must carry it.
  }
  auto m = LogManager::open(o);
  REQUIRE(m.ok());
  auto log = (*m)->get_or_create(tp, LogConfig{});
  REQUIRE(log.ok());
  CHECK((*log)->log_start_offset().value() == 23);
  CHECK((*log)->log_end_offset().value() == 50);
}
