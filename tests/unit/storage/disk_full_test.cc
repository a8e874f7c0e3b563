// A file system without room: index space is reserved before it is written (never a SIGBUS
// through a mapping), a log recovers without growing a file, writes fail with
// KAFKA_STORAGE_ERROR while reads go on, and writes resume once there is room again.
//
// Two ways to run out of room: RLIMIT_FSIZE (any user: a file cannot grow, EFBIG) and a small
// tmpfs mounted by the test (root only: a real ENOSPC, and a real SIGBUS if a mapped page
// were not reserved); the tmpfs cases say so and pass when they cannot mount.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "protocol/wire.h"
#include "storage/index.h"
#include "storage/log.h"
#include "storage/log_dir_state.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

namespace {

// A small tmpfs of its own (mounting needs root); `filler` takes whatever room is left.
struct SmallTmpfs {
  TempDir tmp;
  fs::path path = tmp.path / "fs";
  fs::path filler = path / "filler";
  bool mounted = false;
  explicit SmallTmpfs(size_t bytes) {
    fs::create_directory(path);
    std::string opts = "size=" + std::to_string(bytes);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~SmallTmpfs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  // Appends to the filler until the file system has no room at all.
  void fill() {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    std::vector<char> chunk(64 << 10, 'x');
    for (size_t n : {chunk.size(), size_t(4096), size_t(1)})
      while (::write(fd, chunk.data(), n) == static_cast<ssize_t>(n)) {
      }
    ::close(fd);
  }
  void free_filler() { fs::remove(filler); }
};

std::vector<uint8_t> time_entry(int64_t ts, int32_t relative_offset) {
  std::vector<uint8_t> e(kTimeEntrySize);
  wire::store_be64(e.data(), static_cast<uint64_t>(ts));
  wire::store_be32(e.data() + 8, static_cast<uint32_t>(relative_offset));
  return e;
}

// Every record from offset 0 to `end`, segment after segment (one read returns one segment's).
std::vector<int64_t> read_everything(const Log& log, int64_t end) {
  std::vector<int64_t> all;
  while (static_cast<int64_t>(all.size()) < end) {
    auto some = read_offsets(log, static_cast<int64_t>(all.size()), end);
    REQUIRE_FALSE(some.empty());
    all.insert(all.end(), some.begin(), some.end());
  }
  return all;
}

std::vector<int64_t> offsets_to(int64_t end) {
  std::vector<int64_t> v(static_cast<size_t>(end));
  for (int64_t i = 0; i < end; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

// Appends batches of 2 records until one fails (the file system is full); returns that error.
Error append_until_refused(Log& log, int64_t ts) {
  for (int i = 0; i < 100000; ++i) {
    auto b = make_batch(2, ts + i);
    auto r = log.append(b, 0);
    if (!r.ok()) return r.error();
  }
  FAIL("appends never failed");
  return {};
}

}  // namespace

TEST_CASE("an index whose disk space cannot be reserved is an error, not a mapping") {
  TempDir t;
  fs::path path = t.path / "00000000000000000000.index";
  FileSizeLimit no_growth(0);
  Index index(path, kOffsetEntrySize);
  auto st = index.map_writable(1 << 20);
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == ErrorCode::KAFKA_STORAGE_ERROR);
  CHECK(is_out_of_space(st.error()));
  CHECK(st.error().message.find(path.string()) != std::string::npos);
  CHECK_FALSE(index.mapped());
  // An empty file left behind would be trusted (as an index with no entries) by a clean open.
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("on a full tmpfs index entries stop where the reservation ends and the final entry keeps its slot") {
  SmallTmpfs tmpfs(1 << 20);
  if (!tmpfs.mounted) {
    WARN("skipped: mounting a tmpfs needs root (" << std::strerror(errno) << ")");
    return;
  }
  fs::path path = tmpfs.path / "00000000000000000000.timeindex";
  Index index(path, kTimeEntrySize);
  REQUIRE(index.map_writable(512 << 10).ok());  // a sparse 512 KiB file; its first pages reserved
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  const size_t reserved = static_cast<size_t>(st.st_blocks) * 512;
  REQUIRE(reserved >= 2 * kTimeEntrySize);
  REQUIRE(reserved < (512u << 10));
  tmpfs.fill();  // the rest of the mapping can no longer be backed: a store there is a SIGBUS
  int32_t n = 0;
  Status s;
  while ((s = index.append(time_entry(1000 + n, n).data())).ok()) REQUIRE(++n < 100000);
  CHECK(is_out_of_space(s.error()));
  CHECK(index.count() == reserved / kTimeEntrySize - 1);
  index.append_final(time_entry(999999, n).data());
  CHECK(index.count() == reserved / kTimeEntrySize);
  REQUIRE(index.unmap(true).ok());
  std::string why;
  REQUIRE(index.load_sealed(1 << 30, why));
  uint8_t last[kTimeEntrySize];
  REQUIRE(index.read_entry(index.count() - 1, last));
  CHECK(decode_time_entry(last).timestamp == 999999);
}

TEST_CASE("recovery that cannot grow a file keeps the data, serves reads and refuses writes until there is room") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 600;
  c.index_interval_bytes = 100;
  {
    auto log = open_log(dir, c);
    append_batches(*log, 30, 2, 1000);
  }
  const size_t segments = files_with_extension(dir, ".log").size();
  REQUIRE(segments > 3);
  auto state = std::make_shared<LogDirState>(t.path);
  LogOpenOptions o;
  o.recover = true;  // every segment is scanned and its indexes rebuilt: that needs room
  o.dir_state = state;
  std::unique_ptr<Log> log;
  {
    FileSizeLimit no_growth(0);
    auto opened = Log::open(dir, c, o);
    INFO((opened.ok() ? std::string() : opened.error().message));
    REQUIRE(opened.ok());
    log = std::move(opened.value());
    CHECK(state->health() == LogDirState::Health::full);
    REQUIRE(log->log_end_offset() == Offset(60));
    for (int64_t start = 0; start < 60; start += 7) REQUIRE(read_offsets(*log, start, 60).front() == start - start % 2);
    REQUIRE(log->offset_for_timestamp(1000 + 21)->offset == Offset(41));
    auto b = make_batch(2, 5000);
    auto refused = log->append(b, 0);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.code() == ErrorCode::KAFKA_STORAGE_ERROR);
    CHECK(log->log_end_offset() == Offset(60));
  }
  auto b = make_batch(2, 5000);
  REQUIRE(log->append(b, 0).ok());
  CHECK(state->online());
  REQUIRE(read_offsets(*log, 58, 62) == std::vector<int64_t>{58, 59, 60, 61});
  log.reset();
  // The indexes left out are rebuilt by the next open that has room.
  auto again = open_log(dir, c);
  CHECK(files_with_extension(dir, ".index").size() == segments);
  CHECK(files_with_extension(dir, ".timeindex").size() == segments);
  CHECK(again->offset_for_timestamp(1000 + 21)->offset == Offset(41));
}

TEST_CASE("a log on a full tmpfs refuses writes, closes without a fault, recovers, and writes once space is freed") {
  SmallTmpfs tmpfs(2 << 20);
  if (!tmpfs.mounted) {
    WARN("skipped: mounting a tmpfs needs root (" << std::strerror(errno) << ")");
    return;
  }
  fs::path dir = tmpfs.path / "t-0";
  LogConfig c;
  c.segment_bytes = 16 << 10;
  c.index_interval_bytes = 200;
  auto state = std::make_shared<LogDirState>(tmpfs.path);
  LogOpenOptions o;
  o.dir_state = state;
  int64_t end = 0;
  {
    auto log = std::move(Log::open(dir, c, o).value());
    append_batches(*log, 600, 2, 1000);
    tmpfs.fill();
    Error refused = append_until_refused(*log, 5000);
    CHECK(refused.code == ErrorCode::KAFKA_STORAGE_ERROR);
    CHECK(is_out_of_space(refused));
    CHECK(state->health() == LogDirState::Health::full);
    end = log->log_end_offset().value();
    REQUIRE(end >= 1200);
    REQUIRE(read_everything(*log, end) == offsets_to(end));
    // Closing (what SIGTERM does) seals the active segment: its final time-index entry goes
    // into the slot reserved for it, not into a page the file system cannot back.
    log->close();
  }
  // A restart after a crash on the still-full file system.
  tmpfs.fill();
  o.recover = true;
  auto opened = Log::open(dir, c, o);
  INFO((opened.ok() ? std::string() : opened.error().message));
  REQUIRE(opened.ok());
  auto log = std::move(opened.value());
  REQUIRE(log->log_end_offset() == Offset(end));
  REQUIRE(read_everything(*log, end) == offsets_to(end));
  CHECK(log->offset_for_timestamp(1000 + 450)->offset == Offset(899));  // batch 449: 1449, 1450
  tmpfs.fill();
  CHECK(append_until_refused(*log, 9000).code == ErrorCode::KAFKA_STORAGE_ERROR);
  const int64_t before = log->log_end_offset().value();
  tmpfs.free_filler();
  auto b = make_batch(2, 9999);
  auto info = log->append(b, 0);
  REQUIRE(info.ok());
  CHECK(info->first_offset == Offset(before));
  CHECK(state->online());
}

TEST_CASE("a log with a reserve (the metadata log's) keeps appending on a full tmpfs until the reserve is used") {
  SmallTmpfs tmpfs(1 << 20);
  if (!tmpfs.mounted) {
    WARN("skipped: mounting a tmpfs needs root (" << std::strerror(errno) << ")");
    return;
  }
  LogConfig reserved;
  reserved.reserve_bytes = 64 << 10;
  auto with_reserve = open_log(tmpfs.path / "r-0", reserved);
  auto without = open_log(tmpfs.path / "n-0");
  append_batches(*with_reserve, 1, 2, 0);  // the active segments are open, the reserve taken
  append_batches(*without, 1, 2, 0);
  tmpfs.fill();
  const int64_t batch_bytes = static_cast<int64_t>(make_batch(2, 0).size());
  CHECK(append_until_refused(*without, 100).code == ErrorCode::KAFKA_STORAGE_ERROR);
  const int64_t before = with_reserve->log_end_offset().value();
  CHECK(append_until_refused(*with_reserve, 100).code == ErrorCode::KAFKA_STORAGE_ERROR);
  const int64_t appended = (with_reserve->log_end_offset().value() - before) / 2;
  CHECK(appended * batch_bytes > (64 << 10) - 2 * batch_bytes);  // the reserve, less what the first batch took
  REQUIRE(read_everything(*with_reserve, with_reserve->log_end_offset().value()) ==
          offsets_to(with_reserve->log_end_offset().value()));
}
