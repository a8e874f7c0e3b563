// The aborted-transaction index (.txnindex): Kafka's 34-byte entry format, entries kept with
// the segment holding their ABORT marker, found again for a read_committed fetch (Kafka's
// collectAbortedTransactions), kept across a reopen, cut by truncation and deleted with their
// segment.
#include <catch2/catch.hpp>

#include <fstream>

#include "storage/txn_index.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

namespace {

std::shared_ptr<Log> small_segments(const fs::path& dir) {
  LogConfig c;
  c.segment_bytes = 300;  // a couple of batches per segment
  auto log = Log::open(dir, c, false);
  REQUIRE(log.ok());
  return std::shared_ptr<Log>(std::move(log.value()));
}

void append_records(Log& log, int batches) {
  for (int i = 0; i < batches; ++i) {
    auto b = make_batch(2, 1000 + i);
    REQUIRE(log.append(b, 0).ok());
  }
}

}  // namespace

TEST_CASE("a txnindex entry is Kafka's 34 bytes: version 0, producer id, first, last and last stable offset") {
  AbortedTxn t{0x0102030405060708, 10, 20, 21};
  uint8_t e[kTxnEntrySize];
  encode_txn_entry(t, e);
  const uint8_t expected[kTxnEntrySize] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 10,
                                           0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 21};
  CHECK(std::equal(e, e + kTxnEntrySize, expected));
  CHECK(decode_txn_entry(std::span<const uint8_t, kTxnEntrySize>(e, kTxnEntrySize)) == t);
  e[1] = 1;  // another version
  CHECK_FALSE(decode_txn_entry(std::span<const uint8_t, kTxnEntrySize>(e, kTxnEntrySize)));
}

TEST_CASE("a torn last txnindex entry is ignored and the next append starts at a whole entry") {
  TempDir dir;
  const fs::path p = dir.path / "00000000000000000000.txnindex";
  REQUIRE(append_txn_index(p, {1, 0, 5, 6}).ok());
  {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    out.write("\0\0\0", 3);  // a crash in the middle of an append
  }
  auto read = read_txn_index(p);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<AbortedTxn>{{1, 0, 5, 6}});
  REQUIRE(append_txn_index(p, {2, 7, 9, 10}).ok());
  CHECK(fs::file_size(p) == 2 * kTxnEntrySize);
  CHECK(*read_txn_index(p) == std::vector<AbortedTxn>{{1, 0, 5, 6}, {2, 7, 9, 10}});
}

TEST_CASE("aborted transactions overlapping a fetch are found from the segment of the fetch offset on") {
  TempDir dir;
  auto log = small_segments(dir.path);
  append_records(*log, 10);  // offsets 0..19 over several segments
  REQUIRE(log->segment_count() > 3);
  // Two producers' aborted transactions, the second spanning segments; marker order.
  REQUIRE(log->append_aborted_txn({7, 2, 5, 6}).ok());
  REQUIRE(log->append_aborted_txn({8, 4, 13, 14}).ok());
  REQUIRE(log->append_aborted_txn({7, 15, 17, 18}).ok());
  // Each entry went to the segment of its marker (5, 13 and 17: two or three segments).
  auto txn_files = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) n += e.path().extension() == ".txnindex";
    return n;
  };
  CHECK(txn_files() >= 2);

  auto pids = [&](int64_t from, int64_t upper) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const auto& t : log->collect_aborted_txns(Offset(from), Offset(upper))) out.emplace_back(t.producer_id, t.first_offset);
    return out;
  };
  using V = std::vector<std::pair<int64_t, int64_t>>;
  CHECK(pids(0, 20) == V{{7, 2}, {8, 4}, {7, 15}});
  CHECK(pids(6, 20) == V{{8, 4}, {7, 15}});   // 7's first one ended before 6
  CHECK(pids(0, 3) == V{{7, 2}});             // the others start at or after 3
  CHECK(pids(14, 15) == V{});
  CHECK(pids(18, 20) == V{});

  // Kept across a reopen.
  log.reset();
  log = small_segments(dir.path);
  CHECK(pids(0, 20) == V{{7, 2}, {8, 4}, {7, 15}});

  // Truncation cuts the entries whose marker went; retention takes whole segments' files.
  REQUIRE(log->truncate_to(Offset(16)).ok());
  CHECK(pids(0, 20) == V{{7, 2}, {8, 4}});
  REQUIRE(log->advance_log_start(Offset(8)).ok());
  CHECK(pids(0, 20) == V{{8, 4}});
  CHECK(txn_files() == 1);
}

TEST_CASE("rebuilding the txnindex from an offset replaces only the entries from there") {
  TempDir dir;
  auto log = small_segments(dir.path);
  append_records(*log, 10);
  REQUIRE(log->append_aborted_txn({7, 2, 5, 6}).ok());
  REQUIRE(log->append_aborted_txn({8, 9, 13, 14}).ok());  // to be lost
  REQUIRE(log->rebuild_txn_index_from(Offset(10), {{9, 11, 16, 17}}).ok());
  auto all = log->collect_aborted_txns(Offset(0), Offset(20));
  CHECK(all == std::vector<AbortedTxn>{{7, 2, 5, 6}, {9, 11, 16, 17}});
  log.reset();
  log = small_segments(dir.path);
  CHECK(log->collect_aborted_txns(Offset(0), Offset(20)) == all);
  // Emptied, the file goes.
  REQUIRE(log->rebuild_txn_index_from(Offset(0), {}).ok());
  CHECK(log->collect_aborted_txns(Offset(0), Offset(20)).empty());
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK_FALSE(e.path().extension() == ".txnindex");
}

TEST_CASE("a log opened after a crash reports where its recovery scan began") {
  TempDir dir;
  {
    auto log = small_segments(dir.path);
    append_records(*log, 6);
    CHECK(log->recovered_from() == log->log_end_offset());  // nothing recovered
  }
  LogConfig c;
  c.segment_bytes = 300;
  LogOpenOptions o;
  o.recover = true;
  o.recovery_point = 6;
  auto log = Log::open(dir.path, c, o);
  REQUIRE(log.ok());
  CHECK((*log)->recovered_from().value() <= 6);
  CHECK((*log)->recovered_from().value() > 0);
}
