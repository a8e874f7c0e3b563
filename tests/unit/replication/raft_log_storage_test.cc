// The metadata quorum's storage on a real partition log: entries are Kafka batches (epoch =
// partition leader epoch, markers are LeaderChange control batches), the vote survives a
// reopen, truncation drops whole entries from log and memory alike.
#include <catch2/catch.hpp>

#include "../storage/storage_test_util.h"
#include "protocol/record_batch.h"
#include "replication/raft/log_storage.h"

using namespace kb;
using kb::storage::test::TempDir;

namespace {

std::shared_ptr<storage::Log> open_log(const std::filesystem::path& dir) {
  auto log = storage::Log::open(dir, storage::LogConfig{}, false);
  REQUIRE(log.ok());
  return std::shared_ptr<storage::Log>(std::move(log.value()));
}

std::string batch_of(int records, const std::string& tag) {
  RecordBatchBuilder b;
  for (int i = 0; i < records; ++i) b.add(std::nullopt, tag + std::to_string(i), 1000 + i);
  auto bytes = b.build();
  return std::string(bytes.begin(), bytes.end());
}

std::unique_ptr<raft::LogRaftStorage> open_storage(const std::filesystem::path& dir) {
  auto s = raft::LogRaftStorage::open(open_log(dir));
  REQUIRE(s.ok());
  return std::move(s.value());
}

}  // namespace

TEST_CASE("raft entries are whole batches of the metadata log, with their epochs, across a reopen") {
  TempDir t;
  auto dir = t.path / "__cluster_metadata-0";
  {
    auto s = open_storage(dir);
    CHECK(s->epoch() == 0);
    CHECK(s->voted_for() == -1);
    CHECK(s->end_offset() == 0);
    CHECK(s->last_record_offset(-1) == -1);
    s->set_election_state(3, 2);
    s->append(raft::Entry{3, ""});  // the leader's marker
    s->append(raft::Entry{3, batch_of(4, "a")});
    s->append(raft::Entry{3, batch_of(2, "b")});
    REQUIRE(s->failure().ok());
    CHECK(s->end_offset() == 3);
    CHECK(raft::LogRaftStorage::is_control(s->entry(0)));
    CHECK_FALSE(raft::LogRaftStorage::is_control(s->entry(1)));
    // Record offsets: the marker is offset 0, then 1..4, then 5..6.
    CHECK(s->last_record_offset(0) == 0);
    CHECK(s->last_record_offset(1) == 4);
    CHECK(s->last_record_offset(2) == 6);
  }
  auto s = open_storage(dir);
  CHECK(s->epoch() == 3);
  CHECK(s->voted_for() == 2);
  REQUIRE(s->end_offset() == 3);
  for (int64_t i = 0; i < 3; ++i) CHECK(s->entry(i).epoch == 3);
  auto h = read_batch_header(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s->entry(2).data.data()),
                                                      s->entry(2).data.size()));
  REQUIRE(h.ok());
  CHECK(h->base_offset == 5);
  CHECK(h->partition_leader_epoch == 3);
  CHECK(h->records_count == 2);
  CHECK(s->last_record_offset(2) == 6);
}

TEST_CASE("raft truncation drops whole entries, and appends continue from there") {
  TempDir t;
  auto dir = t.path / "m-0";
  {
    auto s = open_storage(dir);
    s->append(raft::Entry{1, batch_of(3, "x")});
    s->append(raft::Entry{1, batch_of(3, "y")});
    s->append(raft::Entry{2, batch_of(3, "z")});
    s->truncate(1);
    CHECK(s->end_offset() == 1);
    s->truncate(5);  // past the end: nothing
    CHECK(s->end_offset() == 1);
    s->append(raft::Entry{4, batch_of(1, "w")});
    CHECK(s->last_record_offset(1) == 3);
  }
  auto s = open_storage(dir);
  REQUIRE(s->end_offset() == 2);
  CHECK(s->entry(0).epoch == 1);
  CHECK(s->entry(1).epoch == 4);
  // A state file older than the log (lost with a crash) cannot make us vote in an epoch we
  // already hold entries of.
  CHECK(s->epoch() == 4);
}

TEST_CASE("an unreadable quorum-state file is an error, not a forgotten vote") {
  TempDir t;
  auto dir = t.path / "m-0";
  open_storage(dir)->set_election_state(2, 1);
  {
    std::ofstream out(dir / "quorum-state", std::ios::trunc);
    out << "{garbage";
  }
  auto s = raft::LogRaftStorage::open(open_log(dir));
  CHECK(s.code() == ErrorCode::CORRUPT_MESSAGE);
}
