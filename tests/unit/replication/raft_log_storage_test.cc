// The metadata quorum's storage on a real partition log: entries are Kafka batches (epoch =
// partition leader epoch, markers are LeaderChange control batches), the vote survives a
// reopen, truncation drops whole entries from log and memory alike.
#include <catch2/catch.hpp>

#include "../storage/storage_test_util.h"
#include "protocol/record_batch.h"
#include "replication/raft/log_storage.h"
#include "storage/files.h"

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

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// A snapshot whose state is one batch of `tag` records, ending at record offset `end_record`.
std::string snapshot_of(int64_t end_record, const std::string& tag) {
  return raft::LogRaftStorage::frame_snapshot(end_record, {bytes_of(batch_of(2, tag))});
}

size_t snapshot_files(const std::filesystem::path& dir) {
  size_t n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().extension() == ".checkpoint") ++n;
  return n;
}

}  // namespace

TEST_CASE("a metadata snapshot frames the state with its end record offset, and damage is refused") {
  std::string data = snapshot_of(42, "s");
  auto parsed = raft::LogRaftStorage::parse_snapshot(data);
  REQUIRE(parsed.ok());
  CHECK(parsed->end_record_offset == 42);
  REQUIRE(parsed->batches.size() == 1);
  CHECK(std::string(parsed->batches[0].begin(), parsed->batches[0].end()) == batch_of(2, "s").substr(0, parsed->batches[0].size()));

  std::string flipped = data;
  flipped[flipped.size() / 2] ^= 0x20;
  CHECK(raft::LogRaftStorage::parse_snapshot(flipped).error().code == ErrorCode::CORRUPT_MESSAGE);
  CHECK(raft::LogRaftStorage::parse_snapshot(data.substr(0, data.size() - 10)).error().code == ErrorCode::CORRUPT_MESSAGE);
  // The state alone, without header and footer, is not a snapshot.
  CHECK(raft::LogRaftStorage::parse_snapshot(batch_of(2, "s")).error().code == ErrorCode::CORRUPT_MESSAGE);
  CHECK(raft::LogRaftStorage::parse_snapshot("").error().code == ErrorCode::CORRUPT_MESSAGE);
}

TEST_CASE("saving a snapshot drops the entries below it; a reopen starts from the snapshot") {
  TempDir t;
  auto dir = t.path / "__cluster_metadata-0";
  int64_t end_record = 0;
  {
    auto s = open_storage(dir);
    s->set_election_state(2, 1);
    s->append(raft::Entry{1, batch_of(3, "a")});  // records 0-2
    s->append(raft::Entry{2, batch_of(2, "b")});  // 3-4
    s->append(raft::Entry{2, batch_of(1, "c")});  // 5
    end_record = s->last_record_offset(1) + 1;
    CHECK(end_record == 5);
    std::string snap = snapshot_of(end_record, "state");
    s->save_snapshot(raft::SnapshotId{2, 2}, snap);
    REQUIRE(s->failure().ok());
    CHECK(s->start_offset() == 2);
    CHECK(s->end_offset() == 3);
    CHECK(s->snapshot() == raft::SnapshotId{2, 2});
    CHECK(s->snapshot_data() == snap);
    CHECK(s->last_record_offset(1) == 4);  // below the start: the snapshot's last record
    CHECK(s->last_record_offset(2) == 5);
    CHECK(s->entry(2).data.substr(61) == batch_of(1, "c").substr(61));
    CHECK(std::filesystem::exists(dir / "00000000000000000002-0000000002.checkpoint"));
  }
  {
    auto s = open_storage(dir);
    CHECK(s->start_offset() == 2);
    CHECK(s->end_offset() == 3);
    CHECK(s->snapshot() == raft::SnapshotId{2, 2});
    CHECK(s->last_record_offset(2) == 5);
    CHECK(s->epoch() == 2);
    // A newer snapshot replaces the old file.
    s->append(raft::Entry{2, batch_of(2, "d")});  // 6-7
    s->save_snapshot(raft::SnapshotId{4, 2}, snapshot_of(8, "state2"));
    REQUIRE(s->failure().ok());
    CHECK(s->start_offset() == 4);
    CHECK(s->end_offset() == 4);
    CHECK(snapshot_files(dir) == 1);
    CHECK(s->last_record_offset(3) == 7);
    s->append(raft::Entry{3, batch_of(1, "e")});
    CHECK(s->last_record_offset(4) == 8);
  }
  {
    auto s = open_storage(dir);
    CHECK(s->start_offset() == 4);
    CHECK(s->end_offset() == 5);
    CHECK(s->entry(4).epoch == 3);
  }
}

TEST_CASE("a snapshot that does not match its entry's end is refused as a storage failure") {
  TempDir t;
  auto s = open_storage(t.path / "__cluster_metadata-0");
  s->append(raft::Entry{1, batch_of(3, "a")});
  s->save_snapshot(raft::SnapshotId{1, 1}, snapshot_of(7, "state"));  // the entry ends at record 3
  CHECK_FALSE(s->failure().ok());
  CHECK(s->start_offset() == 0);
}

TEST_CASE("installing the leader's snapshot empties the log, which goes on at the snapshot's end") {
  TempDir t;
  auto dir = t.path / "__cluster_metadata-0";
  {
    auto s = open_storage(dir);
    s->append(raft::Entry{1, batch_of(2, "old")});  // an uncommitted tail the leader never had
    std::string snap = snapshot_of(100, "leader");
    s->install_snapshot(raft::SnapshotId{40, 3}, snap);
    REQUIRE(s->failure().ok());
    CHECK(s->start_offset() == 40);
    CHECK(s->end_offset() == 40);
    CHECK(s->last_record_offset(39) == 99);
    CHECK(s->last_record_offset(s->end_offset() - 1) == 99);
    s->append(raft::Entry{3, batch_of(1, "next")});
    CHECK(s->last_record_offset(40) == 100);
  }
  {
    auto s = open_storage(dir);
    CHECK(s->start_offset() == 40);
    CHECK(s->end_offset() == 41);
    CHECK(s->epoch() == 3);
    CHECK(s->snapshot() == raft::SnapshotId{40, 3});
  }
}

TEST_CASE("a log that does not line up with its snapshot restarts at the snapshot's end") {
  // A follower that died after writing the leader's snapshot but before emptying its log: a
  // batch of the old log reaches across the snapshot's end.
  TempDir t;
  auto dir = t.path / "__cluster_metadata-0";
  {
    auto s = open_storage(dir);
    s->append(raft::Entry{1, batch_of(5, "old")});  // records 0-4
  }
  REQUIRE(storage::write_file_atomically(dir / "00000000000000000007-0000000002.checkpoint", snapshot_of(3, "leader"))
              .ok());
  auto s = open_storage(dir);
  CHECK(s->start_offset() == 7);
  CHECK(s->end_offset() == 7);
  s->append(raft::Entry{2, batch_of(1, "new")});
  CHECK(s->last_record_offset(7) == 3);
}
