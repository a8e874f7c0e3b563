// The partition log: offsets, reads and their limits, timestamps, config.
#include <catch2/catch.hpp>

#include "protocol/wire.h"
#include "storage/log.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

TEST_CASE("appends get contiguous offsets across segment rolls and read back whole batches") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 1000;
  c.index_interval_bytes = 200;
  auto log = open_log(t.path / "t-0", c);
  int64_t expect = 0;
  for (int i = 0; i < 50; ++i) {
    auto b = make_batch(5, 1000 * i);
    auto info = log->append(b, 3);
    REQUIRE(info.ok());
    REQUIRE(info->first_offset == Offset(expect));
    REQUIRE(info->last_offset == Offset(expect + 4));
    REQUIRE(info->records == 5);
    REQUIRE(info->bytes == static_cast<int64_t>(b.size()));
    expect += 5;
  }
  REQUIRE(log->log_end_offset() == Offset(250));
  REQUIRE(log->segment_count() > 5);
  // Every segment file holds whole batches and starts at its name's offset.
  for (const auto& f : files_with_extension(t.path / "t-0", ".log")) REQUIRE(fs::file_size(f) <= 1000);

  // Everything reads back in order, across all segments, one read per segment at most.
  std::vector<int64_t> all;
  for (int64_t next = 0; next < 250;) {
    auto part = read_offsets(*log, next, 250);
    REQUIRE(!part.empty());
    REQUIRE(part.front() == next);
    all.insert(all.end(), part.begin(), part.end());
    next = part.back() + 1;
  }
  for (size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == static_cast<int64_t>(i));

  // The stored batches carry the leader epoch given at append.
  auto r = log->read(Offset(0), 1 << 20, Offset(250), true);
  auto bytes = read_bytes(*r->slice);
  REQUIRE(read_batch_header(bytes)->partition_leader_epoch == 3);
}

TEST_CASE("a read from the middle of a batch returns that whole batch first") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 1000;
  c.index_interval_bytes = 100;
  auto log = open_log(t.path / "t-0", c);
  append_batches(*log, 50, 5, 0, 10);
  for (int64_t start : {0, 3, 17, 24, 101, 249}) {
    auto offs = read_offsets(*log, start, 250);
    INFO("start " << start);
    REQUIRE(offs.front() == start - start % 5);
    REQUIRE(offs.back() >= start);
  }
}

TEST_CASE("reads stop at max_bytes and max_offset, and min_one_batch returns one oversized batch") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  append_batches(*log, 10, 5, 0);
  auto one = log->read(Offset(0), 1 << 20, Offset(50), true);
  int64_t batch_size = read_batch_header(read_bytes(*one->slice))->total_size();

  // The high watermark bounds what is returned (exclusive), at a batch boundary.
  REQUIRE(read_offsets(*log, 0, 10).back() == 9);
  REQUIRE(read_offsets(*log, 12, 20) == std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  auto at_hw = log->read(Offset(20), 1 << 20, Offset(20), true);
  REQUIRE(at_hw.ok());
  REQUIRE_FALSE(at_hw->slice);

  // max_bytes: only whole batches that fit.
  auto two = log->read(Offset(0), static_cast<int32_t>(2 * batch_size + 10), Offset(50), true);
  REQUIRE(two->slice->size == 2 * batch_size);
  REQUIRE(two->records == 10);

  // Smaller than one batch: nothing, unless min_one_batch.
  auto none = log->read(Offset(0), 10, Offset(50), false);
  REQUIRE(none.ok());
  REQUIRE_FALSE(none->slice);
  auto forced = log->read(Offset(0), 10, Offset(50), true);
  REQUIRE(forced->slice->size == batch_size);
  REQUIRE(forced->records == 5);
  REQUIRE(forced->log_start_offset == Offset(0));
  REQUIRE(forced->log_end_offset == Offset(50));
}

TEST_CASE("reads outside the log are OFFSET_OUT_OF_RANGE and at the end are empty") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  auto empty = log->read(Offset(0), 100, Offset(0), true);
  REQUIRE(empty.ok());
  REQUIRE_FALSE(empty->slice);
  auto b = make_batch(3, 1);
  REQUIRE(log->append(b, 0).ok());
  REQUIRE(log->read(Offset(4), 100, Offset(3), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  REQUIRE(log->read(Offset(-1), 100, Offset(3), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  auto end = log->read(Offset(3), 100, Offset(3), true);
  REQUIRE(end.ok());
  REQUIRE_FALSE(end->slice);
  REQUIRE(end->log_end_offset == Offset(3));
}

TEST_CASE("a slice stays readable after the log rolls, is released and deletes the segment") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 300;
  c.retention_bytes = 0;
  auto log = open_log(t.path / "t-0", c);
  append_batches(*log, 2, 3, 100);
  auto r = log->read(Offset(0), 1 << 20, Offset(6), true);
  REQUIRE(r->slice);
  auto before = read_bytes(*r->slice);
  append_batches(*log, 6, 3, 200);  // rolls
  REQUIRE(log->release_if_idle(INT64_MAX, 0));
  REQUIRE(log->apply_retention(0) > 0);
  REQUIRE(log->log_start_offset() > Offset(0));
  // The slice's owner keeps the descriptor: the bytes are still there for sendfile.
  REQUIRE(read_bytes(*r->slice) == before);
  REQUIRE(offsets_in(before).front() == 0);
}

TEST_CASE("offset_for_timestamp finds the first record at or after the time") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 600;
  c.index_interval_bytes = 100;
  auto log = open_log(t.path / "t-0", c);
  for (int i = 0; i < 20; ++i) {
    auto b = make_batch(4, 10000 + 100 * i);  // records at 10000+100i .. +3
    REQUIRE(log->append(b, 0).ok());
  }
  REQUIRE(log->segment_count() > 2);
  for (int i = 0; i < 20; ++i) {
    for (int k = 0; k < 4; ++k) {
      auto f = log->offset_for_timestamp(10000 + 100 * i + k);
      REQUIRE(f);
      REQUIRE(f->offset == Offset(4 * i + k));
      REQUIRE(f->timestamp == 10000 + 100 * i + k);
    }
    // Between two batches: the first record of the next one.
    if (i < 19) REQUIRE(log->offset_for_timestamp(10000 + 100 * i + 50)->offset == Offset(4 * (i + 1)));
  }
  REQUIRE(log->offset_for_timestamp(0)->offset == Offset(0));
  REQUIRE_FALSE(log->offset_for_timestamp(99999));
}

TEST_CASE("max_timestamp names the record with the largest timestamp, also out of order") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 400;
  auto log = open_log(t.path / "t-0", c);
  REQUIRE_FALSE(log->max_timestamp());
  append_batches(*log, 5, 2, 1000, 10);
  // A batch whose middle record has the largest timestamp of the log.
  auto b = RecordBatchBuilder().add("a", "1", 5000).add("b", "2", 9000).add("c", "3", 6000).build();
  auto info = log->append(b, 0);
  REQUIRE(info.ok());
  append_batches(*log, 5, 2, 2000, 10);
  auto m = log->max_timestamp();
  REQUIRE(m);
  REQUIRE(m->timestamp == 9000);
  REQUIRE(m->offset == info->first_offset + 1);
}

TEST_CASE("message.timestamp.type=LogAppendTime stamps batches with the broker time") {
  TempDir t;
  LogConfig c;
  c.message_timestamp_log_append = true;
  auto log = open_log(t.path / "t-0", c);
  auto b = make_batch(3, 5);
  auto info = log->append(b, 0);
  REQUIRE(info.ok());
  REQUIRE(info->log_append_time > 1600000000000);  // a wall-clock time, not the records' 5
  REQUIRE(info->max_timestamp == info->log_append_time);
  auto bytes = read_bytes(*log->read(Offset(0), 1 << 20, Offset(3), true)->slice);
  auto h = read_batch_header(bytes);
  REQUIRE(h->timestamp_type_log_append());
  REQUIRE(h->max_timestamp == info->log_append_time);
  REQUIRE(validate_batches(bytes, 1 << 20).ok());  // the CRC was recomputed
  REQUIRE(log->offset_for_timestamp(info->log_append_time)->offset == Offset(0));
}

TEST_CASE("several batches in one append get consecutive offsets") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  auto a = make_batch(2, 1), b = make_batch(3, 5);
  std::vector<uint8_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  auto info = log->append(both, 0);
  REQUIRE(info.ok());
  REQUIRE(info->first_offset == Offset(0));
  REQUIRE(info->last_offset == Offset(4));
  REQUIRE(info->records == 5);
  REQUIRE(read_offsets(*log, 0, 5) == std::vector<int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("malformed appends are refused without changing the log") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  auto good = make_batch(2, 1);
  REQUIRE(log->append(good, 0).ok());
  std::vector<uint8_t> empty;
  REQUIRE(log->append(empty, 0).code() == ErrorCode::CORRUPT_MESSAGE);
  auto cut = make_batch(2, 1);
  cut.resize(cut.size() - 3);
  REQUIRE(log->append(cut, 0).code() == ErrorCode::CORRUPT_MESSAGE);
  auto negative = make_batch(2, 1);
  wire::store_be32(negative.data() + batch::kBatchLength, static_cast<uint32_t>(-12));
  REQUIRE(log->append(negative, 0).code() == ErrorCode::CORRUPT_MESSAGE);
  REQUIRE(log->log_end_offset() == Offset(2));
  REQUIRE(log->size_bytes() == static_cast<int64_t>(good.size()));
}

TEST_CASE("segment.ms rolls by message time at append and by age in the background") {
  TempDir t;
  LogConfig c;
  c.segment_ms = 1000;
  auto log = open_log(t.path / "t-0", c);
  append_batches(*log, 3, 1, 10000, 100);  // within 1000 ms of the first batch
  REQUIRE(log->segment_count() == 1);
  append_batches(*log, 1, 1, 11500);  // 1500 ms after the first batch's time
  REQUIRE(log->segment_count() == 2);
  log->maybe_roll(INT64_MAX / 2);  // long after the active segment was created
  REQUIRE(log->segment_count() == 3);
  log->maybe_roll(INT64_MAX / 2);  // an empty active segment never rolls
  REQUIRE(log->segment_count() == 3);
  // One read returns batches of one segment (a single file range), as Kafka's does.
  REQUIRE(read_offsets(*log, 0, 4) == std::vector<int64_t>{0, 1, 2});
  REQUIRE(read_offsets(*log, 3, 4) == std::vector<int64_t>{3});
}

TEST_CASE("a config change applies to later appends and earlier references stay valid") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  const LogConfig& before = log->config();
  REQUIRE(before.segment_bytes == LogConfig{}.segment_bytes);
  LogConfig small;
  small.segment_bytes = 200;
  log->set_config(small);
  REQUIRE(before.segment_bytes == LogConfig{}.segment_bytes);
  REQUIRE(log->config().segment_bytes == 200);
  append_batches(*log, 6, 2, 0);
  REQUIRE(log->segment_count() >= 3);
}

TEST_CASE("an idle log gives back its descriptor and index mappings and reopens on use") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  append_batches(*log, 3, 2, 0);
  REQUIRE_FALSE(log->release_if_idle(0, 1000));  // just used
  REQUIRE(log->release_if_idle(INT64_MAX, 1000));
  REQUIRE_FALSE(log->release_if_idle(INT64_MAX, 1000));  // nothing left to release
  REQUIRE(read_offsets(*log, 0, 6) == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  append_batches(*log, 1, 2, 10);
  REQUIRE(read_offsets(*log, 6, 8) == std::vector<int64_t>{6, 7});
}

TEST_CASE("flush makes the recovery point reach the log end; rolled segments flush on their own") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 300;
  auto log = open_log(t.path / "t-0", c);
  REQUIRE(log->recovery_point() == Offset(0));
  append_batches(*log, 8, 2, 0);
  REQUIRE(log->dirty());
  REQUIRE(log->segment_count() > 1);
  REQUIRE(log->flush_rolled_segments().ok());
  REQUIRE(log->recovery_point() > Offset(0));
  REQUIRE(log->recovery_point() < log->log_end_offset());
  REQUIRE(log->dirty());  // the active segment is not synced yet
  REQUIRE(log->flush().ok());
  REQUIRE(log->recovery_point() == log->log_end_offset());
  REQUIRE_FALSE(log->dirty());
}

TEST_CASE("a closed log refuses appends and reads; remove deletes its directory") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  append_batches(*log, 2, 2, 0);
  log->close();
  auto b = make_batch(1, 0);
  REQUIRE(log->append(b, 0).code() == ErrorCode::KAFKA_STORAGE_ERROR);
  REQUIRE(log->read(Offset(0), 100, Offset(4), true).code() == ErrorCode::KAFKA_STORAGE_ERROR);

  auto other = open_log(t.path / "x-1");
  append_batches(*other, 2, 2, 0);
  REQUIRE(other->remove().ok());
  REQUIRE_FALSE(fs::exists(t.path / "x-1"));
  for (const auto& e : fs::directory_iterator(t.path)) REQUIRE(e.path().filename() != "x-1");
  REQUIRE(fs::exists(t.path / "t-0"));
}
