// Log::truncate_to: what a follower does when its log diverged from the new leader's.
#include <catch2/catch.hpp>

#include "storage/log.h"
#include "tests/unit/storage/storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

namespace {

LogConfig small_segments() {
  LogConfig c;
  c.segment_bytes = 1024;  // a few batches per segment
  c.index_interval_bytes = 1;  // an index entry per batch
  return c;
}

// Every offset from `from` to the log end, reading segment after segment.
std::vector<int64_t> offsets_from(const Log& log, int64_t from) {
  std::vector<int64_t> out;
  while (from < log.log_end_offset().value()) {
    auto part = read_offsets(log, from, log.log_end_offset().value());
    REQUIRE(!part.empty());
    for (int64_t o : part)
      if (o >= from) out.push_back(o);
    from = part.back() + 1;
  }
  return out;
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (int64_t o = from; o < to; ++o) v.push_back(o);
  return v;
}

}  // namespace

TEST_CASE("truncating drops the records at and after the target and appends continue there") {
  TempDir dir;
  auto log = open_log(dir.path, small_segments());
  append_batches(*log, 20, 5, 1000);  // offsets 0..99 in batches of 5, over several segments
  REQUIRE(log->segment_count() >= 3);
  int segments_before = log->segment_count();

  auto end = log->truncate_to(Offset(40));
  REQUIRE(end.ok());
  CHECK(end->value() == 40);
  CHECK(log->log_end_offset().value() == 40);
  CHECK(log->segment_count() < segments_before);
  CHECK(offsets_from(*log, 0) == range(0, 40));
  // Files of the deleted segments are gone from the directory.
  CHECK(files_with_extension(dir.path, ".log").size() == static_cast<size_t>(log->segment_count()));

  auto b = make_batch(3, 5000, "new");
  auto info = log->append(b, 7);
  REQUIRE(info.ok());
  CHECK(info->first_offset.value() == 40);
  CHECK(offsets_from(*log, 0) == range(0, 43));
  // Offset and time lookups work on the rebuilt indexes.
  CHECK(offsets_from(*log, 37) == range(37, 43));
  auto by_time = log->offset_for_timestamp(5000);
  REQUIRE(by_time);
  CHECK(by_time->offset.value() == 40);
}

TEST_CASE("a target inside a batch removes the whole batch") {
  TempDir dir;
  auto log = open_log(dir.path, small_segments());
  append_batches(*log, 10, 5, 1000);
  auto end = log->truncate_to(Offset(22));
  REQUIRE(end.ok());
  CHECK(end->value() == 20);
  CHECK(offsets_from(*log, 0) == range(0, 20));
}

TEST_CASE("truncating at or past the end changes nothing; below the log start empties the log") {
  TempDir dir;
  auto log = open_log(dir.path, small_segments());
  append_batches(*log, 6, 5, 1000);
  CHECK(log->truncate_to(Offset(30))->value() == 30);
  CHECK(log->truncate_to(Offset(99))->value() == 30);
  CHECK(offsets_from(*log, 0) == range(0, 30));
  CHECK(log->truncate_to(Offset(0))->value() == 0);
  CHECK(log->log_end_offset().value() == 0);
  CHECK(log->segment_count() == 1);
  auto b = make_batch(2, 1);
  CHECK(log->append(b, 0)->first_offset.value() == 0);
}

TEST_CASE("a truncated log reopens with the same end, cleanly or after a crash") {
  TempDir dir;
  {
    auto log = open_log(dir.path, small_segments());
    append_batches(*log, 20, 5, 1000);
    REQUIRE(log->truncate_to(Offset(63))->value() == 60);
    REQUIRE(log->flush_and_close().ok());
  }
  {
    auto log = open_log(dir.path, small_segments());
    CHECK(log->log_end_offset().value() == 60);
    CHECK(offsets_from(*log, 0) == range(0, 60));
    append_batches(*log, 1, 5, 9000);
    REQUIRE(log->truncate_to(Offset(50))->value() == 50);
    // No flush, no clean close: the recovery scan must find the same log.
  }
  auto log = open_log(dir.path, small_segments(), true);
  CHECK(log->log_end_offset().value() == 50);
  CHECK(offsets_from(*log, 0) == range(0, 50));
}
