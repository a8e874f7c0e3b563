// Log::append_replicated and Log::truncate_fully_and_start_at: a follower's log takes its
// leader's batches as they are, and starts over at the leader's log start when it fell behind
// it.
#include <catch2/catch.hpp>

#include "storage/log.h"
#include "tests/unit/storage/storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

namespace {

// A batch as a leader stored it: base offset and partition leader epoch set.
std::vector<uint8_t> leader_batch(int64_t base, int records, int32_t epoch, int64_t ts = 1000) {
  auto b = make_batch(records, ts);
  patch_base_offset(b.data(), base);
  patch_leader_epoch(b.data(), epoch);
  return b;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_CASE("replicated batches keep their offsets, epochs and bytes") {
  TempDir dir;
  auto log = open_log(dir.path / "t-0");
  auto bytes = concat({leader_batch(0, 3, 4), leader_batch(3, 2, 6)});
  auto info = log->append_replicated(bytes);
  REQUIRE(info.ok());
  CHECK(info->first_offset.value() == 0);
  CHECK(info->last_offset.value() == 4);
  CHECK(info->records == 5);
  CHECK(log->log_end_offset().value() == 5);
  auto rr = log->read(Offset(0), 1 << 20, Offset(5), true);
  REQUIRE(rr.ok());
  CHECK(read_bytes(*rr->slice) == bytes);
  std::vector<int32_t> epochs;
  REQUIRE(log->for_each_batch(Offset(0), Offset(5), [&](std::span<const uint8_t>, const BatchHeader& h) {
    epochs.push_back(h.partition_leader_epoch);
    return Status{};
  }).ok());
  CHECK(epochs == std::vector<int32_t>{4, 6});
  // A LogAppendTime batch keeps the leader's timestamp even when the follower's topic says
  // LogAppendTime too (only a leader stamps).
  LogConfig lat;
  lat.message_timestamp_log_append = true;
  log->set_config(lat);
  auto b = leader_batch(5, 1, 6, 42);
  set_max_timestamp_and_type_log_append(b.data(), 4242);
  REQUIRE(log->append_replicated(b).ok());
  auto last = log->read(Offset(5), 1 << 20, Offset(6), true);
  CHECK(read_bytes(*last->slice) == b);
}

TEST_CASE("replicated batches must start at or after the log end and keep increasing") {
  TempDir dir;
  auto log = open_log(dir.path / "t-0");
  auto first = leader_batch(0, 3, 1);
  REQUIRE(log->append_replicated(first).ok());
  CHECK(log->append_replicated(leader_batch(2, 3, 1)).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  // Out of order inside one append: nothing of it is written.
  CHECK(log->append_replicated(concat({leader_batch(3, 2, 1), leader_batch(4, 1, 1)})).code() ==
        ErrorCode::OFFSET_OUT_OF_RANGE);
  CHECK(log->log_end_offset().value() == 3);
  // A gap (the leader compacted those offsets away) is fine, and readable across.
  REQUIRE(log->append_replicated(leader_batch(10, 2, 1)).ok());
  CHECK(log->log_end_offset().value() == 12);
  CHECK(read_offsets(*log, 3, 12) == std::vector<int64_t>{10, 11});
  auto torn = leader_batch(12, 2, 1);
  torn.pop_back();
  CHECK(log->append_replicated(torn).code() == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("replicated appends roll segments and reopen with the same end") {
  TempDir dir;
  LogConfig c;
  c.segment_bytes = 300;
  {
    auto log = open_log(dir.path / "t-0", c);
    for (int64_t base = 0; base < 40; base += 4) REQUIRE(log->append_replicated(leader_batch(base, 4, 2)).ok());
    CHECK(log->segment_count() > 2);
    CHECK(log->log_end_offset().value() == 40);
  }
  auto log = open_log(dir.path / "t-0", c, true);
  CHECK(log->log_end_offset().value() == 40);
  CHECK(read_offsets(*log, 36, 40) == std::vector<int64_t>{36, 37, 38, 39});
}

TEST_CASE("a log emptied to start over at an offset takes appends from there, also after a reopen") {
  TempDir dir;
  LogConfig c;
  c.segment_bytes = 300;
  {
    auto log = open_log(dir.path / "t-0", c);
    for (int64_t base = 0; base < 20; base += 4) REQUIRE(log->append_replicated(leader_batch(base, 4, 2)).ok());
    REQUIRE(log->truncate_fully_and_start_at(Offset(100)).ok());
    CHECK(log->log_start_offset().value() == 100);
    CHECK(log->log_end_offset().value() == 100);
    CHECK(log->segment_count() == 1);
    CHECK(log->read(Offset(4), 1000, Offset(100), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
    REQUIRE(log->append_replicated(leader_batch(100, 3, 3)).ok());
  }
  CHECK(files_with_extension(dir.path / "t-0", ".log").size() == 1);
  auto log = open_log(dir.path / "t-0", c, true);
  CHECK(log->log_start_offset().value() == 100);
  CHECK(log->log_end_offset().value() == 103);
  CHECK(read_offsets(*log, 100, 103) == std::vector<int64_t>{100, 101, 102});
  // Starting over at an offset that names an existing segment file works too.
  REQUIRE(log->truncate_fully_and_start_at(Offset(100)).ok());
  CHECK(log->log_end_offset().value() == 100);
  REQUIRE(log->append_replicated(leader_batch(100, 1, 3)).ok());
  CHECK(read_offsets(*log, 100, 101) == std::vector<int64_t>{100});
}
